"""Speech with faster-whisper (Whisper tiny.en by default) and word timestamps.

Audio arrives in chunks cut at a quiet moment (:func:`quiet_cut`), so no word is split
between two chunks; every time is made absolute by adding the chunk's start.
Whisper invents text in silence ("Thank you."), so two guards keep the silent parts
empty: faster-whisper's Silero VAD filter, and a level check that drops any word whose
own audio is near digital silence.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .media import AUDIO_RATE

SILENCE_DBFS = -50.0
TOKENS_PER_S = 5.0  # fast English speech: ~4 words/s, ~1.3 tokens a word
MAX_TOKENS = 200  # Whisper's limit is 448 for prompt and answer together


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
        self.fallbacks = 0  # primed answers that looped and were transcribed again unprimed
        self._doubtful: list[tuple[float, float]] = []
        self._model: Any = None

    def load(self) -> Any:
        """The Whisper model and its voice filter, loaded on first use."""
        if self._model is None:
            from faster_whisper import WhisperModel
            from faster_whisper.vad import get_vad_model

            from openrealtime.backends.local.whisper import bundled_model_path

            logging.getLogger("faster_whisper").setLevel(logging.WARNING)
            path = self.model_path or bundled_model_path()
            self._model = WhisperModel(str(path), device="cpu", compute_type="int8",
                                       cpu_threads=self.threads)
            get_vad_model()  # cached by faster-whisper; else loaded on the first call
        return self._model

    def transcribe(self, audio: npt.NDArray[np.float32], offset_s: float,
                   hotwords: str | None = None, *, retry: bool = True) -> list[Segment]:
        """Segments of ``audio`` (16 kHz mono) with times shifted by ``offset_s``.

        ``hotwords`` (the on-screen text of the shot) primes the decoder: faster-whisper
        puts it in the previous-text prompt of every 30 s window. A primed decoder can
        loop or echo the prompt; such an answer is replaced by an unprimed one.
        ``retry=False``: one greedy decode per window, no temperature fallback (for a
        caller that transcribes a doubted window again anyway, see :attr:`doubtful`).
        """
        self._doubtful = []
        if audio.size < AUDIO_RATE // 4 or _dbfs(audio) < SILENCE_DBFS:
            return []  # nothing to hear: do not even load the model
        out = self._transcribe(audio, offset_s, hotwords or None, retry)
        if hotwords and (self._doubtful or repeated(out)):
            self.fallbacks += 1
            out = self._transcribe(audio, offset_s, None, True)
        return out

    @property
    def doubtful(self) -> bool:
        """Whether the last answer is one Whisper itself doubted (low probability, a loop,
        or only found by sampling at a higher temperature)."""
        return bool(self._doubtful)

    @property
    def doubtful_spans(self) -> list[tuple[float, float]]:
        """``(start_s, end_s)`` of each 30 s window of the last answer that Whisper
        doubted: from its first to its last segment, absolute times."""
        return list(self._doubtful)

    def _transcribe(self, audio: npt.NDArray[np.float32], offset_s: float,
                    hotwords: str | None, retry: bool) -> list[Segment]:
        model = self.load()
        english_only = not model.model.is_multilingual
        primed: dict[str, Any] = {} if retry else {"temperature": 0.0}
        if hotwords:
            # a primed decoder that loops would be decoded again at 5 temperatures, up to
            # 224 tokens each (a 30x slower call was seen): one greedy pass, at most about
            # twice the tokens a person can say in the time, then the loop check above
            window_s = min(30.0, audio.size / AUDIO_RATE)
            primed = {"hotwords": hotwords, "temperature": 0.0,
                      "max_new_tokens": int(min(MAX_TOKENS, 16 + 2 * TOKENS_PER_S * window_s))}
        segments, info = model.transcribe(
            audio, language="en" if english_only else None, beam_size=1,
            word_timestamps=True, vad_filter=True, condition_on_previous_text=False,
            vad_parameters={"min_silence_duration_ms": 500}, **primed)
        raw = list(segments)
        # what faster-whisper's temperature fallback would have retried (its defaults),
        # per window (the segments of one window share its seek). Its compression-ratio
        # test is for loops, but the longer a window's text the more it compresses: ten
        # sentences of one pattern ("Feature N is called X.") reach 2.4 without looping.
        # So in an unprimed answer (a whole batch of speech) a compressible window counts
        # only if its words loop (:func:`repeated`); a primed one (a shot's speech, where
        # an echoed prompt compresses well) is doubted on the ratio alone.
        windows: dict[int, list[Any]] = {}
        for seg in raw:
            windows.setdefault(seg.seek, []).append(seg)
        self._doubtful = [
            (offset_s + min(seg.start for seg in segs), offset_s + max(seg.end for seg in segs))
            for segs in windows.values()
            if any(seg.avg_logprob < -1.0 or (getattr(seg, "temperature", 0.0) or 0.0) > 0.0
                   for seg in segs)
            or (any(seg.compression_ratio > 2.4 for seg in segs)
                and (hotwords is not None or repeated(
                    [s for s in (self._segment(seg, audio, offset_s) for seg in segs) if s])))]
        out = [s for s in (self._segment(seg, audio, offset_s) for seg in raw) if s]
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
        words[0].start_s = _onset(audio, words[0].start_s - offset_s, words[0].end_s - offset_s,
                                  offset_s)
        text = " ".join(w.word for w in words)
        return Segment(words[0].start_s, words[-1].end_s, text, words)


MAX_WORDS_PER_S = 6.0  # fast speech is ~4 words/s; more is a decoder loop


def repeated(segments: list[Segment]) -> bool:
    """Signs of a looping decoder: a word three times in a row, a phrase of 2-6 words
    twice in a row, or more words than a person can say in the time."""
    words = [re.sub(r"[^0-9a-z]+", "", w.word.lower()) for s in segments for w in s.words]
    words = [w for w in words if w]
    for n in range(1, 7):
        need = 3 if n == 1 else 2
        for i in range(len(words) - n * need + 1):
            if all(words[i + k * n:i + (k + 1) * n] == words[i:i + n] for k in range(1, need)):
                return True
    span = sum(s.end_s - s.start_s for s in segments)
    return len(words) >= 8 and len(words) > MAX_WORDS_PER_S * max(span, 0.1)


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


def quiet_near(audio: npt.NDArray[np.float32], at: int, reach: int, end: int) -> int:
    """Where to split ``audio[:end]`` near sample ``at``: the middle of the quiet 100 ms
    window (within 1 dB of the quietest in ``at +- reach``) closest to ``at``. A split
    just before a word would put it at the very start of a Whisper window, where its
    timestamp comes out early."""
    win = AUDIO_RATE // 10
    lo, hi = max(0, at - reach), min(end, len(audio), at + reach)
    n = (hi - lo) // win
    if n < 2:
        return min(max(at, 0), end)
    frames = audio[lo:lo + n * win].reshape(n, win)
    energy = (frames.astype(np.float64) ** 2).mean(axis=1)
    quiet = np.flatnonzero(energy <= energy.min() * 1.26 + 1e-12)
    centers = lo + quiet * win + win // 2
    return int(centers[np.argmin(np.abs(centers - at))])


def _onset(audio: npt.NDArray[np.float32], start_s: float, end_s: float, offset_s: float
           ) -> float:
    """A segment's first word starts where its sound does: Whisper puts it at the start
    of the VAD-padded speech (up to 0.4 s early), most visibly at a window's start. The
    first 10 ms frame within 20 dB of the word's loudest one."""
    lo, hi = int(start_s * AUDIO_RATE), int(end_s * AUDIO_RATE)
    win = AUDIO_RATE // 100
    n = (hi - lo) // win
    if n < 2:
        return round(offset_s + start_s, 3)
    rms = np.sqrt((audio[lo:lo + n * win].astype(np.float64).reshape(n, win) ** 2).mean(axis=1))
    first = int(np.argmax(rms >= rms.max() * 0.1))
    return round(offset_s + start_s + first * win / AUDIO_RATE, 3)


def _dbfs(x: npt.NDArray[np.float32]) -> float:
    if x.size == 0:
        return -120.0
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    return 20 * np.log10(max(rms, 1e-6))
