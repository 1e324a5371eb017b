"""Ephemeral client secrets: GA ``POST /v1/realtime/client_secrets`` and beta
``POST /v1/realtime/sessions`` (protocol reference §1.4), and ``ek_`` keys on the WebSocket."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets
from openai import AsyncOpenAI
from starlette.applications import Starlette

from openrealtime.backends.base import Backends
from openrealtime.server.app import create_app
from openrealtime.server.run import running_server
from openrealtime.server.settings import Settings

KEY = "sk-test-secrets-1"


@pytest.fixture
async def served(backends: Backends) -> AsyncIterator[tuple[Starlette, str]]:
    app = create_app(Settings(backend="fake"), backends=backends)
    async with running_server(app) as url:
        yield app, url


@pytest.fixture
async def keyed(backends: Backends) -> AsyncIterator[tuple[Starlette, str]]:
    app = create_app(Settings(backend="fake", api_keys=KEY), backends=backends)
    async with running_server(app) as url:
        yield app, url


async def post(url: str, path: str, body: Any, key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx.AsyncClient(base_url=url) as client:
        return await client.post(path, json=body, headers=headers)


async def secret_for(url: str, session: dict[str, Any], key: str | None = None,
                     **extra: Any) -> dict[str, Any]:
    reply = await post(url, "/v1/realtime/client_secrets",
                       {"session": {"type": "realtime", **session}, **extra}, key)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def ws_url(url: str, query: str = "") -> str:
    return url.replace("http", "ws", 1) + "/v1/realtime" + query


async def first_event(secret: str, url: str, query: str = "",
                      beta: bool = False) -> tuple[dict[str, Any], Any]:
    """Connect the way a browser does; return the first event and the socket."""
    protocols = ["realtime", f"openai-insecure-api-key.{secret}"]
    if beta:
        protocols.append("openai-beta.realtime-v1")
    ws = await websockets.connect(ws_url(url, query), subprotocols=protocols, max_size=None)
    return json.loads(await ws.recv()), ws


async def refused(url: str, secret: str) -> tuple[dict[str, Any], int, str]:
    event, ws = await first_event(secret, url)
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await ws.recv()
    assert closed.value.rcvd is not None
    return event, closed.value.rcvd.code, closed.value.rcvd.reason


# --------------------------------------------------------------------- GA shapes


async def test_ga_secret_shape_and_default_ttl(served: tuple[Starlette, str]) -> None:
    _, url = served
    before = time.time()
    body = await secret_for(url, {"model": "gpt-realtime", "instructions": "Talk like a pirate.",
                                  "audio": {"output": {"voice": "marin"}}})
    assert body["value"].startswith("ek_") and len(body["value"]) > 20
    assert before + 600 - 2 <= body["expires_at"] <= time.time() + 600 + 1
    session = body["session"]
    assert session["type"] == "realtime" and session["object"] == "realtime.session"
    assert session["id"].startswith("sess_")
    assert session["model"] == "gpt-realtime"
    assert session["instructions"] == "Talk like a pirate."
    assert session["audio"]["output"]["voice"] == "marin"
    # the full effective session: defaults filled in
    assert session["audio"]["input"]["turn_detection"]["type"] == "server_vad"
    assert session["output_modalities"] == ["audio"]


async def test_ga_secret_without_body_gets_defaults(served: tuple[Starlette, str]) -> None:
    _, url = served
    async with httpx.AsyncClient(base_url=url) as client:
        reply = await client.post("/v1/realtime/client_secrets")
    assert reply.status_code == 200
    assert reply.json()["session"]["type"] == "realtime"


@pytest.mark.parametrize("seconds", [10, 7200])
async def test_ttl_bounds_are_accepted(served: tuple[Starlette, str], seconds: int) -> None:
    _, url = served
    body = await secret_for(url, {}, expires_after={"anchor": "created_at", "seconds": seconds})
    assert abs(body["expires_at"] - (time.time() + seconds)) <= 2


@pytest.mark.parametrize(("seconds", "code"), [(9, "integer_below_min_value"),
                                               (0, "integer_below_min_value"),
                                               (7201, "integer_above_max_value")])
async def test_ttl_out_of_bounds_is_400(served: tuple[Starlette, str], seconds: int,
                                        code: str) -> None:
    _, url = served
    reply = await post(url, "/v1/realtime/client_secrets",
                       {"expires_after": {"anchor": "created_at", "seconds": seconds},
                        "session": {"type": "realtime"}})
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error == {"message": error["message"], "type": "invalid_request_error",
                     "param": "expires_after.seconds", "code": code}
    assert str(seconds) in error["message"]


@pytest.mark.parametrize(("session", "code", "param"), [
    ({"type": "realtime", "temperature": 0.8}, "unknown_parameter", "session.temperature"),
    ({"type": "realtime", "output_modalities": ["audio", "text"]}, "invalid_value",
     "session.output_modalities"),
    ({"type": "transcription", "instructions": "no"}, "unknown_parameter",
     "session.instructions"),
    ({"instructions": "no type"}, "missing_required_parameter", "session.type"),
])
async def test_bad_session_is_400(served: tuple[Starlette, str], session: dict[str, Any],
                                  code: str, param: str) -> None:
    _, url = served
    reply = await post(url, "/v1/realtime/client_secrets", {"session": session})
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == code
    assert reply.json()["error"]["param"] == param


async def test_unknown_top_level_field_and_bad_json_are_400(
        served: tuple[Starlette, str]) -> None:
    _, url = served
    reply = await post(url, "/v1/realtime/client_secrets", {"session": {"type": "realtime"},
                                                            "bogus": 1})
    assert reply.status_code == 400 and reply.json()["error"]["param"] == "bogus"
    async with httpx.AsyncClient(base_url=url) as client:
        reply = await client.post("/v1/realtime/client_secrets", content=b"{not json")
    assert reply.status_code == 400 and reply.json()["error"]["code"] == "invalid_json"


# --------------------------------------------------------------------- beta shapes


async def test_beta_sessions_shape_and_default_ttl(served: tuple[Starlette, str]) -> None:
    _, url = served
    reply = await post(url, "/v1/realtime/sessions", {
        "model": "gpt-4o-realtime-preview", "modalities": ["audio", "text"], "voice": "verse",
        "instructions": "Be terse.", "input_audio_format": "pcm16", "temperature": 0.7})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["object"] == "realtime.session" and body["id"].startswith("sess_")
    assert body["model"] == "gpt-4o-realtime-preview"
    assert body["modalities"] == ["audio", "text"] and body["voice"] == "verse"
    assert body["instructions"] == "Be terse." and body["temperature"] == 0.7
    secret = body["client_secret"]
    assert secret["value"].startswith("ek_")
    assert abs(secret["expires_at"] - (time.time() + 60)) <= 2  # beta default: one minute


async def test_beta_sessions_ttl_and_unknown_field(served: tuple[Starlette, str]) -> None:
    _, url = served
    ok = await post(url, "/v1/realtime/sessions", {
        "client_secret": {"expires_after": {"anchor": "created_at", "seconds": 300}}})
    assert abs(ok.json()["client_secret"]["expires_at"] - (time.time() + 300)) <= 2
    short = await post(url, "/v1/realtime/sessions", {
        "client_secret": {"expires_after": {"anchor": "created_at", "seconds": 5}}})
    assert short.status_code == 400
    assert short.json()["error"]["param"] == "client_secret.expires_after.seconds"
    unknown = await post(url, "/v1/realtime/sessions", {"bogus": True})
    assert unknown.status_code == 400
    assert unknown.json()["error"] == {"message": "Unknown parameter: 'bogus'.",
                                       "type": "invalid_request_error", "param": "bogus",
                                       "code": "unknown_parameter"}


# --------------------------------------------------------------------- WebSocket


async def test_secret_session_config_applies_to_each_session(
        served: tuple[Starlette, str]) -> None:
    _, url = served
    body = await secret_for(url, {"instructions": "Only speak French.", "tools": [
        {"type": "function", "name": "show_time", "parameters": {"type": "object"}}],
        "audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 0.7,
                                               "silence_duration_ms": 650}}}})
    ids = set()
    for _ in range(2):  # a GA secret opens several sessions until it expires
        created, ws = await first_event(body["value"], url)  # no ?model=: the secret has it
        await ws.close()
        assert ws.subprotocol == "realtime"
        session = created["session"]
        assert created["type"] == "session.created"
        assert session["instructions"] == "Only speak French."
        assert session["tools"][0]["name"] == "show_time"
        vad = session["audio"]["input"]["turn_detection"]
        assert (vad["threshold"], vad["silence_duration_ms"]) == (0.7, 650)
        assert session["model"] == "gpt-realtime"
        ids.add(session["id"])
    assert len(ids) == 2  # each connection is its own session


async def test_beta_secret_on_a_beta_connection(served: tuple[Starlette, str]) -> None:
    _, url = served
    reply = await post(url, "/v1/realtime/sessions", {"instructions": "Be terse.",
                                                      "voice": "echo"})
    created, ws = await first_event(reply.json()["client_secret"]["value"], url, beta=True)
    await ws.close()
    assert created["session"]["instructions"] == "Be terse."
    assert created["session"]["voice"] == "echo"  # the beta shape


async def test_secret_as_bearer_with_the_openai_sdk(served: tuple[Starlette, str]) -> None:
    _, url = served
    body = await secret_for(url, {"instructions": "From the SDK."})
    client = AsyncOpenAI(api_key=body["value"], base_url=url + "/v1",
                         websocket_base_url=url.replace("http", "ws", 1) + "/v1")
    async with client.realtime.connect(model="gpt-realtime") as conn:
        event = await conn.recv()
    assert event.type == "session.created"
    assert event.session.instructions == "From the SDK."  # type: ignore[union-attr]


async def test_transcription_secret_opens_a_transcription_session(
        served: tuple[Starlette, str]) -> None:
    """A secret for ``session.type: "transcription"`` (what a captioning page holds)
    opens transcription sessions through the SDK, no ``intent`` needed."""
    _, url = served
    reply = await post(url, "/v1/realtime/client_secrets", {"session": {
        "type": "transcription",
        "audio": {"input": {"transcription": {"model": "whisper-1", "language": "de"}}}}})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["session"]["type"] == "transcription"
    assert body["session"]["audio"]["input"]["transcription"]["language"] == "de"
    client = AsyncOpenAI(api_key=body["value"], base_url=url + "/v1",
                         websocket_base_url=url.replace("http", "ws", 1) + "/v1")
    async with client.realtime.connect() as conn:
        event = await conn.recv()
        await conn.response.create()
        refused = await conn.recv()
    assert event.type == "session.created"
    assert event.session.type == "transcription"
    assert event.session.audio.input.transcription.language == "de"  # type: ignore[union-attr]
    assert refused.type == "error"


async def test_expired_secret_is_refused(served: tuple[Starlette, str]) -> None:
    app, url = served
    body = await secret_for(url, {}, expires_after={"anchor": "created_at", "seconds": 10})
    store = app.state.server.secrets
    store.clock = lambda: time.time() + 11
    event, code, reason = await refused(url, body["value"])
    assert event["type"] == "error"
    assert event["error"]["code"] == "invalid_api_key"
    assert "expired" in event["error"]["message"]
    assert body["value"] not in event["error"]["message"]  # never echo a whole key
    assert (code, reason) == (3000, "invalid_request_error.invalid_api_key")


async def test_unknown_secret_is_refused_without_api_keys(
        served: tuple[Starlette, str]) -> None:
    _, url = served
    event, code, _ = await refused(url, "ek_never_issued_by_this_server")
    assert event["error"]["code"] == "invalid_api_key"
    assert "Incorrect API key" in event["error"]["message"]
    assert code == 3000


async def test_open_session_outlives_its_secret(served: tuple[Starlette, str]) -> None:
    app, url = served
    body = await secret_for(url, {}, expires_after={"anchor": "created_at", "seconds": 10})
    _, ws = await first_event(body["value"], url)
    app.state.server.secrets.clock = lambda: time.time() + 60
    await ws.send(json.dumps({"type": "session.update",
                              "session": {"type": "realtime", "instructions": "Still here."}}))
    updated = json.loads(await ws.recv())
    await ws.close()
    assert updated["type"] == "session.updated"


# --------------------------------------------------------------------- API keys


async def test_api_key_required_when_configured(keyed: tuple[Starlette, str]) -> None:
    _, url = keyed
    for path in ("/v1/realtime/client_secrets", "/v1/realtime/sessions"):
        missing = await post(url, path, {})
        assert missing.status_code == 401
        assert missing.json()["error"]["message"] == (
            "Missing bearer or basic authentication in header")
        wrong = await post(url, path, {}, key="sk-wrong-key-123")
        assert wrong.status_code == 401
        assert wrong.json()["error"]["code"] == "invalid_api_key"
    body = await secret_for(url, {"instructions": "Keyed."}, key=KEY)
    # a secret does not mint further secrets
    again = await post(url, "/v1/realtime/client_secrets", {}, key=body["value"])
    assert again.status_code == 401
    # ...but opens the WebSocket, where the page never shows the real key
    created, ws = await first_event(body["value"], url)
    await ws.close()
    assert created["session"]["instructions"] == "Keyed."


async def test_console_page_and_assets_are_served(served: tuple[Starlette, str]) -> None:
    _, url = served
    async with httpx.AsyncClient(base_url=url) as client:
        page = await client.get("/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert "console/app.js" in page.text
        for asset in ("app.js", "audio.js", "ui.js", "tools.js", "capture-worklet.js",
                      "playback-worklet.js", "style.css"):
            reply = await client.get(f"/console/{asset}")
            assert reply.status_code == 200, asset
        assert "javascript" in (await client.get("/console/app.js")).headers["content-type"]
        assert (await client.get("/console/missing.js")).status_code == 404
