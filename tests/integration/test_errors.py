"""Bad input never kills a session: each mistake gets the reference's error event,
naming the offending event_id, and the next valid event still works."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from typing import Any

import pytest
import websockets

from tests.sound import pcm16, tone


async def connect(url: str, **kwargs: Any) -> Any:
    ws = await websockets.connect(url.replace("http", "ws") + "/v1/realtime?model=gpt-realtime",
                                  max_size=None, **kwargs)
    created = json.loads(await ws.recv())
    assert created["type"] == "session.created"
    return ws


async def next_event(ws: Any, kind: str, within: float = 5.0) -> dict[str, Any]:
    async with asyncio.timeout(within):
        while True:
            event = json.loads(await ws.recv())
            if event["type"] == kind:
                return event


async def still_alive(ws: Any) -> None:
    await ws.send(json.dumps({"type": "session.update", "event_id": "alive",
                              "session": {"type": "realtime", "instructions": "Be brief."}}))
    updated = await next_event(ws, "session.updated")
    assert updated["session"]["instructions"] == "Be brief."


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


MANUAL = {"type": "session.update", "session": {
    "type": "realtime", "audio": {"input": {"turn_detection": None}}}}

CASES = [
    # (frame, expected code, expected param, expected event_id)
    ("not json", "invalid_json", None, None),
    ('{"event_id": "e1"}', "invalid_event", "type", "e1"),
    ('{"type": "nope", "event_id": "e2"}', "invalid_value", "type", "e2"),
    ('{"type": "conversation.item.delete", "event_id": "e3"}',
     "missing_required_parameter", "item_id", "e3"),
    ('{"type": "input_audio_buffer.append", "audio": "!!notbase64!!", "event_id": "e4"}',
     "invalid_value", "audio", "e4"),
    ('{"type": "session.update", "event_id": "e5", "session": {"type": "realtime", '
     '"audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 7}}}}}',
     "decimal_above_max_value", "session.audio.input.turn_detection.threshold", "e5"),
    ('{"type": "session.update", "event_id": "e6", "session": {"type": "realtime", '
     '"bogus": 1}}', "unknown_parameter", "session.bogus", "e6"),
    ('{"type": "session.update", "event_id": "e7", "session": {"instructions": "x"}}',
     "missing_required_parameter", "session.type", "e7"),
    ('{"type": "session.update", "event_id": "e8", "session": {"type": "realtime", '
     '"output_modalities": ["video"]}}', "invalid_value", "session.output_modalities[0]", "e8"),
    ('{"type": "input_audio_buffer.commit", "event_id": "e9"}',
     "input_audio_buffer_commit_empty", None, "e9"),
    ('{"type": "response.cancel", "event_id": "e10"}', "response_cancel_not_active", None, "e10"),
    ('{"type": "conversation.item.create", "event_id": "e11", "item": {"type": "message", '
     '"role": "assistant", "content": [{"type": "input_text", "text": "hi"}]}}',
     "invalid_value", "item.content[0].type", "e11"),
    ('{"type": "conversation.item.create", "event_id": "e12", "previous_item_id": "nope", '
     '"item": {"type": "message", "role": "user", "content": [{"type": "input_text", '
     '"text": "hi"}]}}', "invalid_value", "previous_item_id", "e12"),
    ('{"type": "conversation.item.truncate", "event_id": "e13", "item_id": "nope", '
     '"content_index": 0, "audio_end_ms": 10}', "item_truncate_invalid_item_id", "item_id", "e13"),
]
# A frame over the size limit is refused while being read (close 1009): test_limits.py.


@pytest.mark.parametrize(("frame", "code", "param", "event_id"), CASES,
                         ids=[c[1] + "-" + str(i) for i, c in enumerate(CASES)])
async def test_bad_event_gets_error_and_session_continues(
        server_url: str, frame: str, code: str, param: str | None, event_id: str | None) -> None:
    ws = await connect(server_url)
    try:
        await ws.send(json.dumps(MANUAL))
        await next_event(ws, "session.updated")
        await ws.send(frame)
        error = (await next_event(ws, "error"))["error"]
        assert error["type"] == "invalid_request_error"
        assert error["code"] == code, error
        assert error["param"] == param, error
        assert error["event_id"] == event_id
        assert error["message"]
        await still_alive(ws)
    finally:
        await ws.close()


async def test_binary_frame(server_url: str) -> None:
    ws = await connect(server_url)
    try:
        await ws.send(b"\x00\x01")
        error = (await next_event(ws, "error"))["error"]
        assert error["code"] == "invalid_event"
        assert "binary" in error["message"]
        await still_alive(ws)
    finally:
        await ws.close()


async def test_short_commit_then_valid_commit(server_url: str) -> None:
    ws = await connect(server_url)
    try:
        await ws.send(json.dumps(MANUAL))
        await next_event(ws, "session.updated")
        await ws.send(json.dumps({"type": "input_audio_buffer.append",
                                  "audio": b64(pcm16(tone(0.05)))}))
        await ws.send(json.dumps({"type": "input_audio_buffer.commit", "event_id": "short"}))
        error = (await next_event(ws, "error"))["error"]
        assert error["code"] == "input_audio_buffer_commit_empty"
        assert error["event_id"] == "short"
        shown = float(re.search(r"only has ([0-9.]+)ms", error["message"]).group(1))  # type: ignore[union-attr]
        assert 49 <= shown <= 50
        await ws.send(json.dumps({"type": "input_audio_buffer.append",
                                  "audio": b64(pcm16(tone(0.5)))}))
        await ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
        committed = await next_event(ws, "input_audio_buffer.committed")
        assert committed["item_id"].startswith("item_")
    finally:
        await ws.close()


async def test_response_create_while_active(server_url: str, backends: Any) -> None:
    backends.llm.token_delay_s = 0.05
    ws = await connect(server_url)
    try:
        await ws.send(json.dumps({"type": "response.create"}))
        created = await next_event(ws, "response.created")
        await ws.send(json.dumps({"type": "response.create", "event_id": "twice"}))
        error = (await next_event(ws, "error"))["error"]
        assert error["code"] == "conversation_already_has_active_response"
        assert created["response"]["id"] in error["message"]
        assert error["event_id"] == "twice"
        done = await next_event(ws, "response.done", within=10)
        assert done["response"]["status"] == "completed"
        await still_alive(ws)
    finally:
        await ws.close()


async def test_voice_locked_after_audio(server_url: str) -> None:
    ws = await connect(server_url)
    try:
        await ws.send(json.dumps({"type": "response.create"}))
        await next_event(ws, "response.done", within=10)
        await ws.send(json.dumps({"type": "session.update", "event_id": "v", "session": {
            "type": "realtime", "instructions": "changed",
            "audio": {"output": {"voice": "echo"}}}}))
        error = (await next_event(ws, "error"))["error"]
        assert error["code"] == "cannot_update_voice"
        # the whole update was discarded: instructions unchanged
        await ws.send(json.dumps({"type": "session.update",
                                  "session": {"type": "realtime"}}))
        updated = await next_event(ws, "session.updated")
        assert updated["session"]["instructions"] != "changed"
    finally:
        await ws.close()


async def test_disconnect_mid_response_leaves_nothing_running(
        server_url: str, backends: Any) -> None:
    """The autouse leak fixture fails this test if a response task survives."""
    backends.llm.token_delay_s = 0.05
    ws = await connect(server_url)
    await ws.send(json.dumps({"type": "response.create"}))
    await next_event(ws, "response.output_audio.delta", within=10)
    await ws.close()
    await asyncio.sleep(0.3)
    assert backends.llm.requests, "the response had started before the disconnect"


async def test_auth_required(backends: Any) -> None:
    from openrealtime.server.app import create_app
    from openrealtime.server.run import running_server
    from openrealtime.server.settings import Settings

    app = create_app(Settings(backend="fake", api_keys="sk-good"), backends=backends)
    async with running_server(app) as url:
        base = url.replace("http", "ws") + "/v1/realtime?model=gpt-realtime"
        async with websockets.connect(base, additional_headers={
                "Authorization": "Bearer sk-bad-key-123"}) as ws:
            error = json.loads(await ws.recv())
            assert error["error"]["code"] == "invalid_api_key"
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd.code == 3000
        for kwargs in ({"additional_headers": {"Authorization": "Bearer sk-good"}},
                       {"additional_headers": {"api-key": "sk-good"}},
                       {"subprotocols": ["realtime", "openai-insecure-api-key.sk-good"]}):
            async with websockets.connect(base, **kwargs) as ws:  # type: ignore[arg-type]
                assert json.loads(await ws.recv())["type"] == "session.created"
                if "subprotocols" in kwargs:
                    assert ws.subprotocol == "realtime"


async def test_session_expires_with_error_and_close_1001(backends: Any) -> None:
    from openrealtime.server.app import create_app
    from openrealtime.server.run import running_server
    from openrealtime.server.settings import Settings

    app = create_app(Settings(backend="fake", max_session_s=0.5), backends=backends)
    async with running_server(app) as url:
        ws = await connect(url)
        error = (await next_event(ws, "error", within=5))["error"]
        assert error["code"] == "session_expired"
        assert "maximum duration" in error["message"]
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
