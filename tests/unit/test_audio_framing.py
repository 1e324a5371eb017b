"""Tests for openrealtime.audio.framing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openrealtime.audio import Framer


def test_basic() -> None:
    f = Framer(4)
    assert f.push(np.arange(3, dtype=np.float32)) == []
    assert f.pending == 3
    out = f.push(np.arange(3, 13, dtype=np.float32))
    assert [w.tolist() for w in out] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    assert all(w.dtype == np.float32 for w in out)
    assert f.pending == 1
    f.reset()
    assert f.pending == 0
    assert [w.tolist() for w in f.push(np.arange(4, dtype=np.float32))] == [[0, 1, 2, 3]]


def test_windows_are_fresh() -> None:
    f = Framer(4)
    x = np.arange(10, dtype=np.float32)
    f.push(x[:2])
    out = f.push(x[2:])
    snapshot = [w.copy() for w in out]
    x[:] = -1  # mutate input after the push
    f.push(np.full(7, 99, dtype=np.float32))  # reuse the internal buffer
    for w, s in zip(out, snapshot, strict=True):
        assert np.array_equal(w, s)
        assert not np.shares_memory(w, x)


def test_invalid_window() -> None:
    with pytest.raises(ValueError):
        Framer(0)


@settings(max_examples=200, deadline=None)
@given(window=st.integers(1, 40), sizes=st.lists(st.integers(0, 120), max_size=25))
def test_property_chunking_invariant(window: int, sizes: list[int]) -> None:
    total = sum(sizes)
    stream = np.arange(total, dtype=np.float32)
    f = Framer(window)
    out = []
    pos = 0
    for n in sizes:
        out.extend(f.push(stream[pos : pos + n]))
        pos += n
    whole = total // window
    assert f.pending == total - whole * window
    assert len(out) == whole
    assert all(len(w) == window for w in out)
    if whole:
        assert np.array_equal(np.concatenate(out), stream[: whole * window])
