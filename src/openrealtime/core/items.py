"""Rules for items a client creates, and the views of items the server hands out."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

import numpy as np

from ..audio import AudioFormat, pcm16_to_float32, resample
from ..protocol import server_events as ev
from ..protocol.errors import ProtocolError
from ..protocol.items import (
    ALLOWED_CONTENT,
    AnyItem,
    InputAudioPart,
    InputImagePart,
    OutputAudioPart,
)
from .conversation import Conversation
from .effects import Float32Array


def check_new_item(item: AnyItem, conversation: Conversation) -> None:
    """Reject what the reference rejects; the conversation is left untouched."""
    if item.id is not None and item.id in conversation:
        raise ProtocolError(f"Item with id '{item.id}' already exists.",
                            code="invalid_value", param="item.id")
    if item.type == "message":
        allowed = ALLOWED_CONTENT[item.role]
        for index, part in enumerate(item.content):
            if part.type not in allowed:
                raise ProtocolError(
                    f"Invalid value: '{part.type}'. Value must be "
                    + " or ".join(f"'{a}'" for a in allowed) + ".",
                    code="invalid_value", param=f"item.content[{index}].type")
            if isinstance(part, OutputAudioPart) and part.audio:
                raise ProtocolError("Assistant messages cannot be created with audio.",
                                    code="invalid_value", param=f"item.content[{index}].audio")
    if item.type == "function_call_output":
        calls = [i for i in conversation.items
                 if i.type == "function_call" and i.call_id == item.call_id]
        if not calls:
            raise ProtocolError(
                f"Tool call output for call_id '{item.call_id}' has no matching function_call.",
                code="invalid_value", param="item.call_id")


# Images a client may attach (GA input_image): data URLs of these types, this big.
IMAGE_TYPES = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}
MAX_IMAGE_BYTES = 10 * 1024 * 1024
_DATA_URL = re.compile(r"data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[\w-]+=[^;,]*)*)"
                       r"(?P<b64>;base64)?,(?P<data>.*)", re.DOTALL)


def decode_images(item: AnyItem) -> list[tuple[int, str, bytes, str]]:
    """``(content_index, mime, bytes, detail)`` of each valid ``input_image``; else raise."""
    if item.type != "message":
        return []
    images: list[tuple[int, str, bytes, str]] = []
    for index, part in enumerate(item.content):
        if isinstance(part, InputImagePart):
            mime, data = _decode_image_url(part.image_url, f"item.content[{index}].image_url")
            images.append((index, mime, data, part.detail))
    return images


def _decode_image_url(url: str, param: str) -> tuple[str, bytes]:
    match = _DATA_URL.fullmatch(url.strip())
    if match is None or not match.group("b64"):
        raise ProtocolError(
            f"Invalid '{param}'. Expected a base64-encoded data URL with an image type, "
            "e.g. 'data:image/png;base64,...'.", code="invalid_value", param=param)
    mime = (match.group("mime") or "").lower().replace("image/jpg", "image/jpeg")
    if mime not in IMAGE_TYPES:
        raise ProtocolError(
            f"Invalid image type: '{mime or 'none'}'. Supported types are: 'image/png' and "
            "'image/jpeg'.", code="invalid_value", param=param)
    encoded = match.group("data")
    if len(encoded) * 3 // 4 > MAX_IMAGE_BYTES:
        raise ProtocolError(
            f"Image too large: {len(encoded) * 3 // 4 / 2**20:.1f} MiB; the maximum is "
            f"{MAX_IMAGE_BYTES // 2**20} MiB.", code="invalid_value", param=param)
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError(f"Invalid '{param}': the base64 image data cannot be decoded.",
                            code="invalid_value", param=param) from None
    if not data.startswith(IMAGE_TYPES[mime]):
        raise ProtocolError(f"Invalid '{param}': the data is not a {mime} image.",
                            code="invalid_value", param=param)
    return mime, data


def decode_input_audio(item: AnyItem) -> Float32Array | None:
    """The 16 kHz audio of a user ``input_audio`` part that needs transcribing, if any."""
    if item.type != "message":
        return None
    for index, part in enumerate(item.content):
        if isinstance(part, InputAudioPart) and part.audio and part.transcript is None:
            try:
                raw = base64.b64decode(part.audio, validate=True)
                x = pcm16_to_float32(raw)
            except (binascii.Error, ValueError):
                raise ProtocolError(
                    "Invalid 'audio'. Expected base64-encoded audio bytes (mono PCM16 at "
                    "24kHz) but got an invalid value.", code="invalid_value",
                    param=f"item.content[{index}].audio") from None
            part.audio = None  # kept once, as samples, not as base64 in every event
            return resample(x, 24000, 16000)
    return None


def retrieve_copy(item: AnyItem, conversation: Conversation, out_fmt: AudioFormat) -> AnyItem:
    """The item with its audio bytes (``conversation.item.retrieved`` includes audio).

    Audio the session no longer retains (see :mod:`.limits`) is left out: the item comes
    back with its transcript only, as the other item events carry it.
    """
    copy = item.model_copy(deep=True)
    if copy.type != "message" or copy.id is None:
        return copy
    user_audio = conversation.input_audio.get(copy.id)
    out_audio = conversation.output_audio.get(copy.id)
    for part in copy.content:
        if isinstance(part, InputAudioPart) and user_audio is not None:
            pcm = AudioFormat("pcm16", 24000).encode(resample(user_audio, 16000, 24000))
            part.audio = base64.b64encode(pcm).decode("ascii")
        elif isinstance(part, OutputAudioPart) and out_audio is not None and out_audio.complete:
            data = out_fmt.encode(out_audio.samples().astype(np.float32) * np.float32(1 / 32768))
            part.audio = base64.b64encode(data).decode("ascii")
    return copy


def build_context(inputs: list[Any], conversation: Conversation) -> list[AnyItem]:
    """``response.input``: inline items and ``item_reference``s into the conversation."""
    items: list[AnyItem] = []
    for index, entry in enumerate(inputs):
        if entry.type == "item_reference":
            found = conversation.get(entry.id)
            if found is None:
                raise ProtocolError(f"Item with item_id not found: {entry.id}",
                                    code="invalid_value", param=f"response.input[{index}].id")
            items.append(found)
        else:
            items.append(entry)
    return items


# ------------------------------------------------------- client events on items


def retrieve_item(conversation: Conversation, item_id: str,
                  out_fmt: AudioFormat) -> ev.ConversationItemRetrieved:
    item = conversation.get(item_id)
    if item is None:
        raise ProtocolError(f"Item with item_id not found: {item_id}",
                            code="item_retrieve_invalid_item_id", param="item_id")
    return ev.ConversationItemRetrieved(item=retrieve_copy(item, conversation, out_fmt))


def truncate_item(conversation: Conversation, e: Any,
                  retained_items: int) -> ev.ConversationItemTruncated:
    """``conversation.item.truncate``: keep the audio that was played, and its words."""
    item = conversation.get(e.item_id)
    audio = conversation.output_audio.get(e.item_id)
    if item is None:
        raise ProtocolError(f"Item with item_id not found: {e.item_id}",
                            code="item_truncate_invalid_item_id", param="item_id")
    assistant = item.type == "message" and item.role == "assistant"
    if assistant and e.item_id in conversation.released:
        raise ProtocolError(
            "Cannot truncate: the audio of this item is no longer retained (the session "
            f"keeps the audio of its last {retained_items} assistant items only).",
            code="invalid_value", param="item_id")
    if not assistant or audio is None:
        raise ProtocolError("Only assistant messages with audio can be truncated.",
                            code="invalid_value", param="item_id")
    if e.content_index != 0:
        raise ProtocolError("Invalid 'content_index': the item has one content part.",
                            code="invalid_value", param="content_index")
    if e.audio_end_ms > audio.duration_ms():
        raise ProtocolError(
            f"Audio content of {audio.duration_ms()}ms is already shorter than "
            f"{e.audio_end_ms}ms", code="invalid_value", param="audio_end_ms")
    heard = audio.truncate(e.audio_end_ms * audio.sample_rate // 1000)
    item.content = [OutputAudioPart(transcript=heard)]  # type: ignore[union-attr]
    return ev.ConversationItemTruncated(item_id=e.item_id, content_index=0,
                                        audio_end_ms=e.audio_end_ms)


def delete_item(conversation: Conversation, item_id: str) -> ev.ConversationItemDeleted:
    if not conversation.delete(item_id):
        raise ProtocolError(f"Item with item_id not found: {item_id}",
                            code="item_delete_invalid_item_id", param="item_id")
    return ev.ConversationItemDeleted(item_id=item_id)
