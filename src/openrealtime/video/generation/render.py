"""The compositor: scene frames, transitions and captions, streamed to the encoder.

Only the current scene (and, during a crossfade, its neighbour) is alive, so memory does
not grow with length. While frames go out, a 1/16-scale thumbnail of each is compared with
the previous one: the self-check learns about black or frozen stretches without decoding
the whole video again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .caption import Captioner
from .encoder import QUICK, Mp4Writer
from .layer import Layer
from .narration import Cue, Timeline
from .plan import Plan
from .visual import SceneVisual

BLACK_LEVEL = 12.0  # mean RGB level below which a frame counts as black


@dataclass(slots=True)
class FrameStats:
    """Per-frame facts gathered while rendering."""

    frames: int = 0
    black: list[bool] = field(default_factory=list)
    frozen: list[bool] = field(default_factory=list)  # identical to the previous frame


@dataclass(slots=True)
class RenderSettings:
    preset: str = QUICK
    crf: int = 21
    progress: bool = True
    # Called after each frame with (frames done, frames in all): job progress.
    on_frame: Callable[[int, int], None] | None = None


def render(
    plan: Plan,
    timeline: Timeline,
    cues: list[Cue],
    audio: np.ndarray,
    output: Path,
    *,
    clips: dict[int, str] | None = None,
    settings: RenderSettings | None = None,
) -> FrameStats:
    """Render every frame of ``plan`` into ``output``; returns what the frames looked like."""
    from ..progress import progress

    settings = settings or RenderSettings()
    captioner = Captioner(plan.captions, plan.width, plan.height, plan.font)
    writer = Mp4Writer(output, plan.width, plan.height, plan.fps, audio,
                       preset=settings.preset, crf=settings.crf)
    compositor = _Compositor(plan, timeline, cues, captioner, clips or {})
    stats = FrameStats()
    previous: np.ndarray | None = None
    bar = progress(timeline.total_frames, "render", "frames", enabled=settings.progress)
    try:
        for f in range(timeline.total_frames):
            frame = compositor.frame(f)
            writer.write(frame)
            thumb = frame[::16, ::16]
            stats.black.append(float(thumb.mean()) < BLACK_LEVEL)
            stats.frozen.append(previous is not None and np.array_equal(previous, thumb))
            previous = thumb.copy()
            bar.update(1)
            if settings.on_frame is not None:
                settings.on_frame(f + 1, timeline.total_frames)
    finally:
        bar.close()
        compositor.close()
        writer.close()
    stats.frames = timeline.total_frames
    return stats


class _Compositor:
    def __init__(self, plan: Plan, timeline: Timeline, cues: list[Cue], captioner: Captioner,
                 clips: dict[int, str]) -> None:
        self.plan, self.timeline, self.cues, self.captioner = plan, timeline, cues, captioner
        self.clips = clips
        self.starts = [timeline.scene_start_frame(i) for i in range(len(plan.scenes))]
        self.half = max(1, round(plan.transition_s * plan.fps / 2))
        self.visuals: dict[int, SceneVisual] = {}
        self.layers: dict[int, Layer] = {}
        self.cue_index = 0

    def frame(self, f: int) -> np.ndarray:
        k = max(i for i, s in enumerate(self.starts) if s <= f)
        out = self._scene(k, f)
        nxt, prev = k + 1, k - 1
        end = self.starts[k] + self.timeline.scene_frames[k]
        if nxt < len(self.starts) and self._fades(nxt) and f >= end - self.half:
            out = self._mix(out, self._scene(nxt, f), f - (end - self.half) + 1)
        elif prev >= 0 and self._fades(k) and f < self.starts[k] + self.half:
            out = self._mix(self._scene(prev, f), out, self.half + f - self.starts[k] + 1)
        for i in [i for i in self.visuals if i < k - 1 or (i == k - 1 and f >= self.starts[k] + self.half)]:
            self.visuals.pop(i).close()
        self._caption(f / self.plan.fps, out)
        return out

    def _fades(self, k: int) -> bool:
        return self.plan.scenes[k].transition == "crossfade" and self.plan.transition_s > 0

    def _mix(self, a: np.ndarray, b: np.ndarray, step: int) -> np.ndarray:
        import cv2

        w = step / (2 * self.half + 1)
        return cv2.addWeighted(a, 1.0 - w, b, w, 0.0)

    def _scene(self, k: int, f: int) -> np.ndarray:
        if k not in self.visuals:
            self.visuals[k] = SceneVisual(self.plan, k, self.timeline.scene_frames[k], self.clips.get(k))
        return self.visuals[k].frame(max(0, f - self.starts[k]))

    def _caption(self, t: float, frame: np.ndarray) -> None:
        if not self.plan.captions.enabled:
            return
        while self.cue_index < len(self.cues) and self.cues[self.cue_index].end_s <= t:
            self.layers.pop(self.cue_index, None)  # finished cues free their layer
            self.cue_index += 1
        if self.cue_index < len(self.cues) and self.cues[self.cue_index].start_s <= t:
            if self.cue_index not in self.layers:
                self.layers[self.cue_index] = self.captioner.layer(self.cues[self.cue_index].text)
            self.layers[self.cue_index].blend(frame)

    def close(self) -> None:
        for visual in self.visuals.values():
            visual.close()
        self.visuals.clear()
