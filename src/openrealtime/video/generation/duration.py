"""A video of an exact length (``plan.duration_s``, the Videos API's ``seconds``).

Scenes normally last as long as their speech. When the plan names a length, the
synthesized narration is fitted to it, in this order (each step only while the video is
still too long):

1. scenes without narration (title cards, charts) shrink to :data:`MIN_SCENE_S`;
2. the last sentence goes, then the one before... (a scene left without narration goes
   with it), until one sentence is left; the first scene is never dropped;
3. scenes without narration go (the first scene's image or clip passes to the next);
4. the one sentence left is cut at the end, with a short fade.

Then the time left over is shared among the scenes in proportion to their length (longer
pauses after the speech), so the frames add up exactly. Speech is never sped up.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from .narration import GAP_S, LEAD_S, SAMPLE_RATE, TAIL_S
from .plan import Plan

MIN_SCENE_S = 1.0  # narration's shortest scene
FADE_S = 0.03

F32 = npt.NDArray[np.float32]


def scene_seconds(plan: Plan, index: int, clips: list[F32], *, shrink: bool = False) -> float:
    """How long scene ``index`` lasts with these speech clips (narration's layout rule)."""
    scene = plan.scenes[index]
    if not clips:
        return MIN_SCENE_S if shrink else max(scene.min_duration_s or 0.0, MIN_SCENE_S)
    spoken = (LEAD_S + sum(len(c) for c in clips) / SAMPLE_RATE + GAP_S * (len(clips) - 1)
              + TAIL_S)
    return max(spoken, scene.min_duration_s or 0.0, MIN_SCENE_S)


def _frames(seconds: float, fps: int) -> int:
    return max(1, math.ceil(seconds * fps - 1e-6))


def fit_length(plan: Plan, sentences: list[list[str]], audio: list[list[F32]],
               total_frames: int) -> list[int]:
    """Frames per scene adding up to ``total_frames``; ``plan.scenes``, ``sentences`` and
    ``audio`` are trimmed in place (scene narration text follows what is kept)."""
    fps = plan.fps
    shrink = False

    def natural() -> list[int]:
        return [_frames(scene_seconds(plan, i, audio[i], shrink=shrink), fps)
                for i in range(len(plan.scenes))]

    def over() -> bool:
        return sum(natural()) > total_frames

    shrink = over()
    while over() and sum(len(s) for s in sentences) > 1:
        last = len(plan.scenes) - 1
        if sentences[last]:
            sentences[last].pop()
            audio[last].pop()
            plan.scenes[last].narration = " ".join(sentences[last])
        if not sentences[last] and last > 0:
            _drop(plan, sentences, audio, last)
    while over() and len(plan.scenes) > 1:
        _drop(plan, sentences, audio, next(i for i, s in enumerate(sentences) if not s))
    frames = natural()
    if sum(frames) > total_frames:  # one scene, one sentence longer than the video
        available = int((total_frames / fps - LEAD_S - FADE_S) * SAMPLE_RATE)
        audio[0][:] = [_fade_out(c[: max(0, available)]) for c in audio[0]]
        return [total_frames]
    return _share(frames, total_frames)


def _drop(plan: Plan, sentences: list[list[str]], audio: list[list[F32]], index: int) -> None:
    """Remove scene ``index``; the first scene's own image or clip moves to the next one."""
    if index == 0 and plan.scenes[0].visual.kind in ("image", "clip") and len(plan.scenes) > 1:
        plan.scenes[1].visual = plan.scenes[0].visual
    del plan.scenes[index], sentences[index], audio[index]
    plan.scenes[0].transition = "cut"


def _share(frames: list[int], total: int) -> list[int]:
    """Spread ``total - sum(frames)`` extra frames in proportion to each scene's length."""
    extra, whole = total - sum(frames), sum(frames)
    out = [f + extra * f // whole for f in frames]
    out[-1] += total - sum(out)
    return out


def _fade_out(clip: F32) -> F32:
    n = min(len(clip), int(FADE_S * SAMPLE_RATE))
    if n:
        clip = clip.copy()
        clip[-n:] *= np.linspace(1.0, 0.0, n, dtype=np.float32)
    return clip
