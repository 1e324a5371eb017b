"""Scripted backends for tests and the overhead benchmark. Never the product path."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import numpy as np

from .base import (
    Backends,
    EchoOutput,
    Finished,
    Float32Array,
    Int16Array,
    LLMChunk,
    LLMRequest,
    Segment,
    TextDelta,
    ToolCallDelta,
    Transcript,
)

# What a fake keeps of its calls, for tests to inspect: the latest ones only, so a fake
# server's memory stays flat in a soak benchmark.
RECORDED = 16


class _EnergyStream:
    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    def probability(self, window: Float32Array) -> float:
        rms = float(np.sqrt(np.mean(np.square(window)))) if len(window) else 0.0
        return 1.0 if rms > self.threshold else 0.0

    def reset(self) -> None:
        pass


class FakeVAD:
    """Speech is anything louder than ``threshold`` RMS."""

    window_samples = 512

    def __init__(self, threshold: float = 0.01) -> None:
        self.threshold = threshold

    def stream(self) -> _EnergyStream:
        return _EnergyStream(self.threshold)


@dataclass
class FakeSTT:
    text: str = "What is the capital of France?"
    delay_s: float = 0.0
    # number of samples per call (the latest RECORDED, so a long soak does not grow)
    calls: deque[int] = field(default_factory=lambda: deque(maxlen=RECORDED))

    timestamps = True

    async def transcribe(self, audio: Float32Array, *, language: str | None = None,
                         prompt: str | None = None, timestamps: bool = False) -> Transcript:
        self.calls.append(len(audio))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        duration = len(audio) / 16000
        segments = (Segment(0.0, round(duration, 3), self.text),) if timestamps else ()
        return Transcript(self.text, "en", duration, segments)


@dataclass
class FakeLLM:
    """Streams ``reply`` word by word; records every request it was given.

    ``tool_call`` (name, arguments dict) makes the *next* request with tools answer
    with that call instead of text (in two argument deltas, each after
    ``token_delay_s``).
    """

    reply: str = "The capital of France is Paris. It is a lovely city."
    token_delay_s: float = 0.0
    tool_call: tuple[str, dict[str, object]] | None = None
    requests: deque[LLMRequest] = field(default_factory=lambda: deque(maxlen=RECORDED))
    # Words of ``reply`` streamed before the consumer closed the stream early; None when
    # the last stream ran to its end (a guard that stops the LLM shows up here).
    stopped_after: int | None = None

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        self.requests.append(request)
        prompt_tokens = sum(self.count_tokens(str(m.get("content") or ""))
                            for m in request.messages)
        if self.tool_call is not None and request.tools and request.tool_choice != "none":
            name, args = self.tool_call
            self.tool_call = None
            text = json.dumps(args)
            # Paced like text tokens, so a test can cancel while the arguments stream.
            if self.token_delay_s:
                await asyncio.sleep(self.token_delay_s)
            yield ToolCallDelta(0, text[: len(text) // 2], name=name, call_id=f"call_fake{len(self.requests):04d}")
            if self.token_delay_s:
                await asyncio.sleep(self.token_delay_s)
            yield ToolCallDelta(0, text[len(text) // 2:])
            yield Finished("tool_calls", prompt_tokens, 8)
            return
        words = self.reply.split(" ")
        self.stopped_after = 0
        for index, word in enumerate(words):
            if self.token_delay_s:
                await asyncio.sleep(self.token_delay_s)
            self.stopped_after = index + 1
            yield TextDelta(word if index == 0 else " " + word)
        self.stopped_after = None
        yield Finished("stop", prompt_tokens, len(words))


@dataclass
class FakeTTS:
    """A tone whose length follows the text: ``ms_per_word`` per word."""

    sample_rate: int = 24000
    ms_per_word: int = 120
    chunk_ms: int = 100
    delay_s: float = 0.0

    async def synthesize(self, text: str, *, voice: str | None = None,
                         speed: float = 1.0) -> AsyncIterator[Int16Array]:
        total = self.sample_rate * self.ms_per_word * max(1, len(text.split())) // 1000
        t = np.arange(total, dtype=np.float32) / self.sample_rate
        tone = (0.3 * np.sin(2 * np.pi * 220 * t) * 32767).astype(np.int16)
        step = self.sample_rate * self.chunk_ms // 1000
        for start in range(0, total, step):
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            yield tone[start:start + step]


@dataclass
class FakeEndOfTurn:
    """Says every utterance is finished with ``probability`` (after ``delay_s``)."""

    probability: float = 0.9
    delay_s: float = 0.0
    calls: deque[int] = field(default_factory=lambda: deque(maxlen=RECORDED))

    async def score(self, audio: Float32Array) -> float:
        self.calls.append(len(audio))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return self.probability


class _PassThrough:
    async def process(self, mic: Float32Array, far: Float32Array,
                      lead: Float32Array | None = None, denoise: bool = False) -> EchoOutput:
        return EchoOutput(mic)

    async def aclose(self) -> None:
        pass


class FakeEcho:
    """An echo canceller that removes nothing (the input path, without the DSP)."""

    name = "pass-through"
    latency_samples = 0

    def stream(self) -> _PassThrough:
        return _PassThrough()


def fake_backends(**overrides: object) -> Backends:
    parts: dict[str, object] = {"vad": FakeVAD(), "stt": FakeSTT(), "llm": FakeLLM(),
                                "tts": FakeTTS(), "turn": FakeEndOfTurn(), "echo": FakeEcho()}
    parts.update(overrides)
    return Backends(names={k: type(v).__name__ for k, v in parts.items()}, **parts)  # type: ignore[arg-type]
