"""Minimal 16-bit PCM WAV file I/O (stdlib ``wave``), mono float32 in memory."""

from __future__ import annotations

import os
import wave

import numpy as np
from numpy.typing import NDArray

from .codec import float32_to_pcm16

__all__ = ["read_wav", "write_wav"]

StrPath = str | os.PathLike[str]


def read_wav(path: StrPath) -> tuple[NDArray[np.float32], int]:
    """Read a 16-bit PCM WAV file as mono float32 in [-1, 1); returns (samples, rate).

    Multi-channel files are averaged to mono. Other sample formats raise ValueError.
    """
    try:
        with wave.open(os.fspath(path), "rb") as w:
            width = w.getsampwidth()
            channels = w.getnchannels()
            rate = w.getframerate()
            raw = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as e:
        raise ValueError(f"{os.fspath(path)}: not a 16-bit PCM WAV file ({e})") from None
    if width != 2:
        raise ValueError(f"{os.fspath(path)}: expected 16-bit PCM WAV, got {8 * width}-bit")
    pcm = np.frombuffer(raw, dtype="<i2")
    if channels > 1:
        pcm2 = pcm[: len(pcm) - len(pcm) % channels].reshape(-1, channels)
        x = pcm2.mean(axis=1, dtype=np.float32)
    else:
        x = pcm.astype(np.float32)
    x *= np.float32(1.0 / 32768.0)
    return x, rate


def write_wav(path: StrPath, x: NDArray[np.float32] | NDArray[np.int16], sample_rate: int) -> None:
    """Write mono samples as a 16-bit PCM WAV file (float input is clipped to [-1, 1))."""
    if x.dtype == np.int16:
        pcm = np.asarray(x, dtype=np.int16)
    else:
        pcm = float32_to_pcm16(np.asarray(x, dtype=np.float32))
    with wave.open(os.fspath(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.astype("<i2", copy=False).tobytes())
