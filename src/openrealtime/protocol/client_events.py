"""Client events (GA names) and their parser.

Parsing follows the reference's error ladder: not JSON → ``invalid_json``; no ``type`` →
``invalid_event``; unknown ``type`` → ``invalid_value`` listing the supported types; a
bad field → the code pydantic's error maps to. The ``event_id`` is recovered whenever
the frame was JSON, so every error names the offending event.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from .errors import ProtocolError, quote_list
from .frame import check_frame, decode_frame
from .items import InputItem, Item
from .session import AudioOutput, FunctionTool, Instructions, MaxTokens, Reasoning, ToolChoice
from .validation import to_protocol_error

EventId = Annotated[str, Field(max_length=512)]


class _Event(BaseModel):
    # Unknown top-level keys are ignored: clients (rtclient, older SDKs) add their own.
    model_config = ConfigDict(extra="ignore")
    event_id: EventId | None = None


class SessionUpdate(_Event):
    type: Literal["session.update"]
    session: dict[str, Any]  # validated against the current session by apply_update


class InputAudioBufferAppend(_Event):
    type: Literal["input_audio_buffer.append"]
    audio: str


class InputAudioBufferCommit(_Event):
    type: Literal["input_audio_buffer.commit"]


class InputAudioBufferClear(_Event):
    type: Literal["input_audio_buffer.clear"]


class ConversationItemCreate(_Event):
    type: Literal["conversation.item.create"]
    previous_item_id: str | None = None
    item: Item


class ConversationItemRetrieve(_Event):
    type: Literal["conversation.item.retrieve"]
    item_id: str


class ConversationItemTruncate(_Event):
    type: Literal["conversation.item.truncate"]
    item_id: str
    content_index: Annotated[int, Field(ge=0)]
    audio_end_ms: Annotated[int, Field(ge=0)]


class ConversationItemDelete(_Event):
    type: Literal["conversation.item.delete"]
    item_id: str


class ResponseAudioParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    output: AudioOutput | None = None


class ResponseParams(BaseModel):
    """``response.create``'s ``response`` object (all optional)."""

    model_config = ConfigDict(extra="forbid")
    conversation: Literal["auto", "none"] | str = "auto"
    output_modalities: list[Literal["audio", "text"]] | None = None
    instructions: Instructions | None = None  # capped like session.instructions
    audio: ResponseAudioParams | None = None
    tools: list[FunctionTool] | None = None
    tool_choice: ToolChoice | None = None
    max_output_tokens: MaxTokens | None = None
    metadata: dict[str, str] | None = None
    input: list[InputItem] | None = None
    prompt: dict[str, Any] | None = None
    reasoning: Reasoning | None = None
    parallel_tool_calls: bool | None = None
    # beta-only, carried through by the codec
    temperature: Annotated[float, Field(ge=0.6, le=1.2)] | None = None


class ResponseCreate(_Event):
    type: Literal["response.create"]
    response: ResponseParams | None = None


class ResponseCancel(_Event):
    type: Literal["response.cancel"]
    response_id: str | None = None


class OutputAudioBufferClear(_Event):
    type: Literal["output_audio_buffer.clear"]


class SessionClose(_Event):
    type: Literal["session.close"]


ClientEvent = Annotated[
    SessionUpdate
    | InputAudioBufferAppend
    | InputAudioBufferCommit
    | InputAudioBufferClear
    | ConversationItemCreate
    | ConversationItemRetrieve
    | ConversationItemTruncate
    | ConversationItemDelete
    | ResponseCreate
    | ResponseCancel
    | OutputAudioBufferClear
    | SessionClose,
    Field(discriminator="type"),
]

GA_TYPES = [
    "session.update",
    "session.close",
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
    "conversation.item.create",
    "conversation.item.truncate",
    "conversation.item.delete",
    "conversation.item.retrieve",
    "response.create",
    "response.cancel",
    "output_audio_buffer.clear",
]

_ADAPTER: TypeAdapter[Any] = TypeAdapter(ClientEvent)


def parse_json(text: str) -> dict[str, Any]:
    """Decode and check one text frame (see :mod:`.frame`), or raise the reference's error."""
    data = decode_frame(text)
    check_frame(data)
    return data


def validate_event(data: dict[str, Any], supported: list[str] | None = None) -> Any:
    """Validate a GA-shaped event dict; returns one of the ClientEvent models."""
    kind = data.get("type")
    if kind is None:
        raise ProtocolError("The 'type' field is missing.", code="invalid_event", param="type")
    names = supported or GA_TYPES
    if kind not in names:
        raise ProtocolError(
            f"Invalid value: '{kind}'. Supported values are: {quote_list(names)}.",
            code="invalid_value",
            param="type",
        )
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        err = to_protocol_error(exc, prefix="", data=data)
        raise err from None


def event_id_of(data: dict[str, Any]) -> str | None:
    value = data.get("event_id")
    return value if isinstance(value, str) else None
