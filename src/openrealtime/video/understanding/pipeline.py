"""The single streaming pass: decode, then per chunk of the timeline find shots, pick
keyframes and read on-screen text; transcribe speech every few chunks; all with absolute
timestamps.

A chunk ``[a, b)`` is processed once decoding has reached ``b + LOOKAHEAD_S``, so a
transition straddling ``b`` is seen whole. Only the chunk's 2-per-second full-size
samples and at most ``SPEECH_BATCH_S`` of audio (4 MB a minute) are held in memory; the
per-frame shot signals of the whole video are a few hundred bytes a frame.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .fusion import needs_priming, screen_words
from .media import AUDIO_RATE, Decoder
from .ocr import RegionWatch, TextReader, TextTrack
from .shot import MIN_SHOT_S, Boundary, ShotFeatures, detect
from .speech import Segment, SpeechReader, Word, quiet_cut, quiet_near

LOOKAHEAD_S = 4.0
SPEECH_BATCH_S = 120.0  # audio is transcribed once this much has gathered (or at the end)
SETTLE_S = 1.0  # first keyframe this long after a shot starts: transitions have settled
SPLIT_SEARCH_S = 1.0  # audio is split for per-shot prompts this close to a shot boundary


@dataclass(slots=True)
class Stopwatch:
    """Seconds spent per stage (the bench prints them)."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start


@dataclass(slots=True)
class PassResult:
    """What the streaming pass measured, before any wording."""

    duration_s: float
    boundaries: list[Boundary]
    keyframes: dict[int, list[dict[str, Any]]]  # shot index -> [{time_s, path}]
    text: TextTrack
    segments: list[Segment]
    language: str | None
    warnings: list[str]


