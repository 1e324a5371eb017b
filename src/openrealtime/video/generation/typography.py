"""Fonts and text layout: wrap to a width, shrink to fit, draw crisp text blocks.

The default face is the scalable font bundled with Pillow (>= 10.1), so a fresh machine
renders identically without system fonts; ``--font FILE`` takes any TrueType/OpenType file.
Weight for titles comes from a stroke in the text colour.
"""

from __future__ import annotations

import functools
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from .error import GenerationError

Font = ImageFont.FreeTypeFont


@functools.lru_cache(maxsize=64)
def load_font(size: int, path: str | None = None) -> Font:
    """The font at ``size`` pixels (cached: layout measures the same sizes often)."""
    size = max(8, int(size))
    if path:
        if not Path(path).is_file():
            raise GenerationError(f"font file not found: {path}")
        try:
            return ImageFont.truetype(path, size)
        except OSError as exc:
            raise GenerationError(f"cannot load font {path}: {exc}") from None
    font = ImageFont.load_default(size=size)
    if not isinstance(font, ImageFont.FreeTypeFont):  # Pillow < 10.1 or no FreeType
        raise GenerationError("Pillow has no scalable default font; pass --font FILE.ttf")
    return font


def text_width(text: str, font: Font, stroke: int = 0) -> int:
    left, _, right, _ = font.getbbox(text, stroke_width=stroke)
    return int(right - left)


def wrap(text: str, font: Font, max_width: int, stroke: int = 0) -> list[str]:
    """Greedy word wrap; a single word wider than the line stays on its own line."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        trial = f"{current} {word}".strip()
        if current and text_width(trial, font, stroke) > max_width:
            lines.append(current)
            current = word
        else:
            current = trial
    if current:
        lines.append(current)
    return lines


def fit(text: str, size: int, max_width: int, max_lines: int, font_path: str | None,
        stroke_ratio: float = 0.0) -> tuple[Font, list[str]]:
    """The largest font (from ``size`` down) whose wrapped text fits the lines and width."""
    while True:
        font = load_font(size, font_path)
        stroke = round(size * stroke_ratio)
        lines = wrap(text, font, max_width, stroke)
        widest = max((text_width(ln, font, stroke) for ln in lines), default=0)
        if (len(lines) <= max_lines and widest <= max_width) or size <= 12:
            return font, lines
        size = int(size * 0.92)


def line_height(font: Font) -> int:
    ascent, descent = font.getmetrics()
    return int((ascent + descent) * 1.12)


def draw_block(
    lines: list[str],
    font: Font,
    width: int,
    *,
    fill: str | tuple[int, ...] = "#FFFFFF",
    stroke: int = 0,
    stroke_fill: str | tuple[int, ...] | None = None,
    align: str = "center",
) -> Image.Image:
    """An RGBA image ``width`` wide holding the lines, centred (or left) per line."""
    step = line_height(font)
    pad = stroke + 4
    image = Image.new("RGBA", (width, step * len(lines) + 2 * pad), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        w = text_width(line, font, stroke)
        x = (width - w) // 2 if align == "center" else pad
        draw.text((x, pad + i * step), line, font=font, fill=fill, stroke_width=stroke,
                  stroke_fill=stroke_fill if stroke_fill is not None else fill)
    return image
