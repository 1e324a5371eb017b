"""Conversation items and content parts, GA shape."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

ItemStatus = Literal["completed", "incomplete", "in_progress"]
ItemId = Annotated[str, Field(max_length=32)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InputTextPart(_Strict):
    type: Literal["input_text"] = "input_text"
    text: str


class InputAudioPart(_Strict):
    type: Literal["input_audio"] = "input_audio"
    audio: str | None = None
    transcript: str | None = None


class InputImagePart(_Strict):
    type: Literal["input_image"] = "input_image"
    image_url: str
    detail: Literal["auto", "low", "high"] = "auto"


class OutputTextPart(_Strict):
    type: Literal["output_text"] = "output_text"
    text: str


class OutputAudioPart(_Strict):
    type: Literal["output_audio"] = "output_audio"
    audio: str | None = None
    transcript: str | None = None


ContentPart = Annotated[
    InputTextPart | InputAudioPart | InputImagePart | OutputTextPart | OutputAudioPart,
    Field(discriminator="type"),
]

# Which content a client may put in a message of each role (GA).
ALLOWED_CONTENT: dict[str, tuple[str, ...]] = {
    "system": ("input_text",),
    "user": ("input_text", "input_audio", "input_image"),
    "assistant": ("output_text", "output_audio"),
}


class MessageItem(_Strict):
    id: ItemId | None = None
    type: Literal["message"] = "message"
    object: Literal["realtime.item"] = "realtime.item"
    status: ItemStatus = "completed"
    role: Literal["system", "user", "assistant"]
    content: list[ContentPart]


class FunctionCallItem(_Strict):
    id: ItemId | None = None
    type: Literal["function_call"] = "function_call"
    object: Literal["realtime.item"] = "realtime.item"
    status: ItemStatus = "completed"
    call_id: str = ""
    name: str
    arguments: str


class FunctionCallOutputItem(_Strict):
    id: ItemId | None = None
    type: Literal["function_call_output"] = "function_call_output"
    object: Literal["realtime.item"] = "realtime.item"
    status: ItemStatus = "completed"
    call_id: str
    output: str


class ItemReference(_Strict):
    type: Literal["item_reference"] = "item_reference"
    id: str


Item = Annotated[
    MessageItem | FunctionCallItem | FunctionCallOutputItem, Field(discriminator="type")
]
InputItem = Annotated[
    MessageItem | FunctionCallItem | FunctionCallOutputItem | ItemReference,
    Field(discriminator="type"),
]
AnyItem = MessageItem | FunctionCallItem | FunctionCallOutputItem
