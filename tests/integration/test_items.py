"""conversation.item.create/retrieve/delete/truncate and response.input, over a plain
websockets client (GA dialect), fake backends."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
import websockets

from openrealtime.backends.base import Backends
from tests.sound import pcm16, tone

Event = dict[str, Any]


class Client:
    """A bare GA client: send dicts, read events one by one."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    async def send(self, event: Event) -> None:
        await self.ws.send(json.dumps(event))

    async def recv(self, within: float = 5.0) -> Event:
        async with asyncio.timeout(within):
            event: Event = json.loads(await self.ws.recv())
            return event

    async def until(self, kind: str, within: float = 5.0) -> list[Event]:
        events: list[Event] = []
        async with asyncio.timeout(within):
            while True:
                events.append(await self.recv(within))
                if events[-1]["type"] == kind:
                    return events

    async def create(self, item: Event, previous_item_id: str | None = None) -> Event:
        """Create an item; return its ``conversation.item.done`` (after checking ``added``)."""
        event: Event = {"type": "conversation.item.create", "item": item}
        if previous_item_id is not None:
            event["previous_item_id"] = previous_item_id
        await self.send(event)
        added, done = await self.recv(), await self.recv()
        assert (added["type"], done["type"]) == ("conversation.item.added",
                                                 "conversation.item.done"), (added, done)
        assert added["previous_item_id"] == done["previous_item_id"]
        return done

    async def error(self, event: Event) -> Event:
        """Send a bad event; return the error detail, checking it names the event."""
        await self.send(event)
        reply = await self.recv()
        assert reply["type"] == "error", reply
        detail: Event = reply["error"]
        assert detail["type"] == "invalid_request_error"
        assert detail["event_id"] == event["event_id"]
        assert detail["message"]
        return detail

    async def retrieve(self, item_id: str) -> Event:
        await self.send({"type": "conversation.item.retrieve", "item_id": item_id})
        reply = await self.recv()
        assert reply["type"] == "conversation.item.retrieved", reply
        item: Event = reply["item"]
        return item

    async def respond(self, **response: Any) -> list[Event]:
        await self.send({"type": "response.create", "response": response})
        events = await self.until("response.done", within=10)
        assert (await self.recv())["type"] == "rate_limits.updated"
        return events


@pytest.fixture
async def conn(server_url: str) -> AsyncIterator[Client]:
    url = server_url.replace("http", "ws") + "/v1/realtime?model=gpt-realtime"
    async with websockets.connect(url, max_size=None) as ws:
        client = Client(ws)
        assert (await client.recv())["type"] == "session.created"
        await client.send({"type": "session.update", "session": {
            "type": "realtime", "instructions": "Be brief.", "output_modalities": ["text"],
            "audio": {"input": {"turn_detection": None}}}})
        assert (await client.recv())["type"] == "session.updated"
        yield client


def user(text: str, item_id: str | None = None) -> Event:
    item: Event = {"type": "message", "role": "user",
                   "content": [{"type": "input_text", "text": text}]}
    if item_id is not None:
        item["id"] = item_id
    return item


def said(role: str, text: str, item_id: str | None = None) -> Event:
    kind = {"system": "input_text", "user": "input_text", "assistant": "output_text"}[role]
    item: Event = {"type": "message", "role": role, "content": [{"type": kind, "text": text}]}
    if item_id is not None:
        item["id"] = item_id
    return item


async def test_insert_at_root_and_after_an_item(conn: Client, backends: Backends) -> None:
    first = await conn.create(said("user", "first", "item_first"))
    assert first["previous_item_id"] is None
    assert first["item"]["id"] == "item_first"
    assert first["item"]["object"] == "realtime.item"
    assert first["item"]["status"] == "completed"

    root = await conn.create(said("assistant", "at root", "item_root"), previous_item_id="root")
    assert root["previous_item_id"] is None
    middle = await conn.create(said("system", "Speak like a pirate.", "item_sys"),
                               previous_item_id="item_root")
    assert middle["previous_item_id"] == "item_root"
    last = await conn.create(said("assistant", "last"))
    assert last["previous_item_id"] == "item_first"
    assert last["item"]["id"].startswith("item_") and len(last["item"]["id"]) <= 32

    assert (await conn.retrieve("item_sys"))["content"] == [
        {"type": "input_text", "text": "Speak like a pirate."}]

    await conn.respond()
    llm: Any = backends.llm
    # Order root, sys, first, last; the system item keeps its role.
    assert llm.requests[-1].messages[:4] == [
        {"role": "system", "content": "Be brief."},
        {"role": "assistant", "content": "at root"},
        {"role": "system", "content": "Speak like a pirate."},
        {"role": "user", "content": "first"},
    ]
    assert llm.requests[-1].messages[4] == {"role": "assistant", "content": "last"}


