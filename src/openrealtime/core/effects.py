"""What the core asks the runtime to do (effects, imperative) and what the runtime
reports back (facts, past tense). Time is a sample index at 16 kHz on the input side
and a sample count at the output rate on the output side; milliseconds appear only
in wire fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from ..protocol.items import AnyItem

Float32Array = npt.NDArray[np.float32]
Int16Array = npt.NDArray[np.int16]

# ------------------------------------------------------------------------- effects


@dataclass(frozen=True, slots=True)
class ScoreSpeech:
    """Run the VAD over these 16 kHz windows and report :class:`SpeechScored`."""

    windows: list[Float32Array]


@dataclass(frozen=True, slots=True)
class CancelEcho:
    """Remove the echo of ``far`` (what the client is playing, 16 kHz) from ``mic``
    (16 kHz) and report :class:`EchoCancelled`: as many samples, delayed by the
    canceller's fixed latency. ``lead``: the core passed the input by itself while
    nothing played (delayed alike); these are the samples it has yet to output.
    ``denoise``: suppress background noise too (the session's ``noise_reduction``)."""

    mic: Float32Array
    far: Float32Array
    lead: Float32Array | None = None
    denoise: bool = False


@dataclass(frozen=True, slots=True)
class ScoreTurn:
    """Ask the end-of-turn model whether the user has finished; report
    :class:`TurnScored` echoing ``speculation`` (the pause it belongs to)."""

    item_id: str
    speculation: int
    audio: Float32Array  # 16 kHz, the utterance so far (at most the model's window)


@dataclass(frozen=True, slots=True)
class StartTranscription:
    """Transcribe ``audio`` and report the result, echoing ``speculation``.

    ``speculation`` is 0 for the transcription of a committed item, else the number of
    a speculative transcription of the pending turn (see :mod:`.pending`): the core
    recognises a stale speculative result by its number. A new transcription of the
    same item replaces the one running. A ``partial`` one (live captions while the user
    still speaks) replaces nothing and stands for nothing but its own result.
    """

    item_id: str
    audio: Float32Array  # 16 kHz
    language: str | None = None
    prompt: str | None = None
    speculation: int = 0
    partial: bool = False

    @property
    def speculative(self) -> bool:
        return self.speculation != 0


@dataclass(frozen=True, slots=True)
class DescribeImage:
    """Turn an ``input_image`` part into text for the LLM (vision backend)."""

    item_id: str
    content_index: int
    mime: str
    data: bytes
    detail: str = "auto"


@dataclass(frozen=True, slots=True)
class CancelTranscription:
    """Stop the pending turn's speculative transcription; its result will not count."""

    item_id: str


@dataclass(frozen=True, slots=True)
class ForgetItem:
    """The item left the conversation (deleted, or dropped over the item cap): drop what
    the runtime keeps for it (transcript and image-description futures)."""

    item_id: str


@dataclass(frozen=True, slots=True)
class ResponsePlan:
    """Everything the runtime needs to generate one response."""

    instructions: str
    items: list[AnyItem]  # the context, oldest first
    output_modalities: list[str]
    voice: str
    speed: float
    output_sample_rate: int
    max_output_tokens: int | None
    temperature: float
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: str | dict[str, Any] = "auto"
    reasoning_effort: str | None = None
    parallel_tool_calls: bool | None = None


@dataclass(frozen=True, slots=True)
class StartResponse:
    """Generate a response. A ``draft`` is the speculative reply to a turn that has not
    ended yet: the runtime runs it but holds everything it produces until
    :class:`AdoptDraft` lets it out or :class:`DiscardDraft` drops it without a trace."""

    response_id: str
    plan: ResponsePlan
    draft: bool = False


@dataclass(frozen=True, slots=True)
class AdoptDraft:
    """The turn ended as the draft assumed: release what it holds, in order, as the
    facts of the (now announced) response, and let the rest flow."""

    response_id: str


@dataclass(frozen=True, slots=True)
class DiscardDraft:
    """Speech resumed (or the conversation changed): stop the draft, drop its output."""

    response_id: str


@dataclass(frozen=True, slots=True)
class CancelResponse:
    response_id: str


@dataclass(frozen=True, slots=True)
class CloseSession:
    code: int
    reason: str


Effect = (
    ScoreSpeech
    | CancelEcho
    | ScoreTurn
    | StartTranscription
    | CancelTranscription
    | ForgetItem
    | DescribeImage
    | StartResponse
    | AdoptDraft
    | DiscardDraft
    | CancelResponse
    | CloseSession
)

# --------------------------------------------------------------------------- facts


@dataclass(frozen=True, slots=True)
class SpeechScored:
    probabilities: list[float]


@dataclass(frozen=True, slots=True)
class EchoCancelled:
    """The canceller's output: ``samples`` without the echo (what the VAD and speech
    recognition hear), and per sample ``near_db``, how far the microphone rises above
    the echo the far end explains (inf: no echo possible; None: not known)."""

    samples: Float32Array
    near_db: Float32Array | None = None


@dataclass(frozen=True, slots=True)
class TurnScored:
    """The end-of-turn model's P(finished); None if the model failed."""

    speculation: int
    probability: float | None


@dataclass(frozen=True, slots=True)
class TranscriptionCompleted:
    item_id: str
    transcript: str
    duration_s: float
    speculation: int = 0  # echoed from StartTranscription


@dataclass(frozen=True, slots=True)
class TranscriptionFailed:
    item_id: str
    message: str
    speculation: int = 0  # echoed from StartTranscription


@dataclass(frozen=True, slots=True)
class TextProduced:
    """Text-modality output (one LLM delta)."""

    response_id: str
    text: str


@dataclass(frozen=True, slots=True)
class ClauseStarted:
    """Audio-modality: the transcript of the clause whose audio follows."""

    response_id: str
    text: str


@dataclass(frozen=True, slots=True)
class AudioProduced:
    """Audio-modality: int16 samples at the session's output rate."""

    response_id: str
    samples: Int16Array


@dataclass(frozen=True, slots=True)
class ToolCallProduced:
    """A piece of a function call: the first piece carries ``name`` and ``call_id``."""

    response_id: str
    index: int
    arguments: str
    name: str | None = None
    call_id: str | None = None


@dataclass(frozen=True, slots=True)
class ResponseFinished:
    response_id: str
    reason: Literal["stop", "length", "tool_calls", "cancelled"]
    input_text_tokens: int = 0
    output_text_tokens: int = 0
    cached_tokens: int = 0


@dataclass(frozen=True, slots=True)
class ResponseFailed:
    response_id: str
    code: str
    message: str


Fact = (
    SpeechScored
    | EchoCancelled
    | TurnScored
    | TranscriptionCompleted
    | TranscriptionFailed
    | TextProduced
    | ClauseStarted
    | AudioProduced
    | ToolCallProduced
    | ResponseFinished
    | ResponseFailed
)
