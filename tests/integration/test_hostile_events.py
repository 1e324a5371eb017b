"""No event can drop a session (issue 10): each frame that used to end the connection
with close 1006 now gets one ``error`` event naming its event_id, and the session still
answers the next ``session.update``. GA and beta, over the real server."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from openrealtime.core import Session
from openrealtime.protocol.dialect import GaCodec
from openrealtime.protocol.frame import MAX_JSON_DEPTH
from openrealtime.protocol.session import MAX_INSTRUCTIONS_CHARS
from openrealtime.server.app import create_app
from openrealtime.server.run import running_server
from openrealtime.server.settings import Settings
from tests.integration.test_errors import connect, next_event, still_alive

BETA = {"OpenAI-Beta": "realtime=v1"}


def nested(depth: int) -> Any:
    """A JSON value nesting ``depth`` levels: objects and arrays in turn."""
    value: Any = "leaf"
    for level in range(depth):
        value = {"k": value} if level % 2 else [value]
    return value


def session_update(event_id: str, **fields: Any) -> str:
    return json.dumps({"type": "session.update", "event_id": event_id,
                       "session": {"type": "realtime", **fields}})


DEEP = nested(300)  # accepted by json.loads, and too deep for pydantic's serializer (255)
LONG = "x" * (MAX_INSTRUCTIONS_CHARS + 1)

GA_CASES = [
    # (frame, code, param, event_id)
    ('{"type": "\\ud800x", "event_id": "e1"}', "invalid_value", "type", "e1"),
    ('{"type": "session.update", "event_id": "e2", "session": {"type": "realtime", '
     '"instructions": "hi \\udc00"}}', "invalid_value", "session.instructions", "e2"),
    ('{"type": "session.update", "event_id": "e3", "session": {"\\ud800": 1}}',
     "invalid_value", "session.\\ud800", "e3"),
    ('{"type": "session.update", "event_id": "\\ud800"}', "invalid_value", "event_id",
     "\\ud800"),
    ("[" * 5000, "invalid_event", None, None),
    ('{"type": "session.update", "event_id": "e5", "x": ' + "[" * 5000 + "]" * 5000 + "}",
     "invalid_event", None, None),
    (session_update("e6", tracing=DEEP), "invalid_event", None, "e6"),
    (session_update("e7", prompt={"id": "p", "variables": DEEP}), "invalid_event", None, "e7"),
    (session_update("e8", tools=[{"type": "function", "name": "f", "parameters": DEEP}]),
     "invalid_event", None, "e8"),
    (json.dumps({"type": "response.create", "event_id": "e9",
                 "response": {"prompt": {"id": "p", "x": DEEP}}}), "invalid_event", None, "e9"),
    (json.dumps({"type": "response.create", "event_id": "e10",
                 "response": {"metadata": {"k": DEEP}}}), "invalid_event", None, "e10"),
    (session_update("e11", tracing=nested(MAX_JSON_DEPTH)), "invalid_event", None, "e11"),
    ('{"type": "session.update", "event_id": "e12", "session": {"type": "realtime", '
     '"audio": {"output": {"speed": NaN}}}}', "invalid_json", None, None),
    ('{"type": "session.update", "event_id": "e13", "session": {"type": "realtime", '
     '"audio": {"output": {"speed": 1e400}}}}', "invalid_json", None, None),
    (session_update("e14", instructions=LONG), "string_above_max_length",
     "session.instructions", "e14"),
    (json.dumps({"type": "response.create", "event_id": "e15",
                 "response": {"instructions": LONG}}), "string_above_max_length",
     "response.instructions", "e15"),
    (json.dumps({"type": "conversation.item.create", "event_id": "e16",
                 "item": {"type": "bogus"}}), "invalid_value", "item.type", "e16"),
]

BETA_CASES = [
    ('{"type": "\\ud800x", "event_id": "b1"}', "invalid_value", "type", "b1"),
    ("[" * 5000, "invalid_event", None, None),
    ('{"type": "session.update", "event_id": "b2", "session": {"input_audio_format": '
     '["pcm16"]}}', "invalid_type", "session.input_audio_format", "b2"),
    ('{"type": "session.update", "event_id": "b3", "session": {"output_audio_format": '
     '{"type": "pcm16"}}}', "invalid_type", "session.output_audio_format", "b3"),
    ('{"type": "session.update", "event_id": "b4", "session": {"input_audio_format": null}}',
     "invalid_type", "session.input_audio_format", "b4"),
    ('{"type": "session.update", "event_id": "b5", "session": {"modalities": ["text", 5]}}',
     "invalid_type", "session.modalities[1]", "b5"),
    ('{"type": "session.update", "event_id": "b6", "session": {"modalities": "text"}}',
     "invalid_type", "session.modalities", "b6"),
    ('{"type": "session.update", "event_id": "b7", "session": []}',
     "invalid_type", "session", "b7"),
    ('{"type": "session.update", "event_id": "b8", "session": {"voice": ["alloy"]}}',
     "invalid_type", "session.voice", "b8"),
    ('{"type": "session.update", "event_id": "b9", "session": {"turn_detection": 5}}',
     "invalid_type", "session.turn_detection", "b9"),
    ('{"type": "session.update", "event_id": "b10", "session": {"turn_detection": '
     '{"type": "server_vad", "threshold": "loud"}}}', "invalid_type",
     "session.turn_detection.threshold", "b10"),
    ('{"type": "response.create", "event_id": "b11", "response": {"output_audio_format": 7}}',
     "invalid_type", "response.output_audio_format", "b11"),
    ('{"type": "response.create", "event_id": "b12", "response": {"modalities": [null]}}',
     "invalid_type", "response.modalities[0]", "b12"),
    ('{"type": "conversation.item.create", "event_id": "b13", "item": {"type": "message", '
     '"role": "assistant", "content": [5]}}', "invalid_type", "item.content[0]", "b13"),
    (json.dumps({"type": "session.update", "event_id": "b14",
                 "session": {"tracing": DEEP}}), "invalid_event", None, "b14"),
    (json.dumps({"type": "session.update", "event_id": "b15", "session": {
        "instructions": LONG}}), "string_above_max_length", "session.instructions", "b15"),
]


async def beta_alive(ws: Any) -> None:
    await ws.send(json.dumps({"type": "session.update", "event_id": "alive",
                              "session": {"instructions": "Be brief."}}))
    updated = await next_event(ws, "session.updated")
    assert updated["session"]["instructions"] == "Be brief."


async def expect_error(ws: Any, frame: str, code: str, param: str | None,
                       event_id: str | None) -> dict[str, Any]:
    await ws.send(frame)
    error: dict[str, Any] = (await next_event(ws, "error"))["error"]
    assert error["type"] == "invalid_request_error", error
    assert error["code"] == code, error
    assert error["param"] == param, error
    assert error["event_id"] == event_id, error
    assert error["message"]
    return error


@pytest.mark.parametrize(("frame", "code", "param", "event_id"), GA_CASES,
                         ids=[f"{c[1]}-{i}" for i, c in enumerate(GA_CASES)])
async def test_ga_hostile_event(server_url: str, frame: str, code: str, param: str | None,
                                event_id: str | None) -> None:
    ws = await connect(server_url)
    try:
        error = await expect_error(ws, frame, code, param, event_id)
        if code == "invalid_event":
            assert "nesting too deep" in error["message"]
        await still_alive(ws)
    finally:
        await ws.close()


@pytest.mark.parametrize(("frame", "code", "param", "event_id"), BETA_CASES,
                         ids=[f"{c[1]}-{i}" for i, c in enumerate(BETA_CASES)])
async def test_beta_hostile_event(server_url: str, frame: str, code: str, param: str | None,
                                  event_id: str | None) -> None:
    ws = await connect(server_url, additional_headers=BETA)
    try:
        await expect_error(ws, frame, code, param, event_id)
        await beta_alive(ws)
    finally:
        await ws.close()


async def test_nesting_within_the_limit_is_kept(server_url: str) -> None:
    ws = await connect(server_url)
    try:
        tracing = {"group_id": "g", "metadata": nested(MAX_JSON_DEPTH - 4)}
        await ws.send(session_update("ok", tracing=tracing))
        updated = await next_event(ws, "session.updated")
        assert updated["session"]["tracing"] == tracing
    finally:
        await ws.close()


async def test_valid_surrogate_pair_is_kept(server_url: str) -> None:
    ws = await connect(server_url)
    try:
        await ws.send('{"type": "session.update", "session": {"type": "realtime", '
                      '"instructions": "smile \\ud83d\\ude00"}}')
        updated = await next_event(ws, "session.updated")
        assert updated["session"]["instructions"] == "smile \U0001f600"
    finally:
        await ws.close()


async def test_unexpected_exception_becomes_server_error(
        server_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: Session, event: Any) -> Any:
        raise ZeroDivisionError("a bug in the core")

    monkeypatch.setattr(Session, "_item_delete", broken)
    ws = await connect(server_url)
    try:
        with caplog.at_level(logging.ERROR, logger="openrealtime.runtime.driver"):
            await ws.send(json.dumps({"type": "conversation.item.delete", "item_id": "x",
                                      "event_id": "boom"}))
            error = (await next_event(ws, "error"))["error"]
        assert error["type"] == "server_error"
        assert error["event_id"] == "boom"
        assert any(r.exc_info and r.exc_info[0] is ZeroDivisionError for r in caplog.records)
        await still_alive(ws)
    finally:
        await ws.close()


async def test_unencodable_event_becomes_error_event(
        server_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    encode = GaCodec.encode

    def fragile(self: GaCodec, event: Any, temperature: float) -> list[str]:
        if event.type == "conversation.item.deleted":
            raise ValueError("cannot encode")
        return encode(self, event, temperature)

    monkeypatch.setattr(GaCodec, "encode", fragile)
    ws = await connect(server_url)
    try:
        await ws.send(json.dumps({"type": "conversation.item.create", "item": {
            "id": "it1", "type": "message", "role": "user",
            "content": [{"type": "input_text", "text": "hi"}]}}))
        await next_event(ws, "conversation.item.added")
        with caplog.at_level(logging.ERROR, logger="openrealtime.runtime.driver"):
            await ws.send(json.dumps({"type": "conversation.item.delete", "item_id": "it1"}))
            error = (await next_event(ws, "error"))["error"]
        assert error["type"] == "server_error"
        assert "conversation.item.deleted" in error["message"]
        assert any(r.exc_info and r.exc_info[0] is ValueError for r in caplog.records)
        await still_alive(ws)
    finally:
        await ws.close()


async def test_rate_limit_drops_events_and_session_goes_on(backends: Any) -> None:
    settings = Settings(backend="fake", max_events_per_s=20.0)  # bursts of 40
    async with running_server(create_app(settings, backends=backends)) as url:
        await _rate_limited_session(url)


async def _rate_limited_session(server_url: str) -> None:
    ws = await connect(server_url)
    try:
        count = 300
        for i in range(count):
            await ws.send(json.dumps({"type": "conversation.item.retrieve", "item_id": "nope",
                                      "event_id": f"r{i}"}))
        codes: dict[str, str] = {}
        while len(codes) < count:
            error = (await next_event(ws, "error"))["error"]
            codes[error["event_id"]] = error["code"]
        assert set(codes) == {f"r{i}" for i in range(count)}  # each answered, once
        assert codes["r0"] == "item_retrieve_invalid_item_id"
        assert "rate_limit_exceeded" in codes.values()
        # The bucket refills: the session still works once the client slows down.
        await asyncio.sleep(0.3)
        await still_alive(ws)
    finally:
        await ws.close()
