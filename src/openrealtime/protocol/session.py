"""The session object (GA shape, the internal form) and ``session.update`` merging.

GA rule: ``session.update`` carries ``session.type`` and any subset of fields; the
server answers with the *full effective* session, or with one ``error`` and nothing
applied ("whole update discarded"). Container objects (``audio``, ``audio.input``,
``audio.output``) merge key by key; leaf configs (``turn_detection``, ``format``,
``transcription``) are replaced whole, with defaults for what they omit.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ProtocolError, missing_parameter, unknown_parameter
from .ids import new_id
from .validation import to_protocol_error

VOICES = ["alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar"]
# Two worked examples show a small model the shape of a spoken answer: with them the
# bundled SmolLM2-135M answers 62% of bench/llm_sweep.py's simple spoken questions right,
# against 50% with the one-line instruction used before ("You are a helpful, friendly
# voice assistant. Answer briefly, in one or two short sentences, in plain spoken
# language."), both at the local model's sampling (backends/local/llama.py); the README's
# "The embedded LLM" has the table. A client replaces the whole string, as ever.
DEFAULT_INSTRUCTIONS = (
    "You are a helpful voice assistant. Answer the question in one short sentence.\n\n"
    "Examples:\n"
    "User: How many wheels does a bicycle have?\n"
    "Assistant: A bicycle has two wheels.\n"
    "User: What is six plus one?\n"
    "Assistant: Six plus one is seven."
)
SESSION_TTL_S = 3600
# Cap on ``session.instructions`` and ``response.instructions``, in characters. The
# hosted service's own limit is not published; 64 Ki characters (about 16k tokens) holds
# the longest real agent prompts we know of and more than a local model's context, while
# a client can no longer make every response re-read megabytes of system prompt.
MAX_INSTRUCTIONS_CHARS = 64 * 1024
Instructions = Annotated[str, Field(max_length=MAX_INSTRUCTIONS_CHARS)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PcmFormat(_Strict):
    type: Literal["audio/pcm"] = "audio/pcm"
    rate: Annotated[int, Field(ge=24000, le=24000)] = 24000


class PcmuFormat(_Strict):
    type: Literal["audio/pcmu"] = "audio/pcmu"


class PcmaFormat(_Strict):
    type: Literal["audio/pcma"] = "audio/pcma"


AudioFormatConfig = Annotated[PcmFormat | PcmuFormat | PcmaFormat, Field(discriminator="type")]


class TranscriptionConfig(_Strict):
    """Input transcription. ``language`` and ``prompt`` are Whisper's language and initial
    prompt; ``keywords`` join the prompt; of ``languages``, one is a language and several
    let Whisper detect it; ``delay`` is accepted (the local STT has one speed)."""

    model: str = "whisper-1"
    language: str | None = None
    prompt: str | None = None
    languages: list[str] | None = None
    keywords: list[str] | None = None
    delay: Literal["minimal", "low", "medium", "high", "xhigh"] | None = None

    def whisper_language(self) -> str | None:
        if self.language:
            return self.language
        return self.languages[0] if self.languages and len(self.languages) == 1 else None

    def whisper_prompt(self) -> str | None:
        words = ", ".join(k for k in self.keywords or [] if k.strip())
        parts = [p for p in (self.prompt, words) if p]
        return " ".join(parts) or None


class NoiseReduction(_Strict):
    """Accepted and kept; the local input path applies no noise reduction yet."""

    type: Literal["near_field", "far_field"] | None = None
    strength: Annotated[float, Field(ge=0.0, le=1.0)] | None = None


class ServerVad(_Strict):
    type: Literal["server_vad"] = "server_vad"
    threshold: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5
    prefix_padding_ms: Annotated[int, Field(ge=0, le=10_000)] = 300
    silence_duration_ms: Annotated[int, Field(ge=0, le=10_000)] = 200
    idle_timeout_ms: Annotated[int, Field(ge=5000, le=30_000)] | None = None
    create_response: bool = True
    interrupt_response: bool = True


class SemanticVad(_Strict):
    """Approximated by server VAD with a silence window set by ``eagerness``."""

    type: Literal["semantic_vad"] = "semantic_vad"
    eagerness: Literal["low", "medium", "high", "auto"] = "auto"
    create_response: bool = True
    interrupt_response: bool = True


TurnDetection = Annotated[ServerVad | SemanticVad, Field(discriminator="type")]


class AudioInput(_Strict):
    format: AudioFormatConfig = Field(default_factory=PcmFormat)
    transcription: TranscriptionConfig | None = None
    noise_reduction: NoiseReduction | None = None
    turn_detection: TurnDetection | None = Field(default_factory=ServerVad)


class VoiceId(_Strict):
    """A voice by id (a custom voice on the reference): its id goes to the TTS as the
    voice's name; the local TTS speaks with its one voice whatever the name."""

    id: str


