"""Local image understanding: on-screen text (RapidOCR, in reading order) plus simple
visual facts, written as a short text the LLM can use.

A 135M-parameter text model cannot look at pixels; what a support agent needs from a
shared screen is mostly its text ("Error: disk quota exceeded") and what kind of thing
it is (a dialog, a photo). That is what this produces, offline, in about a second.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import re
from typing import Any

import numpy as np

from ..base import BackendError

# Words that mark an error dialog or message box on a screenshot.
ALERT_WORDS = ("error", "failed", "failure", "exception", "warning", "denied", "cannot",
               "could not", "unable", "not found", "invalid", "fatal", "crash", "timeout",
               "timed out", "refused", "unavailable", "exceeded")
COLOURS = {"black": (0, 0, 0), "white": (255, 255, 255), "gray": (128, 128, 128),
           "light gray": (210, 210, 210), "dark gray": (64, 64, 64), "red": (200, 30, 30),
           "orange": (240, 140, 20), "yellow": (240, 220, 40), "green": (40, 160, 60),
           "blue": (40, 90, 200), "light blue": (140, 190, 240), "purple": (130, 60, 170),
           "pink": (240, 150, 190), "brown": (120, 80, 40)}
MAX_SIDE = 1600  # larger images are scaled down before OCR (speed; text stays legible)


class LocalVision:
    name = "RapidOCR + visual facts"

    def __init__(self) -> None:
        from rapidocr_onnxruntime import RapidOCR

        self._ocr: Any = RapidOCR()
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="vision")

    def warmup(self) -> None:
        self._describe(_blank_png(), "image/png")

    async def describe(self, image: bytes, mime: str, *, detail: str = "auto") -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._describe, image, mime)

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _describe(self, image: bytes, mime: str) -> str:
        from PIL import Image, UnidentifiedImageError

        try:
            picture = Image.open(io.BytesIO(image))
            picture.load()
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
            raise BackendError(f"cannot read the image: {exc}", code="image_error") from exc
        width, height = picture.size
        rgb = picture.convert("RGB")
        scale = min(1.0, MAX_SIDE / max(width, height))
        if scale < 1.0:
            rgb = rgb.resize((round(width * scale), round(height * scale)))
        pixels = np.asarray(rgb)
        lines = self.read_text(pixels)
        return summarize(width, height, pixels, lines)

    def read_text(self, pixels: np.ndarray) -> list[str]:
        """OCR lines in reading order: top to bottom, then left to right within a row."""
        result, _ = self._ocr(pixels, use_cls=False, return_word_box=True)
        boxes = []
        for box, text, score, *chars in result or []:
            if float(score) < 0.5 or not str(text).strip():
                continue
            if len(chars) >= 2 and chars[1]:
                text = spaced(chars[0], chars[1]) or text
            ys = [p[1] for p in box]
            xs = [p[0] for p in box]
            boxes.append((min(ys), max(ys), min(xs), str(text).strip()))
        boxes.sort()
        rows: list[list[tuple[float, float, float, str]]] = []
        for box in boxes:
            top, bottom = box[0], box[1]
            if rows and top < (rows[-1][0][0] + rows[-1][0][1]) / 2 <= bottom + 1:
                rows[-1].append(box)  # overlaps the row's first box vertically
            else:
                rows.append([box])
        return [" ".join(b[3] for b in sorted(row, key=lambda b: b[2])) for row in rows]


def spaced(char_boxes: list[Any], chars: list[str]) -> str:
    """Rebuild a line from per-character boxes, putting back the spaces between words.

    RapidOCR's default recognizer (a Chinese/English model) often drops spaces
    ("Couldnotsave"); the gaps between character boxes still show where words end.
    """
    if len(char_boxes) != len(chars):
        return ""
    left = [min(p[0] for p in box) for box in char_boxes]
    right = [max(p[0] for p in box) for box in char_boxes]
    gaps = sorted(left[i] - right[i - 1] for i in range(1, len(chars))
                  if chars[i].strip() and chars[i - 1].strip())
    if not gaps:
        return ""
    # Letters of a word sit close (the upper quartile of gaps); a word break is clearly
    # wider than that.
    gap_limit = max(3.0, gaps[int(0.75 * (len(gaps) - 1))] + 2)
    out = chars[0]
    for i in range(1, len(chars)):
        gap = left[i] - right[i - 1]
        if gap > gap_limit and not out.endswith(" ") and chars[i] != " ":
            out += " "
        out += chars[i]
    return " ".join(out.split())


def summarize(width: int, height: int, pixels: np.ndarray, lines: list[str]) -> str:
    kind = "screenshot" if looks_like_screenshot(pixels, bool(lines)) else "photo"
    colours = dominant_colours(pixels)
    parts = [f"The user shared an image: a {kind}, {width}x{height} pixels, "
             f"mostly {' and '.join(colours)}."]
    if lines:
        quoted = "; ".join(f'"{line}"' for line in lines[:40])
        parts.append(f"On-screen text, in reading order: {quoted}.")
        found = alert_words(" ".join(lines))
        if found:
            parts.append("It looks like an error or warning message (it says "
                         + ", ".join(f'"{w}"' for w in found) + ").")
    else:
        parts.append("No text is visible.")
    return " ".join(parts)


def alert_words(text: str) -> list[str]:
    lower = text.lower()
    return [w for w in ALERT_WORDS if re.search(r"\b" + re.escape(w) + r"\b", lower)]


def dominant_colours(pixels: np.ndarray, top: int = 2) -> list[str]:
    names = list(COLOURS)
    palette = np.array([COLOURS[n] for n in names], dtype=np.float32)
    sample = pixels[::8, ::8].reshape(-1, 3).astype(np.float32)
    nearest = np.argmin(((sample[:, None, :] - palette[None]) ** 2).sum(-1), axis=1)
    counts = np.bincount(nearest, minlength=len(names))
    return [names[i] for i in np.argsort(counts)[::-1][:top] if counts[i]]


def looks_like_screenshot(pixels: np.ndarray, has_text: bool) -> bool:
    """Screens have large flat areas and few distinct colours; photos have neither."""
    sample = pixels[::4, ::4].reshape(-1, 3)
    flat = float(np.mean(np.all(np.abs(np.diff(pixels[::4, ::4].astype(np.int16), axis=1))
                                <= 2, axis=-1)))
    distinct = len(np.unique(sample // 16, axis=0))
    return (flat > 0.6 and distinct < 600) or (has_text and flat > 0.4)


def _blank_png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 32), (255, 255, 255)).save(out, format="PNG")
    return out.getvalue()
