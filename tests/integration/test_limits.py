"""Limits as data at the server edge (README "Limits"): each cap is a setting, enforced
before the work it guards, on a real uvicorn server on loopback with real clients."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from openrealtime.backends.base import Backends
from openrealtime.cli import main
from openrealtime.cost.recording import SessionRecorder, read_recording
from openrealtime.server.app import create_app
from openrealtime.server.guard import origin_allowed
from openrealtime.server.run import SecretRedactor, redact, running_server
from openrealtime.server.settings import Settings

KEY = "sk-limits-test-0123456789"
SESSION_BODY = {"session": {"type": "realtime"}}


@contextlib.asynccontextmanager
async def serving(backends: Backends, log_level: str = "warning",
                  **settings: Any) -> AsyncIterator[str]:
    app = create_app(Settings(backend="fake", **settings), backends=backends)
    async with running_server(app, log_level=log_level) as url:
        yield url


def ws_url(url: str, query: str = "?model=gpt-realtime") -> str:
    return url.replace("http", "ws", 1) + "/v1/realtime" + query


async def session(url: str, **kwargs: Any) -> Any:
    ws = await websockets.connect(ws_url(url), **kwargs)
    assert json.loads(await ws.recv())["type"] == "session.created"
    return ws


async def denied(url: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    """The HTTP status and JSON body of a handshake the server refuses."""
    with pytest.raises(InvalidStatus) as refused:
        await websockets.connect(ws_url(url), **kwargs)
    response = refused.value.response
    return response.status_code, json.loads(response.body or b"{}")


async def refused_counts(url: str) -> dict[str, int]:
    async with httpx.AsyncClient(base_url=url) as client:
        health = (await client.get("/healthz")).json()
    assert "workers" in health and health["status"] in ("ok", "degraded")
    return dict(health["limits"]["refused"])


async def closed(reader: asyncio.StreamReader) -> bool:
    """True once the server has closed the socket (EOF or reset)."""
    try:
        while await reader.read(4096):
            pass
    except ConnectionResetError:
        pass
    return True


# ------------------------------------------------------------------ session caps


async def test_sessions_over_the_cap_get_503_before_the_upgrade(backends: Backends) -> None:
    async with serving(backends, max_sessions=2) as url:
        first, second = await session(url), await session(url)
        status, body = await denied(url)
        assert status == 503
        assert body["error"]["code"] == "server_at_capacity"
        assert body["error"]["type"] == "server_error" and "2 sessions" in body["error"]["message"]
        await first.close()
        await asyncio.sleep(0.05)
        third = await session(url)  # the place is free again
        async with httpx.AsyncClient(base_url=url) as client:
            limits = (await client.get("/healthz")).json()["limits"]
        assert limits["sessions"] == 2 and limits["refused"] == {"max_sessions": 1}
        await second.close()
        await third.close()


async def test_one_client_address_is_capped_with_429(backends: Backends) -> None:
    async with serving(backends, max_connections_per_client=1) as url:
        ws = await session(url)
        status, body = await denied(url)
        assert status == 429 and body["error"]["code"] == "too_many_connections"
        await ws.close()
        await asyncio.sleep(0.05)
        await (await session(url)).close()
        assert (await refused_counts(url)) == {"max_connections_per_client": 1}


async def test_connections_over_max_connections_are_closed_at_once(
        backends: Backends) -> None:
    async with serving(backends, max_connections=3) as url:
        port = int(url.rsplit(":", 1)[1])
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        async with asyncio.timeout(10):
            assert await closed(reader)
        writer.close()
        for _, w in held:
            w.close()
        await asyncio.sleep(0.05)
        assert (await refused_counts(url)) == {"max_connections": 1}


# ---------------------------------------------------------------------- slowloris


async def trickle(port: int, keep_alive_first: bool) -> bool:
    """Start a request head and send one more header byte every 50 ms; True when the
    server closes the socket."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        if keep_alive_first:  # a served request first: the deadline re-arms after it
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert b" 200 " in await reader.readuntil(b"\r\n\r\n")
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")
        sender = asyncio.create_task(_drip(writer))
        try:
            async with asyncio.timeout(10):
                return await closed(reader)
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
    finally:
        writer.close()


