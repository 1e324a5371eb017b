"""Every client event type and every conversation item type in the openai SDK's GA
Realtime models, found by walking the SDK's own unions, gets the reference's answer or
a clear refusal naming the event: none is silently dropped. A type the SDK adds later
fails here until it is given a sample below and a decision.

(`test_sdk_surface.py` walks the fields of the session and of ``response.create``.)
"""

from __future__ import annotations

import asyncio
import base64
import json
import typing
from typing import Any

import pytest
import websockets

realtime_types = pytest.importorskip("openai.types.realtime")

SILENCE_200MS = base64.b64encode(b"\0\0" * 4800).decode()  # pcm16, 24 kHz
PNG_1PX = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42m"
           "P8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
NO_TURNS = {"type": "session.update",
            "session": {"type": "realtime", "audio": {"input": {"turn_detection": None}}}}
ASSISTANT = {"type": "message", "role": "assistant", "id": "item_a",
             "content": [{"type": "output_audio", "transcript": "Hello there, how are you?"}]}
CALL = {"type": "function_call", "call_id": "call_1", "name": "lookup", "arguments": "{}"}

# event type -> (events sent first, the event, the answer expected to it)
EVENTS: dict[str, tuple[list[dict[str, Any]], dict[str, Any], str]] = {
    "session.update": ([], {"session": {"type": "realtime", "instructions": "Be brief."}},
                       "session.updated"),
    "input_audio_buffer.append": (
        [NO_TURNS], {"audio": SILENCE_200MS}, ""),  # no answer; the commit below shows it
    "input_audio_buffer.commit": (
        [NO_TURNS, {"type": "input_audio_buffer.append", "audio": SILENCE_200MS}], {},
        "input_audio_buffer.committed"),
    "input_audio_buffer.clear": (
        [NO_TURNS, {"type": "input_audio_buffer.append", "audio": SILENCE_200MS}], {},
        "input_audio_buffer.cleared"),
    # WebRTC and SIP only on the reference (its WebSocket refuses it); here it is
    # answered on any transport, as a client bridging a phone line may send it
    "output_audio_buffer.clear": ([], {}, "output_audio_buffer.cleared"),
    "conversation.item.create": ([], {"item": {"type": "message", "role": "user", "content": [
        {"type": "input_text", "text": "Hi"}]}}, "conversation.item.added"),
    "conversation.item.retrieve": (
        [{"type": "conversation.item.create", "item": ASSISTANT}], {"item_id": "item_a"},
        "conversation.item.retrieved"),
    "conversation.item.truncate": (  # the item_id of the response's audio item
        [{"type": "response.create"}], {"content_index": 0, "audio_end_ms": 100},
        "conversation.item.truncated"),
    "conversation.item.delete": (
        [{"type": "conversation.item.create", "item": ASSISTANT}], {"item_id": "item_a"},
        "conversation.item.deleted"),
    "response.create": ([], {"response": {"instructions": "Say hi."}}, "response.created"),
    "response.cancel": ([], {}, "error"),  # nothing to cancel: the reference's error
}

# item variant (type, or message/role/content type) -> its sample; None: refused
ITEMS: dict[str, dict[str, Any] | None] = {
    "message/system/input_text": {"type": "message", "role": "system",
                                  "content": [{"type": "input_text", "text": "Be brief."}]},
    "message/user/input_text": {"type": "message", "role": "user",
                                "content": [{"type": "input_text", "text": "Hi"}]},
    "message/user/input_audio": {"type": "message", "role": "user",
                                 "content": [{"type": "input_audio", "audio": SILENCE_200MS}]},
    "message/user/input_image": {"type": "message", "role": "user",
                                 "content": [{"type": "input_image", "image_url": PNG_1PX}]},
    "message/assistant/output_text": {"type": "message", "role": "assistant",
                                      "content": [{"type": "output_text", "text": "Hello."}]},
    "message/assistant/output_audio": {"type": "message", "role": "assistant", "content": [
        {"type": "output_audio", "transcript": "Hello."}]},
    "function_call": CALL,
    "function_call_output": {"type": "function_call_output", "call_id": "call_1",
                             "output": '{"ok": true}'},
    # MCP servers are not supported: refused with the supported types named
    "mcp_approval_response": None,
    "mcp_list_tools": None,
    "mcp_call": None,
    "mcp_approval_request": None,
}


