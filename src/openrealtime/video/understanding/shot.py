"""Shot boundaries from tiny frames: hard cuts, dissolves and fades through black.

Why our own frame-difference analysis rather than calling ``scenedetect.detect``: that
decodes the file a second time (with OpenCV), and its content/adaptive detectors see a
1-second dissolve as 25 small changes, so it misses it. Here every frame is seen once,
as a 64x36 copy, and three signals are kept per frame (a few hundred bytes):

* ``diff``  mean absolute pixel difference to the previous frame: a hard cut is a spike
  well above the local median (the adaptive rule of PySceneDetect's AdaptiveDetector);
* ``hist``  a 4x4x4 colour histogram: across a gradual transition the histograms of the
  frames ``GAP_S`` before and after differ although no single step is large;
* ``luma``  mean brightness: black frames inside such a region make it a fade, whose
  boundary is the middle of the black (PySceneDetect's ThresholdDetector rule).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

CUT_MIN_DIFF = 18.0  # mean |delta| on 0..255 below which no cut is believed
CUT_RATIO = 3.0  # a cut's diff must exceed this times the local median diff
LOCAL_S = 1.0  # half-width of the local median window
GAP_S = 0.75  # gradual: compare frames this far before and after
GRADUAL_MIN = 0.45  # histogram distance (0..1) that marks a gradual transition
BLACK_LUMA = 16.0
MIN_SHOT_S = 0.6


@dataclass(frozen=True, slots=True)
class Boundary:
    """The first instant of a new shot and how it began (cut, dissolve or fade)."""

    time_s: float
    kind: str


@dataclass(slots=True)
class ShotFeatures:
    """Per-frame signals of a whole video, appended as frames are decoded."""

    times: list[float] = field(default_factory=list)
    diff: list[float] = field(default_factory=list)
    luma: list[float] = field(default_factory=list)
    hist: list[npt.NDArray[np.float32]] = field(default_factory=list)
    _prev: npt.NDArray[np.int16] | None = None

    def push(self, time_s: float, small: npt.NDArray[np.uint8]) -> None:
        """Add one frame (a tiny RGB copy) at ``time_s``."""
        if self.times and time_s <= self.times[-1]:
            return  # duplicate or out-of-order timestamp: keep the timeline monotonic
        cur = small.astype(np.int16)
        self.diff.append(float(np.abs(cur - self._prev).mean()) if self._prev is not None
                         and self._prev.shape == cur.shape else 0.0)
        q = (small >> 6).astype(np.int32)
        idx = (q[..., 0] * 16 + q[..., 1] * 4 + q[..., 2]).ravel()
        self.hist.append((np.bincount(idx, minlength=64) / idx.size).astype(np.float32))
        self.luma.append(float(small.mean()))
        self.times.append(time_s)
        self._prev = cur


def detect(features: ShotFeatures, start_s: float, end_s: float) -> list[Boundary]:
    """Boundaries with ``start_s <= time < end_s``; frames around the range give context."""
    t = np.asarray(features.times)
    if len(t) < 3:
        return []
    step = float(np.median(np.diff(t))) or 0.04
    ctx = LOCAL_S + 2 * GAP_S + 1.0
    lo, hi = np.searchsorted(t, start_s - ctx), np.searchsorted(t, end_s + ctx)
    window = slice(int(lo), int(hi))
    cuts = _cuts(t[window], np.asarray(features.diff[window]), step)
    found = cuts + _gradual(t[window], np.stack(features.hist[window]),
                            np.asarray(features.luma[window]), step, cuts)
    found.sort(key=lambda b: b.time_s)
    return [b for b in _spaced(found) if start_s <= b.time_s < end_s and b.time_s > 0]


def _cuts(t: npt.NDArray[np.float64], diff: npt.NDArray[np.float64], step: float) -> list[Boundary]:
    # The window is in seconds, not frames: in a variable-frame-rate file a stretch at
    # 8 fps has larger steps than its 30 fps neighbours and must be judged among its own.
    lo = np.searchsorted(t, t - LOCAL_S)
    hi = np.searchsorted(t, t + LOCAL_S, side="right")
    median = np.array([np.median(diff[a:b]) for a, b in zip(lo, hi, strict=True)])
    is_cut = (diff > CUT_MIN_DIFF) & (diff > CUT_RATIO * median + 4.0)
    # a spike, not a plateau of motion: at least the larger neighbour, and well above the
    # smaller one (a cut smeared over two frames still passes; steady fast motion not)
    left, mid, right = diff[:-2], diff[1:-1], diff[2:]
    is_cut[1:-1] &= (mid >= np.maximum(left, right)) & (mid > 2 * np.minimum(left, right) + 4)
    return [Boundary(float(t[i]), "cut") for i in np.flatnonzero(is_cut) if i > 0]


def _gradual(t: npt.NDArray[np.float64], hist: npt.NDArray[np.float32],
             luma: npt.NDArray[np.float64], step: float, cuts: list[Boundary]) -> list[Boundary]:
    gap = max(2, round(GAP_S / step))
    n = len(t)
    if n <= 2 * gap:
        return []
    dist = np.zeros(n)
    dist[gap:n - gap] = 0.5 * np.abs(hist[2 * gap:] - hist[:n - 2 * gap]).sum(axis=1)
    active = dist > GRADUAL_MIN
    for cut in cuts:  # a hard cut also raises the distance for +-GAP around it
        active &= np.abs(t - cut.time_s) > GAP_S + 3 * step
    out = []
    for a, b in _runs(active):
        if b - a < max(2, gap // 2):
            continue
        black = np.flatnonzero(luma[a:b] < BLACK_LUMA)
        if black.size:
            mid = a + (int(black[0]) + int(black[-1])) // 2
            out.append(Boundary(float(t[mid]), "fade"))
        else:
            out.append(Boundary(float(t[(a + b - 1) // 2]), "dissolve"))
    return out


def _runs(mask: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _spaced(found: list[Boundary]) -> list[Boundary]:
    """Drop boundaries closer than MIN_SHOT_S to the previous one (a flash is one cut)."""
    out: list[Boundary] = []
    for b in found:
        if not out or b.time_s - out[-1].time_s >= MIN_SHOT_S:
            out.append(b)
    return out
