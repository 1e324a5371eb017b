"""The client's gap count: where a player that plays an answer on from its first delta
would run dry (the figure bench/concurrency.py reports beside the latency)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest

from openrealtime.client import ask
from openrealtime.client.ask import RATE, TurnResult


def delta(seconds: float) -> str:
    pcm = np.zeros(int(seconds * RATE), dtype="<i2").tobytes()
    return json.dumps({"type": "response.output_audio.delta",
                       "delta": base64.b64encode(pcm).decode()})


class Timed:
    """A socket whose events arrive at given moments (the clock is faked)."""

    def __init__(self, events: list[tuple[float, str]], clock: list[float]) -> None:
        self.events, self.clock = events, clock

    async def __aiter__(self) -> AsyncIterator[str]:
        for at, message in self.events:
            self.clock[0] = at
            yield message


async def test_a_delta_later_than_the_audio_before_it_ran_counts_as_a_gap(
        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [0.0]
    monkeypatch.setattr(ask.time, "perf_counter", lambda: clock[0])
    done = json.dumps({"type": "response.done", "response": {"status": "completed"}})
    events = [(10.0, delta(0.5)),   # plays 10.0-10.5
              (10.3, delta(0.5)),   # in time: queued, plays 10.5-11.0
              (11.6, delta(0.5)),   # 0.6 s after the player ran dry
              (11.7, delta(0.2)),   # in time again
              (12.0, done)]
    result = TurnResult()
    socket: Any = Timed(events, clock)
    await ask._collect(socket, result, strict=True)
    assert result.stall_count == 1 and result.stalls_s == pytest.approx(0.6)
    assert result.first_audio == 10.0 and result.status == "completed"
