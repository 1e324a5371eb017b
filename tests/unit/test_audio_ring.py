"""Tests for openrealtime.audio.ring."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openrealtime.audio import SampleRing


def test_basic_write_read() -> None:
    r = SampleRing(8)
    assert (r.start, r.end, len(r)) == (0, 0, 0)
    r.write(np.arange(5, dtype=np.float32))
    assert (r.start, r.end) == (0, 5)
    assert r.read(1, 4).tolist() == [1, 2, 3]
    r.write(np.arange(5, 10, dtype=np.float32))  # wraps
    assert (r.start, r.end) == (2, 10)
    assert r.read(0, 10).tolist() == list(range(2, 10))  # clamped to what is held
    assert r.read(0, 1).tolist() == []
    assert r.read(10, 10).tolist() == []


def test_read_returns_copy() -> None:
    r = SampleRing(4)
    r.write(np.ones(3, dtype=np.float32))
    out = r.read(0, 3)
    out[:] = 5
    assert r.read(0, 3).tolist() == [1, 1, 1]


def test_oversized_write_keeps_tail() -> None:
    r = SampleRing(4)
    r.write(np.arange(3, dtype=np.float32))
    r.write(np.arange(3, 13, dtype=np.float32))
    assert (r.start, r.end) == (9, 13)
    assert r.read(9, 13).tolist() == [9, 10, 11, 12]


def test_read_errors() -> None:
    r = SampleRing(4)
    r.write(np.zeros(3, dtype=np.float32))
    with pytest.raises(ValueError):
        r.read(0, 4)
    with pytest.raises(ValueError):
        r.read(2, 1)
    with pytest.raises(ValueError):
        SampleRing(0)


def test_clear() -> None:
    r = SampleRing(8)
    r.write(np.arange(6, dtype=np.float32))
    r.clear()
    assert (r.start, r.end, len(r)) == (6, 6, 0)
    assert r.read(0, 6).tolist() == []
    r.write(np.array([7, 8], dtype=np.float32))
    assert (r.start, r.end) == (6, 8)
    assert r.read(0, 8).tolist() == [7, 8]


@settings(max_examples=200, deadline=None)
@given(
    capacity=st.integers(1, 64),
    sizes=st.lists(st.integers(0, 150), max_size=20),
    data=st.data(),
)
def test_property_matches_concatenation(capacity: int, sizes: list[int], data: st.DataObject) -> None:
    r = SampleRing(capacity)
    total = sum(sizes)
    stream = np.arange(total, dtype=np.float32)
    pos = 0
    for n in sizes:
        r.write(stream[pos : pos + n])
        pos += n
        assert r.end == pos
        assert r.start == max(0, pos - capacity)
        lo = data.draw(st.integers(0, pos))
        hi = data.draw(st.integers(lo, pos))
        expected = stream[max(lo, r.start) : hi]
        assert np.array_equal(r.read(lo, hi), expected)
