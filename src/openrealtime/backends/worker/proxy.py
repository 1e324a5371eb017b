"""The backend Protocols, served by model worker processes.

Each proxy has the shape of the in-process backend it stands for, so the runtime does
not know where a model runs. A crash of the worker surfaces as a :class:`BackendError`
from the call that was waiting on it (code ``worker_crashed``).
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import AsyncIterator
from typing import Any

import numpy as np

from ..base import (
    BackendError,
    EchoOutput,
    Float32Array,
    Int16Array,
    LLMChunk,
    LLMRequest,
    Transcript,
)
from .supervisor import Worker

_stream_ids = itertools.count(1)


class _Proxy:
    """What every proxy shares: its worker's health, and closing it."""

    worker: Worker

    def health(self) -> dict[str, Any]:
        return self.worker.health()

    async def aclose(self) -> None:
        await asyncio.to_thread(self.worker.close)


class WorkerVadStream:
    """One connection's VAD state, kept in the worker under a stream id."""

    def __init__(self, worker: Worker) -> None:
        self._worker = worker
        self._id = f"{os.getpid()}-{next(_stream_ids)}"

    async def score(self, windows: list[Float32Array]) -> list[float]:
        """Speech probabilities of consecutive 512-sample windows (one round trip)."""
        result: list[float] = await self._worker.call("score", self._id, windows)
        return result

    def probability(self, window: Float32Array) -> float:
        raise BackendError("the VAD runs in a worker process: use score()", code="vad_error")

    def reset(self) -> None:
        # A new id is a fresh state; the old one ages out of the worker's LRU table.
        self._id = f"{os.getpid()}-{next(_stream_ids)}"

    async def aclose(self) -> None:
        self._worker.notify("close", self._id)


class WorkerVAD(_Proxy):
    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.window_samples: int = int(worker.info.get("window_samples", 512))
        self.name = str(worker.info.get("name", "VAD worker"))

    def stream(self) -> WorkerVadStream:
        return WorkerVadStream(self.worker)


class WorkerSTT(_Proxy):
    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.name = str(worker.info.get("name", "STT worker"))
        self.timestamps = bool(worker.info.get("timestamps", False))

    async def transcribe(self, audio: Float32Array, *, language: str | None = None,
                         prompt: str | None = None, timestamps: bool = False) -> Transcript:
        extra = {"timestamps": True} if timestamps else {}
        result: Transcript = await self.worker.call(
            "transcribe", np.ascontiguousarray(audio, dtype=np.float32), language=language,
            prompt=prompt, **extra)
        return result


class WorkerLLM(_Proxy):
    """The local LLM in its worker. Token counts here are a conservative estimate.

    The runtime uses :meth:`count_tokens` only to choose which old turns to leave out of
    the prompt; over-counting trims a little early, and the worker trims again with the
    real tokenizer if the prompt still does not fit.
    """

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.name = str(worker.info.get("name", "LLM worker"))
        self.context_tokens: int | None = worker.info.get("context_tokens")

    def count_tokens(self, text: str) -> int:
        return len(text) // 3 + 1  # SmolLM2's BPE averages ~4 characters a token in English

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        async for chunk in self.worker.stream("stream", request, ahead=2):
            yield chunk


class WorkerTTS(_Proxy):
    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.sample_rate: int = int(worker.info.get("sample_rate", 22050))
        self.name = str(worker.info.get("name", "TTS worker"))

    async def synthesize(self, text: str, *, voice: str | None = None,
                         speed: float = 1.0) -> AsyncIterator[Int16Array]:
        async for chunk in self.worker.stream("synthesize", text, voice=voice, speed=speed):
            yield chunk


class WorkerVision(_Proxy):
    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.name = str(worker.info.get("name", "vision worker"))

    async def describe(self, image: bytes, mime: str, *, detail: str = "auto") -> str:
        result: str = await self.worker.call("describe", image, mime, detail=detail)
        return result


class WorkerTurn(_Proxy):
    """The end-of-turn model in its worker."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.name = str(worker.info.get("name", "end-of-turn worker"))

    async def score(self, audio: Float32Array) -> float:
        result: float = await self.worker.call(
            "score", np.ascontiguousarray(audio, dtype=np.float32))
        return result


class WorkerEchoStream:
    """One session's echo canceller, kept in the worker under a stream id."""

    def __init__(self, worker: Worker) -> None:
        self._worker = worker
        self._id = f"{os.getpid()}-{next(_stream_ids)}"

    async def process(self, mic: Float32Array, far: Float32Array,
                      lead: Float32Array | None = None, denoise: bool = False) -> EchoOutput:
        result: EchoOutput = await self._worker.call("process", self._id, mic, far, lead,
                                                     denoise)
        return result

    async def aclose(self) -> None:
        self._worker.notify("close", self._id)


class WorkerEcho(_Proxy):
    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.name = str(worker.info.get("name", "echo worker"))
        self.latency_samples = int(worker.info.get("latency_samples", 0))

    def stream(self) -> WorkerEchoStream:
        return WorkerEchoStream(self.worker)
