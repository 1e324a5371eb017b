"""Tests for openrealtime.audio.wav."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from openrealtime.audio import read_wav, write_wav


def test_round_trip_float(tmp_path: Path) -> None:
    x = (0.5 * np.sin(np.arange(1000) / 10)).astype(np.float32)
    p = tmp_path / "a.wav"
    write_wav(p, x, 16000)
    y, rate = read_wav(p)
    assert rate == 16000 and y.dtype == np.float32
    assert np.max(np.abs(y - x)) <= 1 / 32768


def test_round_trip_int16(tmp_path: Path) -> None:
    x = np.array([-32768, -1, 0, 1, 32767], dtype=np.int16)
    p = tmp_path / "b.wav"
    write_wav(str(p), x, 8000)
    y, rate = read_wav(str(p))
    assert rate == 8000
    assert np.array_equal(y * 32768, x.astype(np.float32))


def test_stereo_is_averaged(tmp_path: Path) -> None:
    p = tmp_path / "s.wav"
    frames = np.array([[1000, 3000], [-2000, 0]], dtype="<i2")
    with wave.open(str(p), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(24000)
        w.writeframes(frames.tobytes())
    y, rate = read_wav(p)
    assert rate == 24000
    assert np.allclose(y * 32768, [2000, -1000])


def test_non_16bit_rejected(tmp_path: Path) -> None:
    p = tmp_path / "8bit.wav"
    with wave.open(str(p), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(8000)
        w.writeframes(bytes(10))
    with pytest.raises(ValueError, match="16-bit"):
        read_wav(p)


def test_garbage_rejected(tmp_path: Path) -> None:
    p = tmp_path / "junk.wav"
    p.write_bytes(b"not a wav file at all")
    with pytest.raises(ValueError):
        read_wav(p)
