from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from openrealtime.backends.base import Backends, LLMChunk, LLMRequest


class RecordingLLM:
    """The real LLM, with every request it was given kept for inspection."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.requests: list[LLMRequest] = []
        self.context_tokens = getattr(inner, "context_tokens", None)

    def count_tokens(self, text: str) -> int:
        return int(self.inner.count_tokens(text))

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        self.requests.append(request)
        # aclosing: when our consumer stops early, the inner stream stops now, not at GC.
        async with contextlib.aclosing(self.inner.stream(request)) as inner:
            async for chunk in inner:
                yield chunk


@pytest.fixture(scope="session")
def local_backends() -> Backends:
    from openrealtime.backends.stack import load_local_backends

    return load_local_backends()


@pytest.fixture(scope="session")
def question_audio() -> object:
    """'What is the capital of Japan?' spoken by Piper, as float32 at 24 kHz.

    Not France: Whisper tiny.en hears this voice's "France" as "friends" at some
    alignments of the committed window (2 of 8 phases of 64 samples, measured through
    the server's 24 to 16 kHz resampler); "Japan" was right at all 32 tried."""
    import asyncio

    import numpy as np

    from openrealtime.audio import resample
    from openrealtime.backends.local.piper import PiperTTS

    async def synth() -> np.ndarray:
        tts = PiperTTS(deterministic=True)  # the same question audio on every run
        chunks = [c async for c in tts.synthesize("What is the capital of Japan?")]
        x = np.concatenate(chunks).astype(np.float32) / 32768.0
        return resample(x, tts.sample_rate, 24000)

    speech = asyncio.run(synth())
    lead = np.zeros(int(0.4 * 24000), dtype=np.float32)
    return np.concatenate([lead, speech])
