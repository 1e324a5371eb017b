"""Narration and timing: speech per sentence, laid out scene after scene.

Scene durations follow the narration: a scene lasts its lead-in, its sentences with
short gaps, and a tail; speech is never sped up to fit (``min_duration_s`` can only make a
scene longer). Every sentence is synthesized on its own so each subtitle cue is timed by
the audio that speaks it. Scene boundaries land on frame boundaries, so a cut is a frame.
"""

from __future__ import annotations

import asyncio
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ...runtime.speakable import speech_text
from .error import GenerationError
from .plan import Plan

SAMPLE_RATE = 48_000
LEAD_S = 0.3  # silence before a scene's first sentence: the picture lands first
GAP_S = 0.25  # between sentences
TAIL_S = 0.5  # after the last sentence, before the next scene
READING_CHARS_PER_S = 14.0  # --no-narration: captions stay up long enough to read
_SENTENCE = re.compile(r"(?<=[.!?…])[\"')\]]*\s+(?=\S)")

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Cue:
    start_s: float
    end_s: float
    text: str
    scene: int


@dataclass(slots=True)
class Timeline:
    """Frames per scene, subtitle cues, and the narration track (mono, 48 kHz)."""

    fps: int
    scene_frames: list[int]
    cues: list[Cue]
    speech: F32

    @property
    def total_frames(self) -> int:
        return sum(self.scene_frames)

    @property
    def duration_s(self) -> float:
        return self.total_frames / self.fps

    def scene_start_frame(self, index: int) -> int:
        return sum(self.scene_frames[:index])


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text``; joined by single spaces they give back the text."""
    text = " ".join(text.split())
    return [s.strip() for s in _SENTENCE.split(text) if s.strip()] if text else []


def build_timeline(plan: Plan, tts: object | None = None) -> Timeline:
    """Time ``plan`` from its narration (``plan.narration.mode``) and fill in scene timing."""
    mode = plan.narration.mode
    sentences = [split_sentences(s.narration) for s in plan.scenes]
    if plan.duration_s is not None and mode != "tts":
        raise GenerationError("a plan with duration_s needs narration mode 'tts'")
    if mode == "tts":
        audio = asyncio.run(_synthesize_all(plan, sentences, tts))
        fitted = None
        if plan.duration_s is not None:
            from .duration import fit_length

            fitted = fit_length(plan, sentences, audio, round(plan.duration_s * plan.fps))
        timeline = _layout_clips(plan, sentences, audio, fitted)
    elif mode == "audio":
        if not plan.narration.audio:
            raise GenerationError("narration mode 'audio' needs a narration audio file")
        speech = decode_audio(Path(plan.narration.audio))
        timeline = _layout_proportional(plan, sentences, speech)
    else:
        timeline = _layout_proportional(plan, sentences, None)
    start = 0
    for scene, frames in zip(plan.scenes, timeline.scene_frames, strict=True):
        scene.start_s, scene.duration_s = round(start / plan.fps, 3), round(frames / plan.fps, 3)
        start += frames
    return timeline


async def _synthesize_all(plan: Plan, sentences: list[list[str]], tts: object | None) -> list[list[F32]]:
    from openrealtime.audio import resample

    if tts is None:
        from openrealtime.backends.local.piper import PiperTTS

        tts = PiperTTS(plan.narration.voice, deterministic=True)
        owned = True
    else:
        owned = False
    try:
        out: list[list[F32]] = []
        for scene_sentences in sentences:
            clips = []
            for sentence in scene_sentences:
                # The subtitle keeps the sentence as written; Piper (in this process) gets
                # only speakable text: its phonemizer segfaults on some inputs.
                chunks = [c for piece in speech_text(sentence)
                          async for c in tts.synthesize(piece, speed=plan.narration.speed)]  # type: ignore[attr-defined]
                pcm = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
                x = pcm.astype(np.float32) / 32768.0
                clips.append(_trim(resample(x, tts.sample_rate, SAMPLE_RATE)))  # type: ignore[attr-defined]
            out.append(clips)
        return out
    finally:
        if owned:
            await tts.aclose()  # type: ignore[attr-defined]


def _trim(x: F32, threshold: float = 0.004, margin_s: float = 0.03) -> F32:
    """Drop the voice's own leading/trailing silence so cues start when the words do."""
    loud = np.flatnonzero(np.abs(x) > threshold)
    if loud.size == 0:
        return x[:0]
    margin = int(margin_s * SAMPLE_RATE)
    return x[max(0, loud[0] - margin): loud[-1] + margin]