class AudioOutput(_Strict):
    format: AudioFormatConfig = Field(default_factory=PcmFormat)
    voice: str | VoiceId = "alloy"
    speed: Annotated[float, Field(ge=0.25, le=1.5)] = 1.0


class SessionAudio(_Strict):
    input: AudioInput = Field(default_factory=AudioInput)
    output: AudioOutput = Field(default_factory=AudioOutput)


class FunctionTool(_Strict):
    type: Literal["function"] = "function"
    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=dict)


class ToolChoiceFunction(_Strict):
    type: Literal["function"]
    name: str


ToolChoice = Literal["auto", "none", "required"] | ToolChoiceFunction
MaxTokens = Annotated[int, Field(ge=1, le=4096)] | Literal["inf"]


class Reasoning(_Strict):
    """For reasoning models: passed to a remote LLM that takes ``reasoning_effort``; the
    local models do not reason (accepted, no effect)."""

    effort: Literal["minimal", "low", "medium", "high", "xhigh"] | None = None


def voice_name(voice: str | VoiceId) -> str:
    return voice if isinstance(voice, str) else voice.id


def _audio_only() -> list[Literal["audio", "text"]]:
    return ["audio"]


class RealtimeSession(_Strict):
    """The full effective GA session (``session.type == "realtime"``)."""

    type: Literal["realtime"] = "realtime"
    object: Literal["realtime.session"] = "realtime.session"
    id: str = Field(default_factory=lambda: new_id("sess"))
    model: str = "gpt-realtime"
    expires_at: int = Field(default_factory=lambda: int(time.time()) + SESSION_TTL_S)
    output_modalities: list[Literal["audio", "text"]] = Field(default_factory=_audio_only)
    instructions: Instructions = DEFAULT_INSTRUCTIONS
    audio: SessionAudio = Field(default_factory=SessionAudio)
    tools: list[FunctionTool] = Field(default_factory=list)
    tool_choice: ToolChoice = "auto"
    max_output_tokens: MaxTokens = "inf"
    tracing: Literal["auto"] | dict[str, Any] | None = None
    truncation: Literal["auto", "disabled"] | dict[str, Any] = "auto"
    prompt: dict[str, Any] | None = None
    include: list[Literal["item.input_audio_transcription.logprobs"]] | None = None
    reasoning: Reasoning | None = None
    # Whether the model may call several tools at once (passed to a remote LLM; the
    # local tool-call grammar makes one call per response).
    parallel_tool_calls: bool | None = None
    # Not on the GA wire (GA removed it); the beta dialect still sets it.
    temperature: Annotated[float, Field(ge=0.6, le=1.2)] = Field(default=0.8, exclude=True)


# Fields a client may not change; sending them back (as SDKs that echo the session do)
# is tolerated and ignored.
_READ_ONLY = {"object", "id", "model", "expires_at"}
# Containers merged key by key instead of replaced.
_MERGED = {("audio",), ("audio", "input"), ("audio", "output")}


def _merge(base: dict[str, Any], update: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    out = dict(base)
    for key, value in update.items():
        sub = (*path, key)
        if sub in _MERGED and isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value, sub)
        else:
            out[key] = value
    return out