async def test_system_message_reaches_the_llm_as_system(conn: Client,
                                                        backends: Backends) -> None:
    await conn.create(said("user", "Hi."))
    await conn.create(said("system", "The user is called Ada."))
    await conn.respond()
    llm: Any = backends.llm
    assert {"role": "system", "content": "The user is called Ada."} in llm.requests[-1].messages
    assert llm.requests[-1].messages[-1] == {"role": "system",
                                             "content": "The user is called Ada."}


async def test_retrieve_user_audio_returns_pcm16(conn: Client) -> None:
    audio = pcm16(tone(0.5))
    await conn.send({"type": "input_audio_buffer.append",
                     "audio": base64.b64encode(audio).decode()})
    await conn.send({"type": "input_audio_buffer.commit"})
    committed, added, done = await conn.recv(), await conn.recv(), await conn.recv()
    assert [committed["type"], added["type"], done["type"]] == [
        "input_audio_buffer.committed", "conversation.item.added", "conversation.item.done"]
    item_id = committed["item_id"]
    (part,) = done["item"]["content"]
    assert part["type"] == "input_audio"
    assert part.get("audio") is None  # no audio bytes in item events
    assert part["transcript"] is None

    item = await conn.retrieve(item_id)
    assert (item["id"], item["role"]) == (item_id, "user")
    part = item["content"][0]
    assert part["type"] == "input_audio"
    data = base64.b64decode(part["audio"], validate=True)
    assert len(data) % 2 == 0
    assert abs(len(data) - len(audio)) <= 2 * 48  # ~2 ms of resampler slack at 24 kHz
    got = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768
    rms = float(np.sqrt(np.mean(got[480:-480] ** 2)))
    assert 0.15 < rms < 0.25, rms  # the 0.3-amplitude tone came back (rms 0.21)


async def test_retrieve_unknown_is_an_error(conn: Client) -> None:
    err = await conn.error({"type": "conversation.item.retrieve", "item_id": "item_nope",
                            "event_id": "r1"})
    assert err["code"] == "item_retrieve_invalid_item_id"
    assert err["param"] == "item_id"
    assert "item_nope" in err["message"]


async def test_delete_then_retrieve_and_delete_unknown(conn: Client) -> None:
    await conn.create(user("to delete", "item_del"))
    await conn.send({"type": "conversation.item.delete", "item_id": "item_del",
                     "event_id": "d1"})
    deleted = await conn.recv()
    assert deleted["type"] == "conversation.item.deleted"
    assert deleted["item_id"] == "item_del"
    assert "d1" not in json.dumps(deleted)  # success events don't echo the event_id
    err = await conn.error({"type": "conversation.item.retrieve", "item_id": "item_del",
                            "event_id": "r2"})
    assert err["code"] == "item_retrieve_invalid_item_id"
    err = await conn.error({"type": "conversation.item.delete", "item_id": "item_del",
                            "event_id": "d2"})
    assert err["code"] == "item_delete_invalid_item_id"
    assert err["param"] == "item_id"
    # the id is free again
    assert (await conn.create(user("again", "item_del")))["item"]["id"] == "item_del"