def _frames(seconds: float, fps: int) -> int:
    return max(1, math.ceil(seconds * fps - 1e-6))


def _layout_clips(plan: Plan, sentences: list[list[str]], audio: list[list[F32]],
                  frames_given: list[int] | None = None) -> Timeline:
    """Place each sentence's audio; a scene ends after its last sentence and a tail
    (or after ``frames_given[i]`` frames: a fitted length)."""
    fps, spf = plan.fps, SAMPLE_RATE // plan.fps
    scene_frames, cues, pieces = [], [], []
    start = 0  # frames
    for index, scene in enumerate(plan.scenes):
        t = start / fps + LEAD_S
        for text, clip in zip(sentences[index], audio[index], strict=True):
            pieces.append((round(t * SAMPLE_RATE), clip))
            end = t + len(clip) / SAMPLE_RATE
            cues.append(Cue(round(t, 3), round(end, 3), text, index))
            t = end + GAP_S
        spoken = t - GAP_S + TAIL_S - start / fps if sentences[index] else 0.0
        frames = _frames(max(spoken, scene.min_duration_s or 0.0, 1.0), fps)
        if frames_given is not None:
            frames = frames_given[index]
        scene_frames.append(frames)
        start += frames
    speech = np.zeros(start * spf, np.float32)
    for offset, clip in pieces:
        speech[offset: offset + len(clip)] += clip[: len(speech) - offset]
    return Timeline(fps, scene_frames, cues, speech)


def _layout_proportional(plan: Plan, sentences: list[list[str]], speech: F32 | None) -> Timeline:
    """User audio (or none): share the time by text length, cues likewise within a scene."""
    fps = plan.fps
    chars = [sum(len(s) for s in ss) for ss in sentences]
    fixed = [(s.min_duration_s or 2.5) if not c else 0.0 for s, c in zip(plan.scenes, chars, strict=True)]
    if speech is not None:
        per_char = max(0.0, len(speech) / SAMPLE_RATE - sum(fixed)) / max(1, sum(chars))
    else:
        per_char = 1.0 / READING_CHARS_PER_S
    scene_frames, cues, start = [], [], 0
    for index, scene in enumerate(plan.scenes):
        seconds = chars[index] * per_char or fixed[index]
        if speech is None and chars[index]:
            seconds += LEAD_S + TAIL_S
        seconds = max(seconds, scene.min_duration_s or 0.0)
        frames = _frames(seconds, fps)
        t = start / fps + (LEAD_S if speech is None and chars[index] else 0.0)
        for text in sentences[index]:
            length = len(text) * per_char
            cues.append(Cue(round(t, 3), round(t + length, 3), text, index))
            t += length
        scene_frames.append(frames)
        start += frames
    track = np.zeros(start * (SAMPLE_RATE // fps), np.float32)
    if speech is not None:
        track[: min(len(track), len(speech))] = speech[: len(track)]
    return Timeline(fps, scene_frames, cues, track)


def decode_audio(path: Path, sample_rate: int = SAMPLE_RATE) -> F32:
    """Any audio file FFmpeg reads, as mono float32 at ``sample_rate``."""
    import av

    if not path.is_file():
        raise GenerationError(f"audio file not found: {path}")
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise GenerationError(f"{path}: has no audio stream")
            resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
            parts = []
            for frame in container.decode(audio=0):
                parts.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
            parts.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    except av.FFmpegError as exc:
        raise GenerationError(f"{path}: cannot decode audio ({exc})") from None
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)
