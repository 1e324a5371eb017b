"""Two replicas behind nginx, sharing a Redis: the deployment of deploy/ run for real.

A real ``redis-server`` and a real ``nginx`` (running deploy/nginx.conf) on loopback,
two ``openrealtime serve --backend local`` processes (their models in worker processes):
a client secret minted by one replica opens a session on the other, a spoken question is
answered and counted in ``/metrics``, and SIGTERM on a replica drains it without cutting
its live session (new sessions there are refused, nginx sends them to the other one) and
exits 0. About 30-40 s on 2 cores, most of it the two replicas loading their models.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import websockets
from prometheus_client.parser import text_string_to_metric_families
from websockets.exceptions import InvalidStatus

from openrealtime.client.ask import ask_url
from tests.services import free_port, need, nginx, ready, redis_server, serve, stop, wait_until

pytestmark = pytest.mark.e2e


@contextlib.contextmanager
def replicas(tmp: Path, redis_url: str, count: int = 2) -> Iterator[list[Any]]:
    """``count`` replicas with local models, sharing ``redis_url``: (port, process) pairs."""
    started = []
    try:
        for index in range(count):
            port = free_port()
            process = serve(port, tmp / f"replica-{index}.log", "--backend", "local",
                            "--redis-url", redis_url, "--drain-timeout-s", "30",
                            env={"OPENREALTIME_THREADS": "1"})
            started.append((port, process))
        for port, process in started:
            wait_until(lambda port=port: ready(f"http://127.0.0.1:{port}"),
                       f"replica on {port}", 120.0, process)
        yield started
    finally:
        for _, process in started:
            stop(process, signal.SIGKILL)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def ws_url(base: str) -> str:
    return base.replace("http", "ws", 1) + "/v1/realtime?model=gpt-realtime"


async def opened(base: str, key: str | None = None) -> tuple[Any, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    ws = await websockets.connect(ws_url(base), additional_headers=headers, max_size=None)
    return ws, json.loads(await ws.recv())


async def answered(ws: Any, question: str) -> dict[str, Any]:
    await ws.send(json.dumps({"type": "conversation.item.create", "item": {
        "type": "message", "role": "user",
        "content": [{"type": "input_text", "text": question}]}}))
    await ws.send(json.dumps({"type": "response.create",
                              "response": {"output_modalities": ["text"]}}))
    async with asyncio.timeout(60):
        while True:
            event = json.loads(await ws.recv())
            if event["type"] == "response.done":
                return dict(event["response"])


async def test_two_replicas_behind_nginx_share_secrets_and_drain(
        tmp_path: Path, question_audio: np.ndarray) -> None:
    need("redis-server")
    need("nginx")
    with redis_server(tmp_path) as redis_url, \
            replicas(tmp_path, redis_url) as [(port_a, _), (port_b, process_b)], \
            nginx([port_a, port_b], tmp_path) as front:
        a, b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
        async with httpx.AsyncClient(timeout=10) as http:
            assert (await http.get(front + "/readyz")).status_code == 200
            assert (await http.get(front + "/metrics")).status_code == 404  # replicas only

            # --- a secret minted by one replica opens a session on the other
            minted_a = (await http.post(a + "/v1/realtime/client_secrets", json={"session": {
                "type": "realtime", "instructions": "You are a terse geography tutor."}})).json()
            ws, created = await opened(b, minted_a["value"])
            await ws.close()
            assert created["type"] == "session.created", created
            assert created["session"]["instructions"] == "You are a terse geography tutor."
            minted_b = (await http.post(b + "/v1/realtime/sessions", json={})).json()
            minted_front = (await http.post(front + "/v1/realtime/client_secrets",
                                            json={})).json()
            for key in (minted_b["client_secret"]["value"], minted_front["value"]):
                for base in (a, front):
                    ws, created = await opened(base, key)
                    await ws.close()
                    assert created["type"] == "session.created", (base, created)

            # --- a spoken question to replica A, through the real models; /metrics moves
            result = await ask_url(a, question_audio, realtime=False,
                                   api_key=minted_b["client_secret"]["value"])
            assert result.status in ("completed", "incomplete"), result
            assert "japan" in result.question.lower()
            assert len(result.audio) > 24000 * 0.3
            metrics = samples((await http.get(a + "/metrics")).text)
            done = sum(v for (name, labels), v in metrics.items()
                       if name == "openrealtime_responses_total"
                       and dict(labels)["status"] in ("completed", "incomplete"))
            assert done >= 1
            assert metrics[("openrealtime_turns_total", frozenset())] >= 1
            for stage in ("turn_first_audio", "stt", "llm_first_token", "tts_first_audio"):
                count = metrics[("openrealtime_latency_seconds_count",
                                 frozenset({("stage", stage)}))]
                assert count >= 1, stage
            assert metrics[("openrealtime_model_up", frozenset({("role", "llm")}))] == 1
            assert metrics[("openrealtime_model_worker_restarts_total",
                            frozenset({("role", "tts")}))] == 0

            # --- SIGTERM drains replica B without cutting its live session
            live, created = await opened(b)
            assert created["type"] == "session.created"
            process_b.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 5
            while (await http.get(b + "/readyz")).status_code != 503:
                assert time.monotonic() < deadline, "B did not start draining"
                await asyncio.sleep(0.05)
            with pytest.raises(InvalidStatus) as refused:
                await websockets.connect(ws_url(b))
            assert refused.value.response.status_code == 503
            body = json.loads(refused.value.response.body or b"{}")
            assert body["error"]["code"] == "server_shutting_down"
            # through nginx new sessions still open (B's 503 sends them to A)
            for _ in range(4):
                ws, created = await opened(front)
                await ws.close()
                assert created["type"] == "session.created", created
            assert (await http.get(front + "/readyz")).status_code == 200
            # the live session on B goes on, with its models, until it ends itself
            response = await answered(live, "Name one ocean.")
            assert response["status"] in ("completed", "incomplete"), response
            assert process_b.poll() is None
            await live.close()
            code = await asyncio.to_thread(process_b.wait, 30)
            assert code == 0, (tmp_path / "replica-1.log").read_text()[-3000:]
            # A serves on, through nginx too
            ws, created = await opened(front)
            await ws.close()
            assert created["type"] == "session.created"
        log_b = (tmp_path / "replica-1.log").read_text()
        assert "drained: 0 sessions open" in log_b and "drain deadline" not in log_b
