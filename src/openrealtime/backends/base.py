"""The narrow seams between the runtime and the models.

Each role is a small Protocol. Audio crossing these seams is always numpy:
float32 in [-1, 1] at 16 kHz into VAD and STT; int16 at the backend's own
``sample_rate`` out of TTS. Backend failures are mapped once, here at the
boundary, to :class:`BackendError` so the runtime can end a response with
``status: failed`` without knowing which library failed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Float32Array = npt.NDArray[np.float32]
Int16Array = npt.NDArray[np.int16]

VAD_SAMPLE_RATE = 16_000
STT_SAMPLE_RATE = 16_000


class BackendError(Exception):
    """A model or remote endpoint failed. ``code`` goes into ``status_details.error``."""

    def __init__(self, message: str, *, code: str = "backend_error") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# ----------------------------------------------------------------------------- VAD


@runtime_checkable
class VadStream(Protocol):
    """Per-connection VAD state (the recurrent state of Silero lives here)."""

    def probability(self, window: Float32Array) -> float:
        """Speech probability of one window of ``window_samples`` samples at 16 kHz."""
        ...

    def reset(self) -> None: ...


@runtime_checkable
class VAD(Protocol):
    window_samples: int  # 512 for Silero at 16 kHz (32 ms)

    def stream(self) -> VadStream: ...


# ----------------------------------------------------------------------------- STT


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of a transcript with its time in the audio (seconds)."""

    start: float
    end: float
    text: str


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    language: str | None = None
    duration_s: float = 0.0
    segments: tuple[Segment, ...] = ()  # filled when asked for ``timestamps``


@runtime_checkable
class STT(Protocol):
    async def transcribe(
        self,
        audio: Float32Array,
        *,
        language: str | None = None,
        prompt: str | None = None,
    ) -> Transcript:
        """Transcribe float32 mono audio at 16 kHz. Backends that can also take
        ``timestamps=True`` (a file of any length, with :class:`Segment` times: the
        REST transcription endpoint) say so with a ``timestamps`` attribute."""
        ...


# ----------------------------------------------------------------------------- LLM


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class LLMRequest:
    """A chat request. ``messages`` use the OpenAI chat-completions shape."""

    messages: list[dict[str, Any]]
    max_tokens: int | None = None
    temperature: float = 0.8
    tools: Sequence[ToolSpec] = ()
    tool_choice: str | dict[str, Any] = "auto"
    # Sampling seed: the same request with the same seed gives the same answer (tests,
    # reproducible reports). None: the backend's own sequence of seeds.
    seed: int | None = None
    # Chat Completions' reasoning_effort and parallel_tool_calls, for servers whose
    # models take them (None: not sent). The local LLM has no use for either.
    reasoning_effort: str | None = None
    parallel_tool_calls: bool | None = None


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of a tool call. ``name`` and ``call_id`` arrive with the first piece."""

    index: int
    arguments: str
    name: str | None = None
    call_id: str | None = None


@dataclass(frozen=True, slots=True)
class Finished:
    reason: Literal["stop", "length", "tool_calls", "cancelled"]
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0


LLMChunk = TextDelta | ToolCallDelta | Finished


@runtime_checkable
class LLM(Protocol):
    def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        """Stream chunks; the last one is always :class:`Finished`."""
        ...

    def count_tokens(self, text: str) -> int: ...


# ----------------------------------------------------------------------------- TTS


@runtime_checkable
class TTS(Protocol):
    sample_rate: int

    def synthesize(
        self, text: str, *, voice: str | None = None, speed: float = 1.0
    ) -> AsyncIterator[Int16Array]:
        """Stream int16 mono chunks at ``sample_rate`` for one clause of text."""
        ...


# ----------------------------------------------------------------------------- vision


@runtime_checkable
class Vision(Protocol):
    """Image understanding: turns an image into text the (text-only) LLM can use."""

    async def describe(self, image: bytes, mime: str, *, detail: str = "auto") -> str: ...


# ----------------------------------------------------------------------------- turns


@runtime_checkable
class EndOfTurn(Protocol):
    """An end-of-turn model: has the speaker finished, judging by how it sounds?"""

    async def score(self, audio: Float32Array) -> float:
        """P(the turn is complete) for the utterance so far (16 kHz float32)."""
        ...


@dataclass(frozen=True, slots=True)
class EchoOutput:
    """What an echo canceller gives back for one chunk (both arrays the same length).

    ``cleaned``: the microphone without the echo; ``near_db``: per sample, how many dB
    the microphone rises above the echo the far end explains (``inf`` where no echo is
    possible; None if the canceller does not say).
    """

    cleaned: Float32Array
    near_db: Float32Array | None = None


@runtime_checkable
class EchoStream(Protocol):
    """One session's echo canceller state."""

    async def process(self, mic: Float32Array, far: Float32Array,
                      lead: Float32Array | None = None, denoise: bool = False) -> EchoOutput:
        """``mic`` without the echo of ``far`` (both 16 kHz, same length); the output
        lags the input by the canceller's ``latency_samples`` (same length in and out).
        ``lead``: the caller passed the input by itself for a while (nothing was
        playing), delayed alike; these are the samples it has yet to output.
        ``denoise``: also suppress steady background noise (the session's
        ``noise_reduction``), echo or not."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class EchoCanceller(Protocol):
    latency_samples: int  # how far (16 kHz samples) the output lags the input

    def stream(self) -> EchoStream: ...


@dataclass(slots=True)
class Backends:
    """The model set shared by every session of a server process."""

    vad: VAD
    stt: STT
    llm: LLM
    tts: TTS
    names: dict[str, str] = field(default_factory=dict)
    vision: Vision | None = None  # None: images enter the context as "[image]"
    turn: EndOfTurn | None = None  # None: semantic_vad falls back to silence by eagerness
    echo: EchoCanceller | None = None  # None: the input is not echo-cancelled

    def roles(self) -> dict[str, Any]:
        roles: dict[str, Any] = {"vad": self.vad, "stt": self.stt, "llm": self.llm,
                                 "tts": self.tts}
        for role, backend in (("vision", self.vision), ("turn", self.turn),
                              ("echo", self.echo)):
            if backend is not None:
                roles[role] = backend
        return roles

    def health(self) -> dict[str, dict[str, Any]]:
        """Each role's state: a worker's state, pid and restarts, or "in-process"."""
        out: dict[str, dict[str, Any]] = {}
        for role, backend in self.roles().items():
            report = getattr(backend, "health", None)
            out[role] = report() if callable(report) else {"state": "in-process"}
        return out

    async def aclose(self) -> None:
        for backend in self.roles().values():
            close = getattr(backend, "aclose", None)
            if close is not None:
                await close()
