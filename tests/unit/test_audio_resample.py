"""Tests for openrealtime.audio.resample."""

from __future__ import annotations

import numpy as np
import pytest

from openrealtime.audio import StreamResampler, resample

RATE_PAIRS = [(22050, 24000), (24000, 16000), (8000, 24000), (24000, 8000)]
CHUNK_SIZES = [37, 101, 1, 513, 7, 0, 480]


def _sine(rate: int, seconds: float = 1.0, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _stream(r: StreamResampler, x: np.ndarray) -> np.ndarray:
    outs = []
    i = k = 0
    while i < len(x):
        n = CHUNK_SIZES[k % len(CHUNK_SIZES)]
        outs.append(r.process(x[i : i + n]))
        i += n
        k += 1
    outs.append(r.flush())
    return np.concatenate(outs)


@pytest.mark.parametrize(("in_rate", "out_rate"), RATE_PAIRS)
def test_stream_matches_one_shot(in_rate: int, out_rate: int) -> None:
    x = _sine(in_rate)
    ref = resample(x, in_rate, out_rate)
    y = _stream(StreamResampler(in_rate, out_rate), x)
    assert y.dtype == np.float32 and ref.dtype == np.float32
    expected = len(x) * out_rate / in_rate
    assert abs(len(y) - expected) <= 4
    assert abs(len(ref) - expected) <= 4
    n = min(len(y), len(ref))
    skip = 64  # allow for filter start-up
    assert np.max(np.abs(y[skip : n - skip] - ref[skip : n - skip])) < 1e-3


@pytest.mark.parametrize(("in_rate", "out_rate"), RATE_PAIRS)
def test_one_shot_preserves_tone(in_rate: int, out_rate: int) -> None:
    y = resample(_sine(in_rate), in_rate, out_rate)
    ref = _sine(out_rate)
    mid = slice(out_rate // 10, -out_rate // 10)
    assert np.max(np.abs(y[mid] - ref[mid])) < 1e-2


def test_identity_no_copy() -> None:
    r = StreamResampler(24000, 24000)
    assert r.is_identity
    x = _sine(24000, 0.01)
    assert r.process(x) is x
    assert r.process(x, last=True) is x
    assert len(r.flush()) == 0
    assert resample(x, 24000, 24000) is x


def test_reset_and_reuse_after_last() -> None:
    x = _sine(8000, 0.25)
    r = StreamResampler(8000, 24000)
    first = np.concatenate([r.process(x[:500]), r.process(x[500:], last=True)])
    assert len(r.flush()) == 0  # already flushed
    # A new sequence after `last` starts from fresh state.
    second = np.concatenate([r.process(x[:500]), r.process(x[500:], last=True)])
    assert np.array_equal(first, second)
    r.process(x[:333])
    r.reset()
    third = _stream(r, x)
    assert np.array_equal(third, first)


def test_invalid_rates() -> None:
    with pytest.raises(ValueError):
        StreamResampler(0, 16000)
