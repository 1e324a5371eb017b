"""Serving past one machine, one replica at a time: Prometheus ``/metrics``, ``/readyz``,
the SIGTERM drain and ``--max-sessions`` (README, "Serving past one machine"). Two
replicas behind nginx sharing Redis: tests/e2e/test_scale_out.py."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import websockets
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from websockets.exceptions import InvalidStatus

from openrealtime.backends.base import Backends
from openrealtime.server.app import create_app
from openrealtime.server.run import running_server
from openrealtime.server.settings import Settings
from tests.services import free_port, ready, serve, stop, wait_until
from tests.sound import frames_b64, silence, tone

KEY = "sk-serving-test-0123456789"
TEXT_TURN = [
    {"type": "conversation.item.create", "item": {
        "type": "message", "role": "user",
        "content": [{"type": "input_text", "text": "What is the capital of France?"}]}},
    {"type": "response.create"},
]


def ws_url(url: str) -> str:
    return url.replace("http", "ws", 1) + "/v1/realtime?model=gpt-realtime"


async def connect(url: str) -> Any:
    ws = await websockets.connect(ws_url(url), max_size=None)
    assert json.loads(await ws.recv())["type"] == "session.created"
    return ws


async def until(ws: Any, kind: str, within: float = 10.0) -> dict[str, Any]:
    async with asyncio.timeout(within):
        while True:
            event = json.loads(await ws.recv())
            if event["type"] == kind:
                return dict(event)


async def text_turn(ws: Any) -> dict[str, Any]:
    for event in TEXT_TURN:
        await ws.send(json.dumps(event))
    return await until(ws, "response.done")


async def refused(url: str) -> tuple[int, dict[str, Any]]:
    with pytest.raises(InvalidStatus) as denied:
        await websockets.connect(ws_url(url))
    response = denied.value.response
    return response.status_code, json.loads(response.body or b"{}")


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(url: str, **headers: str) -> Samples:
    async with httpx.AsyncClient() as client:
        reply = await client.get(url + "/metrics", headers=headers)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(reply.text)
            for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
async def served(backends: Backends) -> AsyncIterator[tuple[Any, str]]:
    app = create_app(Settings(backend="fake"), backends=backends)
    async with running_server(app) as url:
        yield app, url


# ---------------------------------------------------------------------- /metrics


async def test_metrics_count_a_spoken_turn(served: tuple[Any, str]) -> None:
    _, url = served
    before = await scrape(url)
    assert value(before, "openrealtime_responses_total", status="completed") == 0
    assert value(before, "openrealtime_ready") == 1
    ws = await connect(url)
    try:
        # a spoken turn (the fake VAD hears the tone), sent faster than real time
        audio = np.concatenate([silence(0.3), tone(1.0), silence(1.0)])
        for frame in frames_b64(audio, 100):
            await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": frame}))
        done = await until(ws, "response.done")
        assert done["response"]["status"] == "completed"
        await ws.send(json.dumps({"type": "no.such.event"}))
        error = (await until(ws, "error"))["error"]
        after = await scrape(url)
    finally:
        await ws.close()
    assert value(after, "openrealtime_sessions_total", dialect="ga") == 1
    assert value(after, "openrealtime_sessions_open") == 1
    assert value(after, "openrealtime_turns_total") == 1
    assert value(after, "openrealtime_responses_total", status="completed") == 1
    assert value(after, "openrealtime_errors_total", type=error["type"],
                 code=error["code"]) == 1
    for stage in ("turn_first_audio", "stt", "llm_first_token", "tts_first_audio",
                  "response_first_audio"):
        assert value(after, "openrealtime_latency_seconds_count", stage=stage) >= 1, stage
        assert value(after, "openrealtime_latency_seconds_bucket", stage=stage, le="+Inf") >= 1
    # speech_stopped to the first audio delta: well under the 30 s bucket, above 0
    assert 0 < value(after, "openrealtime_latency_seconds_sum", stage="turn_first_audio") < 30
    for role in ("vad", "stt", "llm", "tts"):
        assert value(after, "openrealtime_model_up", role=role) == 1
    assert ("openrealtime_outbox_events", frozenset()) in after
    assert value(after, "process_resident_memory_bytes") > 0


async def test_each_app_has_its_own_registry(backends: Backends) -> None:
    one = create_app(Settings(backend="fake"), backends=backends)
    two = create_app(Settings(backend="fake"), backends=backends)
    async with running_server(one) as a, running_server(two) as b:
        ws = await connect(a)
        assert (await text_turn(ws))["response"]["status"] == "completed"
        await ws.close()
        assert value(await scrape(a), "openrealtime_responses_total", status="completed") == 1
        assert value(await scrape(b), "openrealtime_responses_total", status="completed") == 0
    assert not [name for name in REGISTRY._names_to_collectors if "openrealtime" in name]


async def test_metrics_are_open_unless_a_key_is_required(backends: Backends) -> None:
    for required in (False, True):
        app = create_app(Settings(backend="fake", api_keys=KEY, metrics_require_key=required),
                         backends=backends)
        async with running_server(app) as url, httpx.AsyncClient() as client:
            bare = await client.get(url + "/metrics")
            keyed = await client.get(url + "/metrics", headers={"Authorization": f"Bearer {KEY}"})
        assert keyed.status_code == 200
        assert bare.status_code == (401 if required else 200)
        if required:
            assert bare.json()["error"]["type"] == "invalid_request_error"


# ----------------------------------------------------------------- /readyz, drain


async def test_drain_refuses_new_sessions_and_lets_live_ones_finish(
        served: tuple[Any, str]) -> None:
    app, url = served
    server = app.state.server
    async with httpx.AsyncClient() as client:
        ready = await client.get(url + "/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        live = await connect(url)
        drain = asyncio.create_task(server.drain(30.0))
        await asyncio.sleep(0.05)
        draining = await client.get(url + "/readyz")
        assert draining.status_code == 503 and draining.json()["status"] == "draining"
        status, body = await refused(url)
        assert status == 503 and body["error"]["code"] == "server_shutting_down"
        assert body["error"]["type"] == "server_error"
        # the live session goes on: a whole turn, then a second one
        for _ in range(2):
            assert (await text_turn(live))["response"]["status"] == "completed"
        assert not drain.done()
        metrics = await scrape(url)
        assert value(metrics, "openrealtime_draining") == 1
        assert value(metrics, "openrealtime_ready") == 0
        assert value(metrics, "openrealtime_refused_total", reason="draining") == 1
        started = time.monotonic()
        await live.close()  # the session ends itself: the drain is over at once
        await asyncio.wait_for(drain, 5)
        assert time.monotonic() - started < 2


async def test_drain_deadline_ends_what_is_left_with_an_error(
        served: tuple[Any, str]) -> None:
    app, url = served
    ws = await connect(url)
    started = time.monotonic()
    await asyncio.wait_for(app.state.server.drain(0.3), 10)
    assert 0.3 <= time.monotonic() - started < 5
    error = await until(ws, "error")
    assert error["error"]["code"] == "server_shutting_down"
    assert error["error"]["type"] == "server_error"
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    assert not app.state.server.sessions


async def test_cli_max_sessions_and_sigterm_drain(tmp_path: Path) -> None:
    """The real ``openrealtime serve``: ``--max-sessions 2`` refuses the third session
    with 503 and a JSON body; SIGTERM drains (new sessions 503, live ones go on until
    ``--drain-timeout-s``, the rest get an error and close 1001) and exits 0."""
    port = free_port()
    log = tmp_path / "serve.log"
    process = serve(port, log, "--backend", "fake", "--max-sessions", "2",
                    "--drain-timeout-s", "3")
    url = f"http://127.0.0.1:{port}"
    try:
        await asyncio.to_thread(wait_until, lambda: ready(url), "serve", 30.0, process)
        first, second = await connect(url), await connect(url)
        status, body = await refused(url)
        assert status == 503
        assert body["error"]["code"] == "server_at_capacity"
        assert "2 sessions" in body["error"]["message"]
        assert (await text_turn(first))["response"]["status"] == "completed"

        process.send_signal(signal.SIGTERM)
        async with httpx.AsyncClient() as client:
            for _ in range(50):
                if (await client.get(url + "/readyz")).status_code == 503:
                    break
                await asyncio.sleep(0.05)
            assert (await client.get(url + "/readyz")).json()["status"] == "draining"
        status, body = await refused(url)
        assert status == 503 and body["error"]["code"] == "server_shutting_down"
        # the first session keeps working, then ends itself
        assert (await text_turn(first))["response"]["status"] == "completed"
        await first.close()
        # the second one stays until the deadline: an error, then close 1001
        error = await until(second, "error", within=10)
        assert error["error"]["code"] == "server_shutting_down"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await second.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        code = await asyncio.to_thread(process.wait, 15)
    finally:
        stop(process, signal.SIGKILL)
    assert code == 0, log.read_text()[-2000:]
    text = log.read_text()
    assert "drain deadline: ending 1 open sessions" in text
    assert "Finished server process" in text


async def test_metrics_show_model_workers(backends: Backends) -> None:
    # a worker as /healthz sees it (backends/worker/supervisor.py): restarting, twice
    backends.tts.health = lambda: {  # type: ignore[attr-defined]
        "state": "restarting", "pid": None, "restarts": 2, "in_flight": 3,
        "last_exit": "exited with signal SIGSEGV", "model": "Piper"}
    app = create_app(Settings(backend="fake"), backends=backends)
    async with running_server(app) as url:
        metrics = await scrape(url)
    assert value(metrics, "openrealtime_model_worker_restarts_total", role="tts") == 2
    assert value(metrics, "openrealtime_model_requests_in_flight", role="tts") == 3
    assert value(metrics, "openrealtime_model_up", role="tts") == 0
    assert value(metrics, "openrealtime_model_up", role="stt") == 1
