"""What a scene shows, frame by frame: a moving still (Ken Burns) or a clip, plus layers.

A still is prepared once per scene at 1.12x the frame size; each frame crops a window that
glides and zooms (eased) and resizes it to the frame with OpenCV, which is the only
per-frame cost besides the static layers. Clips are decoded on demand and held on their
last frame if the scene outlasts them. Everything is seeded: same plan, same pixels.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from .card import background, chart_layer, title_layer
from .error import GenerationError
from .layer import U8, Layer
from .plan import Plan

OVERSCAN = 1.12  # still size relative to the frame: room to pan and zoom


class SceneVisual:
    """Frames of one scene; ``frame(i)`` returns a fresh (h, w, 3) uint8 array."""

    def __init__(self, plan: Plan, index: int, frames: int, clip_path: str | None = None) -> None:
        scene = plan.scenes[index]
        self.width, self.height, self.frames, self.fps = plan.width, plan.height, frames, plan.fps
        self.layers: list[Layer] = []
        self.clip: ClipReader | None = None
        self.still: U8 | None = None
        self.static: U8 | None = None
        kind = scene.visual.kind
        path = clip_path or scene.visual.asset
        if kind in ("clip", "remote") and path:
            self.clip = ClipReader(Path(path), self.width, self.height)
        elif kind == "image" and scene.visual.asset:
            self.still = load_still(Path(scene.visual.asset), self.width, self.height)
        else:
            w, h = round(self.width * OVERSCAN), round(self.height * OVERSCAN)
            self.still = background(plan.seed, index, w, h)
        if kind == "chart" and scene.visual.chart:
            self.layers.append(chart_layer(scene.visual.chart, self.width, self.height, plan.font))
        elif scene.title:
            self.layers.append(title_layer(scene.title, self.width, self.height, plan.font,
                                           big=kind == "title"))
        rng = random.Random(plan.seed * 7_368_787 + index)
        zoom_in = rng.random() < 0.5
        self.zoom = (1.0, 1.09) if zoom_in else (1.09, 1.0)
        self.pan = [(rng.uniform(-0.8, 0.8), rng.uniform(-0.8, 0.8)) for _ in range(2)]
        if scene.visual.motion == "none" and self.still is not None:
            self.zoom, self.pan = (OVERSCAN, OVERSCAN), [(0.0, 0.0), (0.0, 0.0)]

    def frame(self, i: int) -> U8:
        """Frame ``i`` of the scene (indices past the end hold the final pose)."""
        if self.clip is not None:
            out = self.clip.frame_at(i / self.fps)
        elif self.zoom[0] == self.zoom[1] == OVERSCAN:
            if self.static is None:
                self.static = self._window(0.0)
            out = self.static.copy()
        else:
            out = self._window(min(1.0, i / max(1, self.frames - 1)))
        for layer in self.layers:
            layer.blend(out)
        return out

    def _window(self, progress: float) -> U8:
        import cv2

        assert self.still is not None
        e = progress * progress * (3 - 2 * progress)  # smoothstep: no jolt at the ends
        z = self.zoom[0] + (self.zoom[1] - self.zoom[0]) * e
        hb, wb = self.still.shape[:2]
        ww, wh = wb / z, hb / z  # the still already has the frame's aspect
        px = self.pan[0][0] + (self.pan[1][0] - self.pan[0][0]) * e
        py = self.pan[0][1] + (self.pan[1][1] - self.pan[0][1]) * e
        cx, cy = wb / 2 + px * (wb - ww) / 2, hb / 2 + py * (hb - wh) / 2
        x0, y0 = round(cx - ww / 2), round(cy - wh / 2)
        x1, y1 = x0 + round(ww), y0 + round(wh)
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(wb, x1), min(hb, y1)
        crop = self.still[y0:y1, x0:x1]
        if crop.shape[1] == self.width and crop.shape[0] == self.height:
            return crop.copy()
        return cv2.resize(crop, (self.width, self.height), interpolation=cv2.INTER_LINEAR)

    def close(self) -> None:
        if self.clip is not None:
            self.clip.close()


def load_still(path: Path, width: int, height: int) -> U8:
    """An image cover-cropped to the frame's aspect at :data:`OVERSCAN` times its size."""
    try:
        with Image.open(path) as opened:
            image = ImageOps.exif_transpose(opened).convert("RGB")
    except (OSError, ValueError) as exc:
        raise GenerationError(f"cannot read image {path}: {exc}") from None
    size = (round(width * OVERSCAN), round(height * OVERSCAN))
    fitted = ImageOps.fit(image, size, method=Image.Resampling.LANCZOS)
    return np.asarray(fitted, dtype=np.uint8)


class ClipReader:
    """Decodes a video asset lazily, cover-scaled to the frame; holds the last frame."""

    def __init__(self, path: Path, width: int, height: int) -> None:
        import av

        try:
            self.container = av.open(str(path))
            self.frames = self.container.decode(video=0)
        except (av.FFmpegError, IndexError) as exc:
            raise GenerationError(f"cannot read video {path}: {exc}") from None
        self.width, self.height, self.path = width, height, path
        self.current: U8 | None = None
        self.upcoming: object | None = None  # decoded, not yet due
        self.done = False

    def frame_at(self, t: float) -> U8:
        """The latest clip frame whose time is at or before ``t`` seconds."""
        while not self.done:
            if self.upcoming is None:
                try:
                    self.upcoming = next(self.frames)
                except StopIteration:
                    self.done = True
                    break
            if self.current is not None and float(self.upcoming.time or 0.0) > t + 1e-6:  # type: ignore[attr-defined]
                break
            self.current = self._cover(self.upcoming.to_ndarray(format="rgb24"))  # type: ignore[attr-defined]
            self.upcoming = None
        if self.current is None:
            raise GenerationError(f"video {self.path} has no frames")
        return self.current.copy()

    def _cover(self, rgb: U8) -> U8:
        import cv2

        h, w = rgb.shape[:2]
        scale = max(self.width / w, self.height / h)
        cw, ch = round(self.width / scale), round(self.height / scale)
        x0, y0 = (w - cw) // 2, (h - ch) // 2
        return cv2.resize(rgb[y0:y0 + ch, x0:x0 + cw], (self.width, self.height),
                          interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)

    def close(self) -> None:
        self.container.close()
