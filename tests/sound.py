"""Test audio: tone bursts that the energy VAD of the fake backends hears as speech."""

from __future__ import annotations

import base64

import numpy as np

RATE = 24000
FRAME_MS = 20


def tone(seconds: float, amplitude: float = 0.3, freq: float = 300.0) -> np.ndarray:
    t = np.arange(int(RATE * seconds), dtype=np.float32) / RATE
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(RATE * seconds), dtype=np.float32)


def pcm16(x: np.ndarray) -> bytes:
    return (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()


def frames_b64(x: np.ndarray, frame_ms: int = FRAME_MS) -> list[str]:
    step = RATE * frame_ms // 1000
    data = pcm16(x)
    return [base64.b64encode(data[i * 2:(i + step) * 2]).decode() for i in range(0, len(x), step)]


def utterance(speech_s: float = 1.0, lead_s: float = 0.3, tail_s: float = 1.0) -> np.ndarray:
    return np.concatenate([silence(lead_s), tone(speech_s), silence(tail_s)])


def is_subsequence(expected: list[str], actual: list[str]) -> bool:
    it = iter(actual)
    return all(any(x == e for x in it) for e in expected)
