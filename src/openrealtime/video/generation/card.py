"""Generated pictures: seeded backgrounds, title and text cards, bar charts.

Backgrounds are computed at 1/8 resolution and upscaled (smooth by construction, cheap,
and easy on the encoder). Each scene's hue is spread from the previous one by the golden
angle, so neighbouring scenes always differ enough to read as a cut.
"""

from __future__ import annotations

import colorsys
import random
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from .layer import Layer
from .typography import draw_block, fit, line_height, load_font, text_width

_GOLDEN = 0.381966


def palette(seed: int, index: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """Two colours for scene ``index``: a dark and a brighter tone of one hue family."""
    rng = random.Random(seed * 7919 + index)
    hue = (random.Random(seed).random() + index * _GOLDEN) % 1.0
    value = 0.30 + 0.12 * (index % 2)  # alternate brightness too: cuts stay detectable

    def rgb(h: float, s: float, v: float) -> tuple[int, int, int]:
        r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
        return int(r * 255), int(g * 255), int(b * 255)

    return rgb(hue, 0.75, value), rgb(hue + rng.uniform(0.06, 0.14), 0.55, value + 0.3)


def background(seed: int, index: int, width: int, height: int) -> np.ndarray:
    """A diagonal gradient with a few soft glows, (height, width, 3) uint8."""
    import cv2

    rng = np.random.default_rng(seed * 104729 + index)
    dark, light = (np.array(c, np.float32) for c in palette(seed, index))
    h, w = max(2, height // 8), max(2, width // 8)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    t = (np.cos(angle) * xx / w + np.sin(angle) * yy / h)
    t = (t - t.min()) / max(1e-6, float(t.max() - t.min()))
    glow = np.zeros((h, w), np.float32)
    for _ in range(3):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.2, 0.45) * max(w, h)
        glow += np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))
    mix = np.clip(0.65 * t + 0.35 * glow / 3.0 * 2.0, 0, 1)[..., None]
    small = (dark * (1 - mix) + light * mix).astype(np.uint8)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)


def title_layer(title: str, width: int, height: int, font_path: str | None, *, big: bool) -> Layer:
    """The scene title, heavy and centred in the upper part of the frame, with an accent rule."""
    short = min(width, int(height * 0.75))
    size = int(short * (0.105 if big else 0.08))
    font, lines = fit(title, size, int(width * 0.84), 3 if big else 2, font_path, 0.04)
    stroke = max(1, round(font.size * 0.04))
    block = draw_block(lines, font, width, fill="#FFFFFF", stroke=stroke)
    shadow = draw_block(lines, font, width, fill=(0, 0, 0, 110), stroke=stroke + 2)
    canvas = Image.new("RGBA", (width, block.height + font.size), (0, 0, 0, 0))
    canvas.alpha_composite(shadow, (0, 6))
    canvas.alpha_composite(block, (0, 0))
    rule_w = int(short * 0.16)
    ImageDraw.Draw(canvas).rounded_rectangle(
        ((width - rule_w) // 2, block.height + font.size // 3,
         (width + rule_w) // 2, block.height + font.size // 3 + max(4, font.size // 10)),
        radius=4, fill=(255, 255, 255, 220))
    y = int(height * (0.36 if big else 0.22)) - canvas.height // 2
    return Layer.from_image(canvas, 0, y)


def chart_layer(chart: dict[str, Any], width: int, height: int, font_path: str | None) -> Layer:
    """A bar chart on a translucent panel: title, bars, value labels, category labels."""
    labels, values = list(chart["labels"]), [float(v) for v in chart["values"]]
    unit = chart.get("unit", "")
    short = min(width, int(height * 0.75))
    panel_w = int(width * 0.86)
    panel_h = int(min(height * 0.5, panel_w * 0.9))
    panel = Image.new("RGBA", (panel_w, panel_h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(panel)
    draw.rounded_rectangle((0, 0, panel_w - 1, panel_h - 1), radius=short // 30, fill=(12, 12, 20, 150))
    pad = short // 22
    top = pad
    if chart.get("title"):
        tfont, tlines = fit(str(chart["title"]), int(short * 0.055), panel_w - 2 * pad, 1, font_path)
        panel.alpha_composite(draw_block(tlines, tfont, panel_w, stroke=1), (0, top))
        top += line_height(tfont) + pad
    label_font = load_font(int(short * 0.036), font_path)
    value_font = load_font(int(short * 0.04), font_path)
    base_y = panel_h - pad - line_height(label_font)
    bar_top = top + line_height(value_font)
    slot = (panel_w - 2 * pad) / max(1, len(values))
    hi = max(max(values), 1e-9)
    lo = min(0.0, min(values))
    colours = [(255, 196, 61), (99, 214, 255), (255, 120, 140), (140, 235, 140), (200, 160, 255)]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        x0 = int(pad + i * slot + slot * 0.18)
        x1 = int(pad + (i + 1) * slot - slot * 0.18)
        y = int(base_y - (value - lo) / (hi - lo) * (base_y - bar_top))
        draw.rounded_rectangle((x0, y, x1, base_y), radius=max(2, (x1 - x0) // 10),
                               fill=colours[i % len(colours)] + (255,))
        text = f"{value:g}{unit}"
        draw.text(((x0 + x1 - text_width(text, value_font)) // 2, y - line_height(value_font)),
                  text, font=value_font, fill="#FFFFFF")
        short_label = label if text_width(label, label_font) <= slot else label[: max(3, int(len(label) * slot / max(1, text_width(label, label_font))))]
        draw.text((int(pad + i * slot + (slot - text_width(short_label, label_font)) / 2), base_y + 6),
                  short_label, font=label_font, fill=(230, 230, 240, 255))
    draw.line((pad, base_y, panel_w - pad, base_y), fill=(255, 255, 255, 160), width=3)
    return Layer.from_image(panel, (width - panel_w) // 2, int(height * 0.40) - panel_h // 2)
