"""A synthetic "product demo" for fusing what is said with what is shown (issue 15).

Each scene shows a made-up feature name in large letters (and "FEATURE N" above it) and
an espeak-ng voice says "Feature N is called <name>." about a second after the cut. The
voices (en-us, en-gb, en-gb-scotland in turn) are not Piper, the project's narration
voice, and the names are not English words: Whisper alone misspells most of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.voices import ESPEAK_VOICES, RATE, espeak

from .understanding_fixture import H, W, X, Y, paste, text_box, write_media

NAMES = ["Zorvex", "Quillon", "Brantic", "Velmora", "Tazlin", "Mirabex", "Solvane", "Pexaro",
         "Glimmet", "Dravik"]
SPEECH_AT_S = 0.8  # after the scene's cut


@dataclass
class Demo:
    path: Path
    duration_s: float
    scene_s: float
    names: list[str]

    def scene_of(self, t: float) -> int:
        return min(int(t // self.scene_s), len(self.names) - 1)


def sentence(n: int, name: str) -> str:
    return f"Feature {n} is called {name}."


def _background(i: int) -> np.ndarray:
    rng = np.random.default_rng(100 + i)
    c0, c1 = rng.integers(20, 235, 3), rng.integers(20, 235, 3)
    ramp = (X / W) if i % 2 else (Y / H)
    return (c0 + ramp[..., None] * (c1 - c0)).astype(np.uint8)


def build_demo(path: Path, scenes: int = 5, scene_s: float = 5.0) -> Demo:
    """Write a ``scenes`` x ``scene_s`` demo video to ``path`` and return its truth."""
    names = NAMES[:scenes]
    backgrounds = [_background(i) for i in range(scenes)]
    labels = [(text_box(f"FEATURE {i + 1}", 26), text_box(name, 56))
              for i, name in enumerate(names)]
    duration = scenes * scene_s
    track = np.zeros(int(duration * RATE), np.float32)
    for i, name in enumerate(names):
        clip = espeak(sentence(i + 1, name), ESPEAK_VOICES[i % len(ESPEAK_VOICES)])
        start = int((i * scene_s + SPEECH_AT_S) * RATE) - int(0.4 * RATE)  # espeak() leads 0.4 s
        clip = clip[: int((scene_s - SPEECH_AT_S) * RATE)]
        track[start:start + len(clip)] += clip
    audio = np.clip(track * 32767 * 0.8, -32768, 32767).astype(np.int16)

    def frame(t: float) -> np.ndarray:
        i = min(int(t // scene_s), scenes - 1)
        img = backgrounds[i].copy()
        cx = 320 + 200 * np.sin(t * 1.1 + i)
        m = (X - cx) ** 2 + (Y - 280) ** 2 < 30 ** 2  # something moves in every scene
        img[m] = (250, 250, 250)
        small, big = labels[i]
        paste(img, small, 40, 30)
        paste(img, big, 40, 90)
        return img

    write_media(path, duration, frame, audio, RATE)
    return Demo(path, duration, scene_s, names)