def _literals(model: Any, name: str) -> list[str]:
    """The string values a field's ``Literal`` (optional or not) allows."""
    field = model.model_fields.get(name)
    if field is None:
        return []
    out: list[str] = []
    for arg in typing.get_args(field.annotation):
        out += [v for v in typing.get_args(arg) if isinstance(v, str)] if typing.get_args(
            arg) else [arg] if isinstance(arg, str) else []
    return out


def _union(annotated: Any) -> tuple[Any, ...]:
    return typing.get_args(typing.get_args(annotated)[0])


def sdk_event_types() -> list[str]:
    return sorted(t for m in _union(realtime_types.RealtimeClientEvent)
                  for t in _literals(m, "type"))


def sdk_item_variants() -> list[str]:
    names = []
    for model in _union(realtime_types.ConversationItem):
        (kind,) = _literals(model, "type")
        if kind != "message":
            names.append(kind)
            continue
        (role,) = _literals(model, "role")
        content = typing.get_args(model.model_fields["content"].annotation)[0]
        parts = typing.get_args(content) or (content,)
        names += [f"message/{role}/{t}" for part in parts for t in _literals(part, "type")]
    return sorted(names)


def test_the_samples_cover_every_client_event_and_item_of_the_sdk() -> None:
    assert sdk_event_types() == sorted(EVENTS)
    assert sdk_item_variants() == sorted(ITEMS)


async def _answers(ws: Any, wait_s: float = 0.5) -> list[dict[str, Any]]:
    out = []
    try:
        while True:
            out.append(json.loads(await asyncio.wait_for(ws.recv(), wait_s)))
    except TimeoutError:
        return out


async def _connect(server_url: str) -> Any:
    ws = await websockets.connect(server_url.replace("http", "ws")
                                  + "/v1/realtime?model=gpt-realtime")
    await ws.recv()  # session.created
    return ws


@pytest.mark.parametrize("kind", sorted(EVENTS))
async def test_client_event_is_answered(server_url: str, kind: str) -> None:
    setup, fields, expected = EVENTS[kind]
    ws = await _connect(server_url)
    async with ws:
        for event in setup:
            await ws.send(json.dumps(event))
        before = await _answers(ws, 0.3)
        if kind == "conversation.item.truncate":
            fields = fields | {"item_id": next(a["item"]["id"] for a in before if a["type"]
                                               == "response.output_item.added")}
        await ws.send(json.dumps({"type": kind, "event_id": "evt_walk", **fields}))
        answers = await _answers(ws)
        if kind == "input_audio_buffer.append":  # silent, as on the reference
            assert not [a for a in answers if a["type"] == "error"], answers
            await ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
            answers = await _answers(ws)
            expected = "input_audio_buffer.committed"
        types = [a["type"] for a in answers]
        assert expected in types, answers
        if expected == "error":
            error = next(a for a in answers if a["type"] == "error")["error"]
            assert error["event_id"] == "evt_walk" and error["message"]
        else:
            assert "error" not in types, answers
        # and the session goes on
        await ws.send(json.dumps({"type": "session.update", "session": {"type": "realtime"}}))
        assert "session.updated" in [a["type"] for a in await _answers(ws)]


@pytest.mark.parametrize("variant", sorted(ITEMS))
async def test_conversation_item_is_added_or_refused(server_url: str, variant: str) -> None:
    item = ITEMS[variant] or {"type": variant}
    ws = await _connect(server_url)
    async with ws:
        if variant == "function_call_output":  # answers a call in the conversation
            await ws.send(json.dumps({"type": "conversation.item.create", "item": CALL}))
            await _answers(ws, 0.3)
        await ws.send(json.dumps({"type": "conversation.item.create", "event_id": "evt_item",
                                  "item": item}))
        answers = await _answers(ws)
    if ITEMS[variant] is None:
        error = next(a for a in answers if a["type"] == "error")["error"]
        assert error["event_id"] == "evt_item" and variant in error["message"]
        return
    added = next(a for a in answers if a["type"] == "conversation.item.added")["item"]
    assert added["type"] == item["type"]
    if item["type"] == "message":
        assert added["role"] == item["role"]
        assert added["content"][0]["type"] == item["content"][0]["type"]
