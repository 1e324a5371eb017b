"""Subtitles: cues that fit the frame, burned-in caption layers, and the ``.srt`` file.

A sentence too long for ``max_lines`` lines at the chosen size is split into word groups
that each fit; the sentence's time is shared among them by length, so the SRT and the
burned captions agree and joining every cue's text gives back the narration.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from .layer import Layer
from .narration import Cue
from .plan import CaptionStyle
from .typography import Font, draw_block, load_font, wrap

_WIDTH = 0.84  # of the frame width: safe area on phones


class Captioner:
    """Lays out and draws captions for one frame size and style."""

    def __init__(self, style: CaptionStyle, width: int, height: int, font_path: str | None) -> None:
        self.style, self.width, self.height = style, width, height
        self.font: Font = load_font(round(style.size * min(width, height * 0.75)), font_path)
        self.stroke = max(2, self.font.size // 12) if style.style == "outline" else 0
        self.max_width = int(width * _WIDTH) - (2 * self.font.size if style.style == "box" else 0)

    def lines(self, text: str) -> list[str]:
        return wrap(text, self.font, self.max_width, self.stroke)

    def fit_cues(self, cues: list[Cue]) -> list[Cue]:
        """Split cues whose text needs more than ``max_lines`` lines."""
        out: list[Cue] = []
        for cue in cues:
            groups = self._groups(cue.text)
            total = sum(len(g) for g in groups) or 1
            t = cue.start_s
            for group in groups:
                end = cue.end_s if group is groups[-1] else t + (cue.end_s - cue.start_s) * len(group) / total
                out.append(Cue(round(t, 3), round(end, 3), group, cue.scene))
                t = end
        return out

    def _groups(self, text: str) -> list[str]:
        groups: list[str] = []
        current: list[str] = []
        for word in text.split():
            if current and len(self.lines(" ".join([*current, word]))) > self.style.max_lines:
                groups.append(" ".join(current))
                current = []
            current.append(word)
        if current:
            groups.append(" ".join(current))
        return groups

    def layer(self, text: str) -> Layer:
        """The caption as a positioned layer (box, outline or plain style)."""
        lines = self.lines(text)
        block = draw_block(lines, self.font, int(self.width * _WIDTH), fill=self.style.color,
                           stroke=self.stroke, stroke_fill="#000000")
        if self.style.style == "box":
            block = _boxed(block, pad=self.font.size // 2)
        x = (self.width - block.width) // 2
        y = {"top": int(self.height * 0.12),
             "center": (self.height - block.height) // 2,
             "bottom": int(self.height * 0.80) - block.height}[self.style.position]
        return Layer.from_image(block, x, max(0, y))


def _boxed(block: Image.Image, pad: int) -> Image.Image:
    """Text on a rounded translucent dark panel hugging the text."""
    bbox = block.getbbox() or (0, 0, 1, 1)
    text = block.crop(bbox)
    panel = Image.new("RGBA", (text.width + 2 * pad, text.height + 2 * pad), (0, 0, 0, 0))
    ImageDraw.Draw(panel).rounded_rectangle(
        (0, 0, panel.width - 1, panel.height - 1), radius=pad, fill=(10, 10, 16, 190))
    panel.alpha_composite(text, (pad, pad))
    return panel


def srt_time(seconds: float) -> str:
    ms = max(0, round(seconds * 1000))
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def write_srt(path: Path, cues: list[Cue], captioner: Captioner | None = None) -> None:
    """SubRip: numbered cues, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``, text lines, blank line."""
    blocks = []
    for i, cue in enumerate(cues, 1):
        text = "\n".join(captioner.lines(cue.text)) if captioner else cue.text
        blocks.append(f"{i}\n{srt_time(cue.start_s)} --> {srt_time(cue.end_s)}\n{text}\n")
    path.write_text("\n".join(blocks), encoding="utf-8")
