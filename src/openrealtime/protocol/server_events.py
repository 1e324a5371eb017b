"""Server events, GA names. The beta dialect is produced from these by ``dialect.py``.

Nullable keys (``previous_item_id``, ``status_details``, ``usage``, ``transcript``) are
always sent, as ``null`` when empty: strict clients require the keys.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from .errors import safe_text
from .ids import event_id
from .items import AnyItem
from .session import RealtimeSession, TranscriptionSession, VoiceId


class ServerEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str
    event_id: str = Field(default_factory=event_id)


class ErrorDetail(BaseModel):
    """An error's details. Always encodable: every string is made safe on the way in.

    Messages and params echo client input (a lone surrogate, a megabyte of text) and
    ``event_id`` is the client's own; none of them may stop the error from being sent.
    """

    type: str
    code: str | None = None
    message: str
    param: str | None = None
    event_id: str | None = None

    @field_validator("type", "code", "message", "param", "event_id")
    @classmethod
    def _safe(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        return safe_text(value, 4096 if info.field_name == "message" else 512)


class Error(ServerEvent):
    type: Literal["error"] = "error"
    error: ErrorDetail


class SessionCreated(ServerEvent):
    type: Literal["session.created"] = "session.created"
    session: RealtimeSession | TranscriptionSession


class SessionUpdated(ServerEvent):
    type: Literal["session.updated"] = "session.updated"
    session: RealtimeSession | TranscriptionSession


class InputAudioBufferSpeechStarted(ServerEvent):
    type: Literal["input_audio_buffer.speech_started"] = "input_audio_buffer.speech_started"
    audio_start_ms: int
    item_id: str


class InputAudioBufferSpeechStopped(ServerEvent):
    type: Literal["input_audio_buffer.speech_stopped"] = "input_audio_buffer.speech_stopped"
    audio_end_ms: int
    item_id: str


class InputAudioBufferCommitted(ServerEvent):
    type: Literal["input_audio_buffer.committed"] = "input_audio_buffer.committed"
    previous_item_id: str | None
    item_id: str


class InputAudioBufferCleared(ServerEvent):
    type: Literal["input_audio_buffer.cleared"] = "input_audio_buffer.cleared"


class InputAudioBufferTimeoutTriggered(ServerEvent):
    type: Literal["input_audio_buffer.timeout_triggered"] = "input_audio_buffer.timeout_triggered"
    audio_start_ms: int
    audio_end_ms: int
    item_id: str


class ConversationItemAdded(ServerEvent):
    type: Literal["conversation.item.added"] = "conversation.item.added"
    previous_item_id: str | None
    item: AnyItem


class ConversationItemDone(ServerEvent):
    type: Literal["conversation.item.done"] = "conversation.item.done"
    previous_item_id: str | None
    item: AnyItem


class ConversationItemRetrieved(ServerEvent):
    type: Literal["conversation.item.retrieved"] = "conversation.item.retrieved"
    item: AnyItem


class ConversationItemTruncated(ServerEvent):
    type: Literal["conversation.item.truncated"] = "conversation.item.truncated"
    item_id: str
    content_index: int
    audio_end_ms: int


class ConversationItemDeleted(ServerEvent):
    type: Literal["conversation.item.deleted"] = "conversation.item.deleted"
    item_id: str


class TranscriptionUsage(BaseModel):
    type: Literal["duration"] = "duration"
    seconds: float


class InputAudioTranscriptionDelta(ServerEvent):
    type: Literal["conversation.item.input_audio_transcription.delta"] = (
        "conversation.item.input_audio_transcription.delta"
    )
    item_id: str
    content_index: int = 0
    delta: str
    logprobs: list[Any] | None = None


class InputAudioTranscriptionCompleted(ServerEvent):
    type: Literal["conversation.item.input_audio_transcription.completed"] = (
        "conversation.item.input_audio_transcription.completed"
    )
    item_id: str
    content_index: int = 0
    transcript: str
    logprobs: list[Any] | None = None
    usage: TranscriptionUsage


class InputAudioTranscriptionFailed(ServerEvent):
    type: Literal["conversation.item.input_audio_transcription.failed"] = (
        "conversation.item.input_audio_transcription.failed"
    )
    item_id: str
    content_index: int = 0
    error: ErrorDetail


class CachedTokensDetails(BaseModel):
    text_tokens: int = 0
    audio_tokens: int = 0
    image_tokens: int = 0


class InputTokenDetails(BaseModel):
    cached_tokens: int = 0
    text_tokens: int = 0
    audio_tokens: int = 0
    image_tokens: int = 0
    cached_tokens_details: CachedTokensDetails = Field(default_factory=CachedTokensDetails)


class OutputTokenDetails(BaseModel):
    text_tokens: int = 0
    audio_tokens: int = 0


class Usage(BaseModel):
    total_tokens: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    input_token_details: InputTokenDetails = Field(default_factory=InputTokenDetails)
    output_token_details: OutputTokenDetails = Field(default_factory=OutputTokenDetails)


class StatusDetails(BaseModel):
    type: Literal["cancelled", "incomplete", "failed"]
    reason: str | None = None
    error: dict[str, Any] | None = None


class ResponseAudioOutput(BaseModel):
    format: dict[str, Any]
    voice: str | VoiceId


class ResponseAudio(BaseModel):
    output: ResponseAudioOutput


class Response(BaseModel):
    object: Literal["realtime.response"] = "realtime.response"
    id: str
    status: Literal["in_progress", "completed", "cancelled", "incomplete", "failed"]
    status_details: StatusDetails | None = None
    output: list[AnyItem] = Field(default_factory=list)
    conversation_id: str | None = None
    output_modalities: list[str]
    max_output_tokens: int | Literal["inf"] = "inf"
    audio: ResponseAudio | None = None
    usage: Usage | None = None
    metadata: dict[str, str] | None = None


class ResponseCreated(ServerEvent):
    type: Literal["response.created"] = "response.created"
    response: Response


class ResponseDone(ServerEvent):
    type: Literal["response.done"] = "response.done"
    response: Response


class ResponseOutputItemAdded(ServerEvent):
    type: Literal["response.output_item.added"] = "response.output_item.added"
    response_id: str
    output_index: int
    item: AnyItem


class ResponseOutputItemDone(ServerEvent):
    type: Literal["response.output_item.done"] = "response.output_item.done"
    response_id: str
    output_index: int
    item: AnyItem


class Part(BaseModel):
    """``content_part`` events keep the short part types ``audio``/``text`` in both dialects."""

    type: Literal["audio", "text"]
    text: str | None = None
    audio: str | None = None
    transcript: str | None = None


class _PartRef(ServerEvent):
    response_id: str
    item_id: str
    output_index: int
    content_index: int


class ResponseContentPartAdded(_PartRef):
    type: Literal["response.content_part.added"] = "response.content_part.added"
    part: Part


class ResponseContentPartDone(_PartRef):
    type: Literal["response.content_part.done"] = "response.content_part.done"
    part: Part


class ResponseOutputTextDelta(_PartRef):
    type: Literal["response.output_text.delta"] = "response.output_text.delta"
    delta: str


class ResponseOutputTextDone(_PartRef):
    type: Literal["response.output_text.done"] = "response.output_text.done"
    text: str


class ResponseOutputAudioDelta(_PartRef):
    type: Literal["response.output_audio.delta"] = "response.output_audio.delta"
    delta: str


class ResponseOutputAudioDone(_PartRef):
    type: Literal["response.output_audio.done"] = "response.output_audio.done"


class ResponseOutputAudioTranscriptDelta(_PartRef):
    type: Literal["response.output_audio_transcript.delta"] = (
        "response.output_audio_transcript.delta"
    )
    delta: str


class ResponseOutputAudioTranscriptDone(_PartRef):
    type: Literal["response.output_audio_transcript.done"] = (
        "response.output_audio_transcript.done"
    )
    transcript: str


class ResponseFunctionCallArgumentsDelta(ServerEvent):
    type: Literal["response.function_call_arguments.delta"] = (
        "response.function_call_arguments.delta"
    )
    response_id: str
    item_id: str
    output_index: int
    call_id: str
    delta: str


class ResponseFunctionCallArgumentsDone(ServerEvent):
    type: Literal["response.function_call_arguments.done"] = (
        "response.function_call_arguments.done"
    )
    response_id: str
    item_id: str
    output_index: int
    call_id: str
    name: str
    arguments: str


class RateLimit(BaseModel):
    name: str
    limit: int
    remaining: int
    reset_seconds: float


class RateLimitsUpdated(ServerEvent):
    type: Literal["rate_limits.updated"] = "rate_limits.updated"
    rate_limits: list[RateLimit]


class OutputAudioBufferCleared(ServerEvent):
    type: Literal["output_audio_buffer.cleared"] = "output_audio_buffer.cleared"
    response_id: str | None = None


def error_event(detail: dict[str, Any]) -> Error:
    return Error(error=ErrorDetail(**detail))


def dump(event: ServerEvent) -> dict[str, Any]:
    """The wire dict of an event (GA dialect)."""
    return event.model_dump(mode="json")