async def test_bad_items_are_rejected(conn: Client, backends: Backends) -> None:
    long_id = "item_" + "x" * 28  # 33 characters
    err = await conn.error({"type": "conversation.item.create", "event_id": "c1",
                            "item": user("hi", long_id)})
    assert err["code"] == "string_above_max_length"
    assert err["param"] == "item.id"
    assert "32" in err["message"]

    await conn.create(user("hi", "item_dup"))
    err = await conn.error({"type": "conversation.item.create", "event_id": "c2",
                            "item": user("again", "item_dup")})
    assert err["param"] == "item.id"
    assert "item_dup" in err["message"]

    err = await conn.error({"type": "conversation.item.create", "event_id": "c3", "item": {
        "type": "message", "role": "assistant",
        "content": [{"type": "input_text", "text": "hi"}]}})
    assert err["code"] == "invalid_value"
    assert err["param"] == "item.content[0].type"
    assert "'input_text'" in err["message"]

    # none of them changed the conversation
    await conn.respond()
    llm: Any = backends.llm
    assert llm.requests[-1].messages == [{"role": "system", "content": "Be brief."},
                                         {"role": "user", "content": "hi"}]


async def test_response_input_is_exactly_the_context(conn: Client, backends: Backends) -> None:
    await conn.create(user("not referenced"))
    ref = await conn.create(user("What is 2+2?", "item_ref"))
    await conn.create(user("also not referenced"))
    events = await conn.respond(input=[
        {"type": "item_reference", "id": ref["item"]["id"]},
        said("system", "Answer in words.")])
    assert events[-1]["response"]["status"] == "completed"
    llm: Any = backends.llm
    assert llm.requests[-1].messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "system", "content": "Answer in words."},
    ]

    err = await conn.error({"type": "response.create", "event_id": "ri", "response": {
        "input": [{"type": "item_reference", "id": "item_missing"}]}})
    assert err["param"] == "response.input[0].id"

    # the inline input item was context only: it did not join the conversation
    await conn.respond()
    texts = [m["content"] for m in llm.requests[-1].messages]
    assert "Answer in words." not in " ".join(t or "" for t in texts)
    assert "not referenced" in texts[1]


async def assistant_audio_item(conn: Client, backends: Backends) -> str:
    llm: Any = backends.llm
    llm.reply = "Alpha beta. Gamma delta epsilon zeta."  # clauses of 2 and 4 words
    events = await conn.respond(output_modalities=["audio"])
    message = events[-1]["response"]["output"][0]
    assert message["content"][0]["transcript"] == llm.reply
    item_id: str = message["id"]
    return item_id


async def test_truncate_assistant_audio(conn: Client, backends: Backends) -> None:
    await conn.create(user("Say something."))
    item_id = await assistant_audio_item(conn, backends)
    full = await conn.retrieve(item_id)
    full_ms = len(base64.b64decode(full["content"][0]["audio"])) // 48
    assert 700 <= full_ms <= 740  # 6 words at 120 ms

    await conn.send({"type": "conversation.item.truncate", "item_id": item_id,
                     "content_index": 0, "audio_end_ms": 360, "event_id": "t1"})
    truncated = await conn.recv()
    assert truncated == {"type": "conversation.item.truncated",
                         "event_id": truncated["event_id"], "item_id": item_id,
                         "content_index": 0, "audio_end_ms": 360}
    item = await conn.retrieve(item_id)
    part = item["content"][0]
    assert part["type"] == "output_audio"
    assert part["transcript"] == "Alpha beta. Gamma"  # all of clause 1, a quarter of clause 2
    assert len(base64.b64decode(part["audio"])) == 360 * 48

    # the next response only knows what was heard
    await conn.create(user("Go on."))
    await conn.respond()
    llm: Any = backends.llm
    assert {"role": "assistant", "content": "Alpha beta. Gamma"} in llm.requests[-1].messages

    err = await conn.error({"type": "conversation.item.truncate", "item_id": item_id,
                            "content_index": 0, "audio_end_ms": 5000, "event_id": "t2"})
    assert "already shorter" in err["message"]
    assert "360ms" in err["message"] and "5000ms" in err["message"]


async def test_truncate_user_item_is_an_error(conn: Client) -> None:
    await conn.create(user("hello", "item_user"))
    err = await conn.error({"type": "conversation.item.truncate", "item_id": "item_user",
                            "content_index": 0, "audio_end_ms": 0, "event_id": "t3"})
    assert err["code"] == "invalid_value"
    assert err["param"] == "item_id"
    err = await conn.error({"type": "conversation.item.truncate", "item_id": "item_nope",
                            "content_index": 0, "audio_end_ms": 0, "event_id": "t4"})
    assert err["code"] == "item_truncate_invalid_item_id"