async def _drip(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while True:
            writer.write(b"X")
            await writer.drain()
            await asyncio.sleep(0.05)


async def test_slow_request_heads_are_closed_after_header_timeout(
        backends: Backends) -> None:
    async with serving(backends, header_timeout_s=0.5) as url:
        port = int(url.rsplit(":", 1)[1])
        results = await asyncio.gather(*(trickle(port, keep_alive_first=i % 2 == 1)
                                         for i in range(20)))
        assert all(results)
        assert (await refused_counts(url)) == {"header_timeout": 20}


async def test_header_timeout_spares_websocket_sessions(backends: Backends) -> None:
    async with serving(backends, header_timeout_s=0.2) as url:
        ws = await session(url)
        await asyncio.sleep(0.6)  # well past the head deadline of its handshake
        await ws.send(json.dumps({"type": "session.update",
                                  "session": {"type": "realtime", "instructions": "Hi."}}))
        while (event := json.loads(await ws.recv()))["type"] != "session.updated":
            pass
        assert event["session"]["instructions"] == "Hi."
        await ws.close()
        assert (await refused_counts(url)) == {}


# ----------------------------------------------------------------- frames, bodies


async def test_frame_over_the_limit_is_refused_from_its_header(backends: Backends) -> None:
    limit = 64 * 1024
    async with serving(backends, max_frame_bytes=limit) as url:
        port = int(url.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /v1/realtime?model=gpt-realtime HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     b"Sec-WebSocket-Version: 13\r\n\r\n")
        assert b" 101 " in await reader.readuntil(b"\r\n\r\n")
        # The header of a 1 GiB text frame, and not one byte of its payload.
        writer.write(bytes([0x81, 0x80 | 127]) + struct.pack("!Q", 2**30) + os.urandom(4))
        async with asyncio.timeout(10):
            code = await close_code(reader)
        writer.close()
        assert code == 1009
        # A frame just under the limit is still read (and answered: not valid JSON).
        ws = await session(url, max_size=None)
        await ws.send("x" * (limit - 1))
        error = json.loads(await ws.recv())
        assert error["type"] == "error"
        await ws.send("y" * (limit + 1))
        with pytest.raises(websockets.ConnectionClosed) as closing:
            while True:
                await ws.recv()
        assert closing.value.rcvd is not None and closing.value.rcvd.code == 1009
        await asyncio.sleep(0.05)
        assert (await refused_counts(url)) == {"frame_too_large": 2}


async def test_largest_legal_append_is_accepted(backends: Backends) -> None:
    """15 MiB of audio (20 MiB of base64) in one append: the reference's maximum."""
    audio = base64.b64encode(bytes(15 * 1024 * 1024)).decode()
    async with serving(backends) as url:
        ws = await session(url, max_size=None)
        await ws.send(json.dumps({"type": "session.update", "session": {
            "type": "realtime", "audio": {"input": {"turn_detection": None}}}}))
        await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": audio}))
        await ws.send(json.dumps({"type": "input_audio_buffer.commit", "event_id": "c"}))
        async with asyncio.timeout(30):
            while (event := json.loads(await ws.recv()))["type"] not in (
                    "input_audio_buffer.committed", "error"):
                pass
        assert event["type"] == "input_audio_buffer.committed", event
        await ws.close()


async def test_driver_refuses_frames_over_the_limit_on_any_transport(
        backends: Backends) -> None:
    from openrealtime.protocol.session import RealtimeSession
    from openrealtime.runtime.driver import MAX_FRAME_BYTES, SessionDriver

    driver = SessionDriver(backends, RealtimeSession(model="gpt-realtime"))
    await driver.handle_frame("x" * (MAX_FRAME_BYTES + 1))
    error = (await driver.outbox.get()).model_dump()["error"]
    assert error["code"] == "invalid_event" and "Message too large" in error["message"]


async def close_code(reader: asyncio.StreamReader) -> int:
    """Read server frames (unmasked) until a close frame; return its code."""
    while True:
        head = await reader.readexactly(2)
        length = head[1] & 0x7F
        if length == 126:
            length = struct.unpack("!H", await reader.readexactly(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", await reader.readexactly(8))[0]
        payload = await reader.readexactly(length)
        if head[0] & 0x0F == 0x8:
            return int(struct.unpack("!H", payload[:2])[0])


async def test_rest_bodies_over_the_cap_get_413(backends: Backends) -> None:
    async with serving(backends, max_body_bytes=1024) as url, \
            httpx.AsyncClient(base_url=url) as client:
        path = "/v1/realtime/client_secrets"
        declared = await client.post(path, json={**SESSION_BODY, "pad": "x" * 2000})
        assert declared.status_code == 413
        error = declared.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert error["code"] == "request_too_large" and "1024 bytes" in error["message"]

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as read
            for _ in range(8):
                yield b" " * 512

        streamed = await client.post(path, content=chunks(),
                                     headers={"Content-Type": "application/json"})
        assert streamed.status_code == 413
        assert (await client.post(path, json=SESSION_BODY)).status_code == 200
        assert (await refused_counts(url)) == {"body_too_large": 2}


async def test_slow_rest_body_gets_408(backends: Backends) -> None:
    async with serving(backends, body_timeout_s=0.2) as url, \
            httpx.AsyncClient(base_url=url) as client:
        async def slow() -> AsyncIterator[bytes]:
            yield b"{"
            await asyncio.sleep(0.5)
            yield b"}"

        reply = await client.post("/v1/realtime/client_secrets", content=slow())
        assert reply.status_code == 408
        assert reply.json()["error"]["code"] == "request_timeout"


# ------------------------------------------------------------------------ origins


@pytest.mark.parametrize(("origin", "host", "allowed", "ok"), [
    (None, "example.com", "", True),  # not a browser
    ("http://localhost:3000", "example.com", "", True),
    ("http://127.0.0.1:5173", "example.com", "", True),
    ("http://[::1]:8080", "example.com", "", True),
    ("https://realtime.example.com", "realtime.example.com", "", True),  # same origin
    ("https://realtime.example.com", "realtime.example.com:443", "", True),
    ("http://realtime.example.com:8765", "realtime.example.com:8765", "", True),
    ("http://realtime.example.com:8000", "realtime.example.com:8765", "", False),
    ("https://evil.example", "realtime.example.com", "", False),
    ("https://localhost.evil.example", "realtime.example.com", "", False),
    ("null", "127.0.0.1:8765", "", False),  # sandboxed frames, file:// pages
    ("https://app.example.com", "api.example.com", "https://app.example.com", True),
    ("https://APP.example.com/", "api.example.com", "https://app.example.com", True),
    ("https://evil.example", "api.example.com", "*", True),
    ("http://x:notaport", "x", "", False),
])
def test_origin_rule(origin: str | None, host: str, allowed: str, ok: bool) -> None:
    settings = Settings(backend="fake", allowed_origins=allowed)
    assert origin_allowed(origin, host, settings.origins) is ok


async def test_foreign_pages_are_refused_with_403(backends: Backends) -> None:
    async with serving(backends, api_keys=KEY) as url, \
            httpx.AsyncClient(base_url=url) as client:
        auth = {"Authorization": f"Bearer {KEY}"}
        status, body = await denied(url, origin="https://evil.example", additional_headers=auth)
        assert status == 403 and body["error"]["code"] == "origin_not_allowed"
        await (await session(url, origin="http://localhost:3000", additional_headers=auth)).close()
        ws = await session(url, additional_headers=auth)  # no Origin: an SDK
        await ws.close()
        for path in ("/v1/realtime/client_secrets", "/v1/realtime/sessions"):
            reply = await client.post(path, json=SESSION_BODY,
                                      headers={**auth, "Origin": "https://evil.example"})
            assert reply.status_code == 403
            assert reply.json()["error"]["code"] == "origin_not_allowed"
        assert (await client.post("/v1/realtime/client_secrets", json=SESSION_BODY,
                                  headers=auth)).status_code == 200
        assert (await refused_counts(url)) == {"origin": 3}


async def test_keyless_server_checks_origin_and_allow_list_opens_it(
        backends: Backends) -> None:
    async with serving(backends) as url:
        assert (await denied(url, origin="https://evil.example"))[0] == 403
    async with serving(backends, allowed_origins="https://evil.example") as url:
        await (await session(url, origin="https://evil.example")).close()


# ----------------------------------------------------------------- keys and logs


async def test_key_in_query_is_refused(backends: Backends) -> None:
    async with serving(backends, api_keys=KEY) as url:
        ws = await websockets.connect(ws_url(url, f"?model=gpt-realtime&api-key={KEY}"))
        error = json.loads(await ws.recv())["error"]
        assert error["code"] == "api_key_in_query" and "Authorization" in error["message"]
        with pytest.raises(websockets.ConnectionClosed) as closing:
            await ws.recv()
        assert closing.value.rcvd is not None and closing.value.rcvd.code == 3000


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


async def test_no_key_reaches_the_logs(backends: Backends) -> None:
    from uvicorn.logging import AccessFormatter

    access, error = Lines(), Lines()
    access.setFormatter(AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s'))
    async with serving(backends, log_level="info", api_keys=KEY) as url:
        logging.getLogger("uvicorn.access").addHandler(access)
        logging.getLogger("uvicorn.error").addHandler(error)
        try:
            async with httpx.AsyncClient(base_url=url) as client:
                query = f"?api-key={KEY}&token=ek_abcdef123456&x=1"
                await client.post("/v1/realtime/client_secrets" + query, json=SESSION_BODY)
                await client.get(f"/healthz?{KEY}")
            ws = await websockets.connect(ws_url(url, f"?model=gpt-realtime&api-key={KEY}"))
            await ws.recv()
            await ws.close()
        finally:
            logging.getLogger("uvicorn.access").removeHandler(access)
            logging.getLogger("uvicorn.error").removeHandler(error)
    logged = "\n".join(access.lines + error.lines)
    assert "/v1/realtime/client_secrets?api-key=***&token=***&x=1" in logged
    assert "/healthz?sk-***" in logged and "WebSocket /v1/realtime" in logged
    assert KEY[3:] not in logged and "abcdef123456" not in logged


def test_redaction() -> None:
    assert redact("/v1/realtime?model=m&api-key=sk-abc&key=k1") == \
        "/v1/realtime?model=m&api-key=***&key=***"
    assert redact("client_secret=ek_68ab12cd&b=2") == "client_secret=***&b=2"
    assert redact("auth sk-proj-AbC_123-xyz ok") == "auth sk-*** ok"
    assert redact("/v1/realtime?model=gpt-realtime&monkey=1") == \
        "/v1/realtime?model=gpt-realtime&monkey=1"
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, "%s %s",
                               ("GET", "/?api-key=sk-1234567"), None)
    assert SecretRedactor().filter(record) and record.getMessage() == "GET /?api-key=***"


# --------------------------------------------------------------------- recordings


async def test_recording_stops_at_its_cap(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    recorder = SessionRecorder(path, model="gpt-realtime", session_id="s", max_bytes=8192)
    event = json.dumps({"type": "response.output_text.delta", "delta": "é" * 200})
    for _ in range(100):
        recorder.record(event)
    await recorder.close()
    data = path.read_bytes()
    assert len(data) <= 8192
    lines = [json.loads(line) for line in data.decode().splitlines()]
    assert [e["type"] for e in lines[-2:]] == ["recording.truncated", "recording.stopped"]
    kept = len(lines) - 3
    assert 0 < kept < 100 and lines[-2]["events"] == kept and lines[-1]["events"] == 100
    recording = read_recording(path)
    assert recording.truncated and recording.events == kept


async def test_server_recordings_are_capped(backends: Backends, tmp_path: Path) -> None:
    async with serving(backends, record_dir=tmp_path, max_recording_bytes=8192) as url:
        ws = await session(url)
        for n in range(10):
            await ws.send(json.dumps({"type": "session.update", "session": {
                "type": "realtime", "instructions": f"{n} " + "Be brief. " * 50}}))
        for _ in range(10):
            while json.loads(await ws.recv())["type"] != "session.updated":
                pass
        await ws.close()
        await asyncio.sleep(0.1)
    _check_capped(tmp_path, 8192)


def _check_capped(folder: Path, cap: int) -> None:
    [path] = folder.iterdir()
    assert path.stat().st_size <= cap
    assert read_recording(path).truncated


# ----------------------------------------------------------------------- settings


def test_fake_backend_with_llm_url_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="fake backend does not use an LLM"):
        Settings(backend="fake", llm_url="http://127.0.0.1:1/v1")
    assert main(["serve", "--backend", "fake", "--llm-url", "http://127.0.0.1:1/v1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "fake backend does not use an LLM" in err


def test_frame_limit_cannot_pass_the_protocol_maximum() -> None:
    from openrealtime.runtime.driver import MAX_FRAME_BYTES

    # 15 MiB of audio is 20 MiB of base64 in an append.
    assert Settings().max_frame_bytes == MAX_FRAME_BYTES >= 20 * 1024 * 1024 + 4096
    with pytest.raises(ValueError):
        Settings(max_frame_bytes=MAX_FRAME_BYTES + 1)


async def test_idle_session_is_told_and_closed(backends: Backends) -> None:
    async with serving(backends, session_idle_timeout_s=0.5) as url:
        ws = await session(url)
        await ws.send(json.dumps({"type": "session.update", "session": {"type": "realtime"}}))
        assert json.loads(await ws.recv())["type"] == "session.updated"  # activity resets it
        async with asyncio.timeout(10):
            error = json.loads(await ws.recv())
            await ws.wait_closed()
        assert error["type"] == "error" and error["error"]["code"] == "session_idle_timeout"
        assert ws.close_code == 1000
