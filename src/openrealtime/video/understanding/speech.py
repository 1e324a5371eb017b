"""Speech with faster-whisper (Whisper tiny.en by default) and word timestamps.

Audio arrives in chunks cut at a quiet moment (:func:`quiet_cut`), so no word is split
between two chunks; every time is made absolute by adding the chunk's start.
Whisper invents text in silence ("Thank you."), so two guards keep the silent parts
empty: faster-whisper's Silero VAD filter, and a level check that drops any word whose
own audio is near digital silence.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .media import AUDIO_RATE

SILENCE_DBFS = -50.0


@dataclass(slots=True)
class Word:
    word: str
    start_s: float
    end_s: float


@dataclass(slots=True)
class Segment:
    start_s: float
    end_s: float
    text: str
    words: list[Word] = field(default_factory=list)


class SpeechReader:
    """Whisper with word timestamps, loaded on first use."""

    def __init__(self, model_path: str | Path | None = None, *, threads: int = 2) -> None:
        self.model_path = model_path
        self.threads = threads
        self.language = "en"
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            from faster_whisper import WhisperModel

            from openrealtime.backends.local.whisper import bundled_model_path

            logging.getLogger("faster_whisper").setLevel(logging.WARNING)
            path = self.model_path or bundled_model_path()
            self._model = WhisperModel(str(path), device="cpu", compute_type="int8",
                                       cpu_threads=self.threads)
        return self._model

    def transcribe(self, audio: npt.NDArray[np.float32], offset_s: float) -> list[Segment]:
        """Segments of ``audio`` (16 kHz mono) with times shifted by ``offset_s``."""
        if audio.size < AUDIO_RATE // 4 or _dbfs(audio) < SILENCE_DBFS:
            return []  # nothing to hear: do not even load the model
        model = self._load()
        english_only = not model.model.is_multilingual
        segments, info = model.transcribe(
            audio, language="en" if english_only else None, beam_size=1,
            word_timestamps=True, vad_filter=True, condition_on_previous_text=False,
            vad_parameters={"min_silence_duration_ms": 500})
        out = [s for s in (self._segment(seg, audio, offset_s) for seg in segments) if s]
        self.language = info.language or self.language
        return out

    def _segment(self, seg: Any, audio: npt.NDArray[np.float32], offset_s: float
                 ) -> Segment | None:
        words = [Word(w.word.strip(), round(float(offset_s + w.start), 3),
                      round(float(offset_s + w.end), 3))
                 for w in seg.words or [] if w.word.strip()
                 and _dbfs(audio[int(w.start * AUDIO_RATE):int(w.end * AUDIO_RATE) + 1])
                 >= SILENCE_DBFS]
        if not words:
            return None
        text = " ".join(w.word for w in words)
        return Segment(words[0].start_s, words[-1].end_s, text, words)


def quiet_cut(audio: npt.NDArray[np.float32], lo: int, hi: int) -> int:
    """Index of the quietest 100 ms window start in ``audio[lo:hi]`` (where to end a chunk)."""
    win = AUDIO_RATE // 10
    lo, hi = max(0, lo), min(len(audio), hi)
    if hi - lo < 2 * win:
        return hi
    n = (hi - lo) // win
    frames = audio[lo:lo + n * win].reshape(n, win)
    energy = (frames.astype(np.float64) ** 2).mean(axis=1)
    # prefer the latest of the quietest windows: chunks stay close to the nominal length
    best = int(np.flatnonzero(energy <= energy.min() * 1.01 + 1e-12)[-1])
    return lo + best * win + win // 2


def _dbfs(x: npt.NDArray[np.float32]) -> float:
    if x.size == 0:
        return -120.0
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    return 20 * np.log10(max(rms, 1e-6))
