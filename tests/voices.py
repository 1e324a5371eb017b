"""Questions spoken by several voices: Piper's joe and espeak-ng's (Debian) en-us, en-gb
and en-gb-scotland, so the tests hear speakers other than the voice that answers.

All speech is float32 mono at 24 kHz with 0.4 s of silence in front, deterministic
(Piper's noise off, espeak-ng is rule-based).
"""

from __future__ import annotations

import asyncio
import functools
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from openrealtime.audio import read_wav, resample

RATE = 24000
ESPEAK_VOICES = ("en-us", "en-gb", "en-gb-scotland")
VOICES = ("piper-joe", *ESPEAK_VOICES)
LEAD_S = 0.4


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def espeak(text: str, voice: str = "en-us", words_per_minute: int = 165) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "q.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(words_per_minute), "-w", str(path),
                        text], check=True, capture_output=True, timeout=30)
        x, rate = read_wav(path)
    return _lead(resample(x.astype(np.float32), rate, RATE))


@functools.cache
def _piper() -> Any:
    from openrealtime.backends.local.piper import PiperTTS

    return PiperTTS(deterministic=True)


def piper(text: str) -> np.ndarray:
    """Piper's joe (no event loop may be running: call it from sync code or a thread)."""

    async def synth() -> np.ndarray:
        tts = _piper()
        chunks = [c async for c in tts.synthesize(text)]
        return resample(np.concatenate(chunks).astype(np.float32) / 32768.0,
                        tts.sample_rate, RATE)

    return _lead(asyncio.run(synth()))


def speak(text: str, voice: str) -> np.ndarray:
    return piper(text) if voice == "piper-joe" else espeak(text, voice)


def spoken_questions(questions: list[str]) -> list[tuple[str, str, np.ndarray]]:
    """(question, voice, audio) with the voices taking turns; espeak-ng only if installed."""
    voices = VOICES if espeak_available() else ("piper-joe",)
    return [(q, voices[i % len(voices)], speak(q, voices[i % len(voices)]))
            for i, q in enumerate(questions)]


def _lead(x: np.ndarray) -> np.ndarray:
    return np.concatenate([np.zeros(int(LEAD_S * RATE), dtype=np.float32), x])
