"""Property: whatever a GPT-Live client sends, the session survives and says so.

Hypothesis mutates Live client events (the same mutations as the Realtime fuzz: wrong
types, huge and deep values, surrogates, unknown fields and types) and sends them over
one ``/v1/live/sessions`` connection to the real server with fake backends. After each
frame an ``unmute`` with its own event_id is the barrier: its acknowledgement proves the
session is alive. No frame may cause a ``server_error`` (a bug).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.test_event_fuzz import _dumps, mutate
from tests.integration.test_live import start_event

LIVE_CORPUS: list[dict[str, Any]] = [
    start_event(delegation={"type": "responses", "responses": {"model": "m", "tools": [
        {"type": "function", "name": "f", "parameters": {"type": "object"}}]}}),
    {"type": "session.input_audio.append", "audio": base64.b64encode(bytes(960)).decode()},
    {"type": "session.input_audio.mute"},
    {"type": "session.input_audio.append", "audio": "not base64!"},
    {"type": "response.item.create", "item": {"type": "function_call_output",
                                              "call_id": "c1", "output": "{}"}},
    {"type": "response.create"},
    {"type": "session.update", "session": {"triggers": []}},
    {"type": "decision.create"},
    {"type": "session.output_audio.fixture.play", "audio": "AAAA"},
    {"type": "session.commentary.append", "content": "x", "delegation_id": None},
]


@st.composite
def live_frames(draw: Any) -> str:
    event = copy.deepcopy(draw(st.sampled_from(LIVE_CORPUS)))
    event["event_id"] = f"f{draw(st.integers(0, 10**9))}"
    mutate(event, draw, draw(st.integers(0, 3)))
    if event.get("type") == "session.close":
        event["type"] = "nope"  # never close the shared connection
    return _dumps(event, draw(st.booleans()))


@dataclass
class LiveSocket:
    url: str
    ws: Any = None
    ids: itertools.count[int] = field(default_factory=itertools.count)

    async def exchange(self, payload: str) -> list[dict[str, Any]]:
        if self.ws is None:
            self.ws = await websockets.connect(
                self.url.replace("http", "ws") + "/v1/live/sessions", max_size=None)
            await self.ws.send(json.dumps(start_event()))
        barrier = f"sync{next(self.ids)}"
        await self.ws.send(payload)
        await self.ws.send(json.dumps({"type": "session.input_audio.unmute",
                                       "event_id": barrier}))
        seen: list[dict[str, Any]] = []
        async with asyncio.timeout(10):
            while True:
                event = json.loads(await self.ws.recv())
                if event.get("client_event_id") == barrier:
                    assert event["type"] == "session.input_audio.unmuted", event
                    return seen
                seen.append(event)


@pytest.fixture
async def live_socket(server_url: str) -> AsyncIterator[LiveSocket]:
    holder = LiveSocket(server_url)
    yield holder
    if holder.ws is not None:
        await holder.ws.close()


@settings(max_examples=250, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow, HealthCheck.data_too_large])
@given(payload=live_frames())
async def test_no_live_frame_drops_the_session(live_socket: LiveSocket, payload: str) -> None:
    seen = await live_socket.exchange(payload)
    errors = [e["error"] for e in seen if e["type"] == "error"]
    assert not [e for e in errors if e.get("type") == "server_error"], errors
