"""On-screen text: RapidOCR on keyframes and on regions that changed in a still picture.

Screen recordings change little between "shots": a dialog opens, a number updates.
:class:`RegionWatch` looks at the 2-per-second samples of a shot; when the picture has
been still, then changes inside a small area, then is still again, that area is read.
:class:`TextTrack` merges sightings of the same text in a shot into one item whose
span runs from the first sighting to the moment its area changed or the shot ended.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

import numpy as np
import numpy.typing as npt

MIN_SCORE = 0.6
STILL_FRACTION = 0.002  # share of changed pixels under which a sample counts as still
REGION_MAX = 0.35  # a change larger than this is not "a region", it is a new picture
PIXEL_DELTA = 24

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in full-sample pixels


@dataclass(frozen=True, slots=True)
class Line:
    text: str
    score: float
    box: Box


class TextReader:
    """RapidOCR, loaded on first use. Input is RGB; the detector keeps the native size."""

    def __init__(self, max_side: int = 1280) -> None:
        self.max_side = max_side
        self._ocr: Any = None

    def load(self) -> Any:
        """The OCR engine, loaded on first use."""
        if self._ocr is None:
            from rapidocr_onnxruntime import RapidOCR

            # limit_type "max": the default ("min", 736) upscales a 360p frame to
            # 1308x736 and triples the cost without reading our frames any better.
            with _no_spinning():
                self._ocr = RapidOCR(det_limit_side_len=self.max_side,
                                     det_limit_type="max", intra_op_num_threads=2)
        return self._ocr

    def read(self, rgb: npt.NDArray[np.uint8], offset: tuple[int, int] = (0, 0)) -> list[Line]:
        """Text lines in ``rgb``; boxes shifted by ``offset`` (x, y) of a crop."""
        result, _ = self.load()(np.ascontiguousarray(rgb[:, :, ::-1]), use_cls=False)
        lines = []
        for quad, text, score in result or []:
            text = " ".join(str(text).split())
            if float(score) < MIN_SCORE or sum(ch.isalnum() for ch in text) < 2:
                continue
            xs, ys = [p[0] for p in quad], [p[1] for p in quad]
            box = (int(min(xs)) + offset[0], int(min(ys)) + offset[1],
                   int(max(xs)) + offset[0], int(max(ys)) + offset[1])
            lines.append(Line(text, float(score), box))
        return lines


@contextmanager
def _no_spinning() -> Iterator[None]:
    """ONNX Runtime sessions built inside this block do not spin-wait between parallel
    sections. Its two intra-op threads otherwise busy-wait for work: with Whisper, the
    decoder or another program on the same two cores, 18 reads of 640x360 frames took
    3.4 CPU-s and 1.7 s, against 1.7 CPU-s and 1.0 s without spinning (same text).
    RapidOCR has no setting for it: its session-options builder is wrapped while the
    reader is built (and left alone if a RapidOCR version lacks it)."""
    try:
        from rapidocr_onnxruntime.utils import infer_engine
        original = infer_engine.OrtInferSession._init_sess_opts
    except (ImportError, AttributeError):
        yield
        return

    def options(config: dict[str, Any]) -> Any:
        opts = original(config)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return opts

    infer_engine.OrtInferSession._init_sess_opts = staticmethod(options)
    try:
        yield
    finally:
        infer_engine.OrtInferSession._init_sess_opts = staticmethod(original)


def normalize(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", text.lower())


def same_text(a: str, b: str) -> bool:
    """OCR of one caption varies by a letter or a space between frames."""
    na, nb = normalize(a), normalize(b)
    return na == nb or SequenceMatcher(None, na, nb).ratio() >= 0.8


@dataclass(slots=True)
class TextItem:
    text: str
    start_s: float
    end_s: float | None
    shot_index: int
    box: Box
    score: float
    source: str = "keyframe"  # or "region_change"


@dataclass(slots=True)
class TextTrack:
    """De-duplicated on-screen text items across the whole video."""

    items: list[TextItem] = field(default_factory=list)

    def observe(self, time_s: float, shot_index: int, lines: list[Line],
                changed: Box | None = None) -> None:
        """Record what was read at ``time_s``; ``changed`` closes items inside that area."""
        open_items = [i for i in self.items if i.shot_index == shot_index and i.end_s is None]
        seen: set[int] = set()
        for line in lines:
            match = next((i for i in open_items if same_text(i.text, line.text)), None)
            if match is None:
                self.items.append(TextItem(line.text, time_s, None, shot_index, line.box,
                                           line.score, "keyframe" if changed is None
                                           else "region_change"))
            else:
                seen.add(id(match))
                if line.score > match.score:  # keep the cleanest reading
                    match.text, match.score = line.text, line.score
        if changed is not None:
            for item in open_items:
                if id(item) not in seen and _overlap(item.box, changed):
                    item.end_s = time_s

    def close_shot(self, shot_index: int, end_s: float) -> None:
        for item in self.items:
            if item.shot_index == shot_index and item.end_s is None:
                item.end_s = max(end_s, item.start_s)


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@dataclass(slots=True)
class RegionWatch:
    """Finds "only this area changed" moments in the samples of one shot at a time."""

    _ref: npt.NDArray[np.int16] | None = None  # last still picture
    _prev: npt.NDArray[np.int16] | None = None
    _change_s: float | None = None  # first sample that differed from the still picture
    _shot: int = -1

    def push(self, time_s: float, shot_index: int, rgb: npt.NDArray[np.uint8]) -> tuple[
            float, Box] | None:
        """Feed one sample; returns ``(change_time_s, box)`` when a region settled anew."""
        step = max(1, rgb.shape[1] // 160)
        gray = rgb[::step, ::step].mean(axis=2).astype(np.int16)
        if shot_index != self._shot:
            self._ref = self._prev = None
            self._change_s, self._shot = None, shot_index
        prev, self._prev = self._prev, gray
        if prev is None or prev.shape != gray.shape:
            return None
        if np.mean(np.abs(gray - prev) > PIXEL_DELTA) >= STILL_FRACTION:
            if self._change_s is None and self._ref is not None:
                self._change_s = time_s
            return None
        if self._ref is None:
            self._ref = gray
            return None
        mask = np.abs(gray - self._ref) > PIXEL_DELTA
        share = float(mask.mean())
        self._ref, change_s, self._change_s = gray, self._change_s, None
        if share < STILL_FRACTION / 2 or share > REGION_MAX:
            return None
        ys, xs = np.nonzero(mask)
        pad = 6
        box = (max(0, (int(xs.min()) - pad) * step), max(0, (int(ys.min()) - pad) * step),
               min(rgb.shape[1], (int(xs.max()) + pad + 1) * step),
               min(rgb.shape[0], (int(ys.max()) + pad + 1) * step))
        return (change_s if change_s is not None else time_s), box
