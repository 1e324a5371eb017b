"""The outbox bounds what waits for a client: audio by backpressure, control events by a cap."""

from __future__ import annotations

import asyncio
import json

from openrealtime.backends.fake import fake_backends
from openrealtime.protocol import server_events as ev
from openrealtime.protocol.session import RealtimeSession
from openrealtime.runtime.driver import SessionDriver
from openrealtime.runtime.outbox import Outbox


def error(n: int) -> ev.ServerEvent:
    return ev.error_event({"type": "invalid_request_error", "code": "x", "message": str(n),
                           "param": None, "event_id": None})


def test_control_events_past_the_cap_are_dropped_and_flagged() -> None:
    outbox = Outbox(max_events=3)
    for n in range(5):
        outbox.put_nowait(error(n))
    assert len(outbox) == 3
    assert outbox.overflowed


async def test_a_client_that_never_reads_is_closed_not_buffered() -> None:
    """Thousands of bad events, each answered with an error the client never reads."""
    driver = SessionDriver(fake_backends(), RealtimeSession(model="gpt-realtime"))
    frames = iter([json.dumps({"type": "nope", "event_id": f"e{i}"}) for i in range(6000)])

    async def receive() -> str | None:
        await asyncio.sleep(0)
        return next(frames, None)

    async def send(text: str) -> None:
        await asyncio.Event().wait()  # the socket never drains

    close = await asyncio.wait_for(driver.run(receive, send), 30)
    assert close is not None and close[0] == 1008
    assert len(driver.outbox) <= 4096 + 1