@dataclass(slots=True)
class StreamingPass:
    """Runs the pass over ``decoder``, writing keyframe images under ``outdir``."""

    decoder: Decoder
    outdir: Path
    chunk_s: float = 30.0
    keyframe_every_s: float = 20.0
    progress: bool = True
    clock: Stopwatch = field(default_factory=Stopwatch)
    speech: SpeechReader = field(default_factory=SpeechReader)
    reader: TextReader = field(default_factory=TextReader)
    features: ShotFeatures = field(default_factory=ShotFeatures)
    boundaries: list[Boundary] = field(default_factory=list)
    samples: list[tuple[float, npt.NDArray[np.uint8]]] = field(default_factory=list)
    keyframes: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    text: TextTrack = field(default_factory=TextTrack)
    watch: RegionWatch = field(default_factory=RegionWatch)
    segments: list[Segment] = field(default_factory=list)
    last_video_s: float = -1.0
    prime: bool = True  # on-screen text of a shot primes the transcription of its speech
    primed: int = 0  # shots transcribed again with their on-screen text as the prompt

    def run(self) -> PassResult:
        from ..progress import progress

        total = round(self.decoder.info.duration_s, 1) or None
        bar = progress(total, "analyze", "s", enabled=self.progress,
                       bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s "
                              "[{elapsed}<{remaining}]" if total else None)
        start, end, shown = 0.0, self.chunk_s, 0.0
        items = self.decoder.items()
        try:
            while True:
                with self.clock.stage("decode"):
                    item = next(items, None)
                if item is None:
                    break
                t, frame = item
                if frame is not None:
                    with self.clock.stage("shots"):
                        self.features.push(t, frame.small)
                        self.last_video_s = max(self.last_video_s, t)
                    if frame.full is not None:
                        self.samples.append((t, frame.full))
                if total and t > shown:
                    bar.update(min(t, total) - shown)
                    shown = min(t, total)
                if t >= end + LOOKAHEAD_S:
                    self._chunk(start, end, final=False)
                    start, end = end, end + self.chunk_s
            self._chunk(start, float("inf"), final=True)
            if total and shown < total:
                bar.update(total - shown)
        finally:
            bar.close()
        return PassResult(self._duration(), self.boundaries, self.keyframes, self.text,
                          self.segments, self.speech.language if self.segments else None,
                          self.decoder.warnings)

    def _duration(self) -> float:
        video_end = 0.0
        if self.features.times:
            steps = np.diff(self.features.times)
            video_end = self.features.times[-1] + (float(np.median(steps)) if steps.size else 0.0)
        audio_end = self.decoder.audio_end_s if self.decoder.info.has_audio else 0.0
        duration = round(max(video_end, audio_end), 3)
        claimed = self.decoder.info.duration_s
        if claimed > 0 and duration < claimed - 1.0 and not self.decoder.warnings:
            self.decoder.warnings.append(f"the file says it lasts {claimed:.1f} s but only "
                                         f"{duration:.1f} s could be decoded (truncated?)")
        return duration

    def _chunk(self, a: float, b: float, *, final: bool) -> None:
        with self.clock.stage("shots"):
            last = self.boundaries[-1].time_s if self.boundaries else 0.0
            for found in detect(self.features, a, b):
                if found.time_s - last >= MIN_SHOT_S:
                    self.boundaries.append(found)
                    last = found.time_s
        self._frames(a, b)
        # Speech waits for several chunks: Whisper's voice filter packs the speech of
        # the whole batch into as few 30 s windows as it fills (each window costs a full
        # encoder pass, full or not): the 72 s test video is one window, not three.
        if final or b - self.decoder.audio_buffer()[0] >= SPEECH_BATCH_S:
            with self.clock.stage("speech"):
                self._speech(b, final)
        self.samples = [s for s in self.samples if s[0] >= b]

    def shot_at(self, t: float) -> int:
        return bisect.bisect_right([x.time_s for x in self.boundaries], t)

    def _shot_span(self, index: int) -> tuple[float, float | None]:
        start = self.boundaries[index - 1].time_s if index > 0 else 0.0
        end = self.boundaries[index].time_s if index < len(self.boundaries) else None
        return start, end

    def _frames(self, a: float, b: float) -> None:
        """Keyframes and on-screen text for the samples of ``[a, b)``, in time order."""
        chunk = [(t, rgb) for t, rgb in self.samples if a <= t < b]
        if not chunk:
            return
        wanted = self._keyframe_times(a, b, chunk)
        for t, rgb in chunk:
            shot = self.shot_at(t)
            with self.clock.stage("ocr"):
                change = self.watch.push(t, shot, rgb)
                if change is not None:
                    change_s, box = change
                    band = rgb[box[1]:box[3]]  # the whole width: a changed number keeps its label
                    self.text.observe(change_s, shot, self.reader.read(band, (0, box[1])),
                                      changed=box)
            if t in wanted:
                self._keyframe(t, shot, rgb)

    def _keyframe_times(self, a: float, b: float, chunk: list[tuple[float, Any]]) -> set[float]:
        times = np.asarray([t for t, _ in chunk])
        out: set[float] = set()
        for shot in range(self.shot_at(times[0]), self.shot_at(times[-1]) + 1):
            start, end = self._shot_span(shot)
            settle = SETTLE_S if end is None else min(SETTLE_S, (end - start) / 2)
            target = start + settle
            limit = min(b, end if end is not None else np.inf, float(times[-1]) + 0.5)
            while target < limit:
                if target >= a:
                    inside = (times >= start) & (times < (end if end is not None else np.inf))
                    if inside.any():
                        idx = np.flatnonzero(inside)
                        out.add(float(times[idx[np.argmin(np.abs(times[idx] - target))]]))
                target += self.keyframe_every_s
        return out

    def _keyframe(self, t: float, shot: int, rgb: npt.NDArray[np.uint8]) -> None:
        from PIL import Image

        with self.clock.stage("keyframes"):
            rel = f"keyframes/shot{shot:03d}_{t:08.2f}s.jpg"
            (self.outdir / "keyframes").mkdir(parents=True, exist_ok=True)
            Image.fromarray(rgb).save(self.outdir / rel, quality=85)
            self.keyframes.setdefault(shot, []).append({"time_s": round(t, 3), "path": rel})
        with self.clock.stage("ocr"):
            self.text.observe(t, shot, self.reader.read(rgb))

    def _speech(self, b: float, final: bool) -> None:
        start_s, buf = self.decoder.audio_buffer()
        if final:
            cut = len(buf)
        else:
            hi = int((b - start_s) * AUDIO_RATE)
            cut = quiet_cut(buf, hi - 5 * AUDIO_RATE, hi)
        if cut > 0:
            # One unprimed Whisper call for the batch, then a primed call only for a shot
            # whose on-screen text was misheard beyond what reconcile() corrects.
            # A window Whisper doubted (its greedy answer fails faster-whisper's
            # fallback thresholds) is not trusted: every shot with on-screen text in it
            # is primed then. When every piece has on-screen text, the unprimed call
            # does not retry at higher temperatures: a doubted window is primed anyway.
            pieces = self._pieces(start_s, buf, cut) if self.prime else []
            heard = self.speech.transcribe(
                buf[:cut], start_s, retry=not pieces or not all(p[2] for p in pieces))
            unsure = self.speech.doubtful_spans if heard else []
            for lo, hi, screen in pieces:
                a, b = start_s + lo / AUDIO_RATE, start_s + hi / AUDIO_RATE
                words = [w.word for s in heard for w in s.words if a <= _mid(w) < b]
                doubted = any(x < b and a < y for x, y in unsure)
                if screen and (doubted or needs_priming(words, screen)):
                    self.primed += 1
                    heard = _replace(heard, a, b, self.speech.transcribe(buf[lo:hi], a, screen))
            self.segments += heard
        self.decoder.consume_audio(cut)

    def _pieces(self, start_s: float, buf: npt.NDArray[np.float32], cut: int
                ) -> list[tuple[int, int, str]]:
        """``buf[:cut]`` split at each shot boundary, each piece with its shot's on-screen
        text (the Whisper prompt). A split moves to the quietest moment within
        ``SPLIT_SEARCH_S`` of the boundary so no word is cut; neighbouring pieces with the
        same text (none, typically) stay one piece: one Whisper call, as before."""
        end_s = start_s + cut / AUDIO_RATE
        reach = int(SPLIT_SEARCH_S * AUDIO_RATE)
        edges = [0]
        for boundary in self.boundaries:
            if start_s < boundary.time_s < end_s:
                at = int((boundary.time_s - start_s) * AUDIO_RATE)
                edges.append(min(max(quiet_near(buf, at, reach, cut), edges[-1]), cut))
        edges.append(cut)
        first = self.shot_at(start_s)
        pieces: list[tuple[int, int, str]] = []
        for k in range(len(edges) - 1):
            screen = screen_words(self.text, first + k) if self.prime else ""
            if pieces and pieces[-1][2] == screen:
                pieces[-1] = (pieces[-1][0], edges[k + 1], screen)
            else:
                pieces.append((edges[k], edges[k + 1], screen))
        return [p for p in pieces if p[1] > p[0]]


def _mid(word: Word) -> float:
    return (word.start_s + word.end_s) / 2


def _replace(segments: list[Segment], a: float, b: float, new: list[Segment]) -> list[Segment]:
    """``segments`` with the words of ``[a, b)`` (by their middle) replaced by ``new``; a
    segment reaching across ``a`` or ``b`` keeps its words outside, as separate segments."""
    out = list(new)
    for seg in segments:
        runs: list[list[Word]] = [[]]
        for w in seg.words:
            if a <= _mid(w) < b:
                if runs[-1]:
                    runs.append([])
            else:
                runs[-1].append(w)
        out += [Segment(r[0].start_s, r[-1].end_s, " ".join(w.word for w in r), r)
                for r in runs if r]
    return sorted(out, key=lambda s: s.start_s)