def apply_update(
    current: RealtimeSession, update: Any, *, voice_locked: bool, allow_temperature: bool = False
) -> RealtimeSession:
    """Validate ``session.update``'s ``session`` against ``current``; raise ProtocolError."""
    if not isinstance(update, dict):
        raise ProtocolError(
            "Invalid type for 'session': expected an object.", code="invalid_type", param="session"
        )
    if "type" not in update:
        raise missing_parameter("session.type")
    if update["type"] == "transcription":
        raise ProtocolError(
            "Passing a transcription session update event to a realtime session is not allowed.",
            code="invalid_value",
            param="session.type",
        )
    if "temperature" in update and not allow_temperature:
        raise unknown_parameter("session.temperature")
    update = {k: v for k, v in update.items() if k not in _READ_ONLY}
    base = current.model_dump()
    base["temperature"] = current.temperature
    merged = _merge(base, update, ())
    try:
        new = RealtimeSession.model_validate(merged)
    except ValidationError as exc:
        raise to_protocol_error(exc, prefix="session", data=merged) from None
    for key in _READ_ONLY:
        setattr(new, key, getattr(current, key))
    if len(new.output_modalities) != 1:
        raise ProtocolError(
            "Invalid 'session.output_modalities': exactly one of 'audio' or 'text' is supported.",
            code="invalid_value",
            param="session.output_modalities",
        )
    if new.audio.output.voice != current.audio.output.voice:
        if voice_locked:
            raise ProtocolError(
                "Cannot update a conversation's voice if assistant audio is present.",
                code="cannot_update_voice",
                param="session.audio.output.voice",
            )
    return new


# ------------------------------------------------------------ transcription sessions


class TranscriptionAudio(_Strict):
    input: AudioInput


class TranscriptionSession(_Strict):
    """A transcription session as the wire shows it (``session.type == "transcription"``):
    live captions, no responses. The core keeps a :class:`RealtimeSession` underneath
    whose ``audio.input`` and ``include`` this shows."""

    type: Literal["transcription"] = "transcription"
    object: Literal["realtime.transcription_session"] = "realtime.transcription_session"
    id: str
    expires_at: int
    audio: TranscriptionAudio
    include: list[Literal["item.input_audio_transcription.logprobs"]] | None = None


def transcription_view(config: RealtimeSession) -> TranscriptionSession:
    return TranscriptionSession(id=config.id, expires_at=config.expires_at,
                                audio=TranscriptionAudio(input=config.audio.input),
                                include=config.include)


def transcription_config(config: RealtimeSession) -> RealtimeSession:
    """A new transcription session's settings: it transcribes (whisper-1) by default."""
    if config.audio.input.transcription is not None:
        return config
    audio_in = config.audio.input.model_copy(update={"transcription": TranscriptionConfig()})
    return config.model_copy(update={"audio": config.audio.model_copy(
        update={"input": audio_in})})


def apply_transcription_update(current: RealtimeSession, update: Any) -> RealtimeSession:
    """``session.update`` in a transcription session: ``audio.input`` and ``include``."""
    if not isinstance(update, dict):
        raise ProtocolError(
            "Invalid type for 'session': expected an object.", code="invalid_type", param="session"
        )
    if "type" not in update:
        raise missing_parameter("session.type")
    if update["type"] != "transcription":
        raise ProtocolError(
            "Passing a realtime session update event to a transcription session is not "
            "allowed.", code="invalid_value", param="session.type")
    for key in update:
        if key not in ("type", "audio", "include", *_READ_ONLY):
            raise unknown_parameter(f"session.{key}")
    audio = update.get("audio")
    if isinstance(audio, dict):
        for key in audio:
            if key != "input":
                raise unknown_parameter(f"session.audio.{key}")
    realtime = {"type": "realtime", **{k: v for k, v in update.items()
                                       if k in ("audio", "include")}}
    return apply_update(current, realtime, voice_locked=False)
