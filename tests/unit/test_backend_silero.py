"""Silero stream bookkeeping (context + recurrent state) against a fake session."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from openrealtime.backends.base import VadStream
from openrealtime.backends.local.silero import CONTEXT_SAMPLES, WINDOW_SAMPLES, SileroStream


class FakeSession:
    """Records what the stream feeds the model; the state counts calls."""

    def __init__(self) -> None:
        self.inputs: list[np.ndarray] = []
        self.states: list[np.ndarray] = []

    def run(self, _outputs: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        self.inputs.append(feeds["input"].copy())
        self.states.append(feeds["h"].copy())
        return [np.array([0.75], dtype=np.float32), feeds["h"] + 1, feeds["c"] + 1]


def test_stream_prepends_previous_tail_and_carries_state() -> None:
    session = FakeSession()
    stream = SileroStream(session)
    assert isinstance(stream, VadStream)
    first = np.arange(WINDOW_SAMPLES, dtype=np.float32)
    second = -np.arange(WINDOW_SAMPLES, dtype=np.float32)
    assert stream.probability(first) == pytest.approx(0.75)
    stream.probability(second)
    fed_first, fed_second = session.inputs
    assert fed_first.shape == (1, CONTEXT_SAMPLES + WINDOW_SAMPLES)
    assert not fed_first[0, :CONTEXT_SAMPLES].any()  # no context before the first window
    np.testing.assert_array_equal(fed_second[0, :CONTEXT_SAMPLES], first[-CONTEXT_SAMPLES:])
    np.testing.assert_array_equal(fed_second[0, CONTEXT_SAMPLES:], second)
    assert session.states[0].max() == 0 and session.states[1].max() == 1


def test_reset_clears_context_and_state() -> None:
    session = FakeSession()
    stream = SileroStream(session)
    stream.probability(np.ones(WINDOW_SAMPLES, dtype=np.float32))
    stream.reset()
    stream.probability(np.ones(WINDOW_SAMPLES, dtype=np.float32))
    assert not session.inputs[1][0, :CONTEXT_SAMPLES].any()
    assert session.states[1].max() == 0


def test_wrong_window_size_is_rejected() -> None:
    with pytest.raises(ValueError):
        SileroStream(FakeSession()).probability(np.zeros(480, dtype=np.float32))
