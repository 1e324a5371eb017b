"""Synthetic videos with a known truth, for the video-understanding tests and bench.

The main fixture is 72 s of 640x360 at 25 fps: nine 8-second scenes, each with its own
moving content and a large text label, a Piper sentence at a known time in every scene
but the silent one, one dissolve, one fade through black, and a "screen recording"
scene where only a small text box changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

W, H, FPS = 640, 360, 25
SCENE_S = 8.0
LABELS = ["ALPHA", "BRAVO", "CHARLIE", "DELTA", "ECHO", "FOXTROT", "GOLF", "HOTEL", "INDIA"]
SENTENCES = {  # scene index -> sentence; the first word is the key word
    0: "Apples are my favorite fruit.",
    1: "Bicycles are fast and quiet.",
    2: "Chocolate tastes very sweet.",
    3: "Diamonds are very expensive.",
    5: "Football is a popular sport.",
    6: "Guitars make beautiful music.",
    7: "Hospitals help sick people.",
    8: "Islands are surrounded by water.",
}
SILENT_SCENE = 4
DISSOLVE = (24.0, 25.0)  # scene 2 -> 3
FADE = (38.5, 39.5, 40.0, 41.0)  # out start, black start, black end, in end: scene 4 -> 5
HARD_CUTS = [8.0, 16.0, 32.0, 48.0, 56.0, 64.0]
TEXTBOX_SCENE, TEXTBOX_CHANGE_S = 6, 52.0
TEXTBOX_BEFORE, TEXTBOX_AFTER = "WAITING", "FINISHED"
Y, X = np.mgrid[0:H, 0:W].astype(np.float32)


@dataclass
class Speech:
    scene: int
    keyword: str
    start_s: float
    duration_s: float
    words: int


@dataclass
class Fixture:
    path: Path
    duration_s: float
    scene_starts: list[float]  # the reference boundary of each scene (dissolve/fade: middle)
    speech: list[Speech] = field(default_factory=list)

    def scene_at(self, t: float) -> int:
        return int(np.searchsorted(self.scene_starts, t, side="right") - 1)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for name in ("DejaVuSans-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def text_box(text: str, size: int = 44, fg: str = "black", bg: str = "white") -> np.ndarray:
    font = _font(size)
    x0, y0, x1, y1 = font.getbbox(text)
    im = Image.new("RGB", (x1 - x0 + 24, y1 - y0 + 20), bg)
    ImageDraw.Draw(im).text((12 - x0, 10 - y0), text, font=font, fill=fg)
    return np.asarray(im)


def paste(frame: np.ndarray, patch: np.ndarray, x: int, y: int) -> None:
    h, w = patch.shape[:2]
    frame[y:y + h, x:x + w] = patch


def _circle(img: np.ndarray, cx: float, cy: float, r: float, color: tuple[int, ...]) -> None:
    x0, x1, y0, y1 = int(max(cx - r, 0)), int(min(cx + r + 1, W)), int(max(cy - r, 0)), \
        int(min(cy + r + 1, H))
    if x0 >= x1 or y0 >= y1:
        return
    m = (X[y0:y1, x0:x1] - cx) ** 2 + (Y[y0:y1, x0:x1] - cy) ** 2 < r * r
    img[y0:y1, x0:x1][m] = color


def _gradient(c0: tuple[int, int, int], c1: tuple[int, int, int], axis: int) -> np.ndarray:
    ramp = (X / W) if axis else (Y / H)
    out = np.asarray(c0, np.float32) + ramp[..., None] * (np.subtract(c1, c0, dtype=np.float32))
    return out.astype(np.uint8)


def _scene_painters() -> list[Callable[[float], np.ndarray]]:
    g = [_gradient((20, 40, 160), (60, 120, 230), 0), _gradient((240, 140, 20), (120, 50, 0), 1),
         _gradient((20, 130, 40), (90, 200, 90), 0), _gradient((90, 20, 110), (170, 60, 190), 1),
         _gradient((60, 90, 90), (140, 190, 190), 1), _gradient((150, 20, 20), (220, 70, 60), 0),
         np.full((H, W, 3), 235, np.uint8), _gradient((160, 130, 30), (90, 60, 10), 0),
         _gradient((10, 100, 110), (40, 160, 170), 1)]

    def circles(i: int, color: tuple[int, int, int]) -> Callable[[float], np.ndarray]:
        def paint(t: float) -> np.ndarray:
            img = g[i].copy()
            _circle(img, 320 + 220 * np.sin(t * 0.9), 230 + 60 * np.cos(t * 1.3), 40, color)
            _circle(img, 480 + 100 * np.cos(t * 1.7), 150 + 80 * np.sin(t), 25, color)
            return img
        return paint

    def bars(i: int, color: tuple[int, int, int], axis: int) -> Callable[[float], np.ndarray]:
        def paint(t: float) -> np.ndarray:
            img = g[i].copy()
            phase = (X if axis else Y) + 40 * t
            img[(phase % 80) < 14] = color
            return img
        return paint

    def static(i: int) -> Callable[[float], np.ndarray]:
        def paint(t: float) -> np.ndarray:
            img = g[i].copy()
            box = TEXTBOX_BEFORE if t < TEXTBOX_CHANGE_S else TEXTBOX_AFTER
            paste(img, text_box(box, 22, fg="white", bg="#224488"), 400, 300)
            img[140:150, 40:600] = (180, 180, 180)  # slide decoration
            return img
        return paint

    return [circles(0, (250, 250, 80)), bars(1, (40, 20, 0), 1), circles(2, (250, 250, 250)),
            circles(3, (30, 230, 200)), bars(4, (230, 240, 240), 0), circles(5, (255, 230, 230)),
            static(6), bars(7, (250, 240, 200), 1), circles(8, (250, 120, 60))]


def render_frame(t: float, painters: list[Callable[[float], np.ndarray]],
                 labels: list[np.ndarray]) -> np.ndarray:
    def scene(i: int) -> np.ndarray:
        img = painters[i](t)
        paste(img, labels[i], 30, 24)
        return img

    if DISSOLVE[0] <= t < DISSOLVE[1]:
        a = (t - DISSOLVE[0]) / (DISSOLVE[1] - DISSOLVE[0])
        return ((1 - a) * scene(2) + a * scene(3)).astype(np.uint8)
    if FADE[0] <= t < FADE[3]:
        if t < FADE[1]:
            return (scene(4) * (1 - (t - FADE[0]) / (FADE[1] - FADE[0]))).astype(np.uint8)
        if t < FADE[2]:
            return np.zeros((H, W, 3), np.uint8)
        return (scene(5) * ((t - FADE[2]) / (FADE[3] - FADE[2]))).astype(np.uint8)
    starts = [0.0, 8.0, 16.0, 25.0, 32.0, 41.0, 48.0, 56.0, 64.0]
    return scene(int(np.searchsorted(starts, t, side="right") - 1))


async def _synthesize(texts: list[str]) -> tuple[list[np.ndarray], int]:
    from openrealtime.backends.local.piper import PiperTTS

    tts = PiperTTS(deterministic=True)
    out = []
    try:
        for text in texts:
            x = np.concatenate([c async for c in tts.synthesize(text)])
            loud = np.flatnonzero(np.abs(x) > 300)  # trim so the onset is the known time
            out.append(x[loud[0]:loud[-1] + 1])
    finally:
        await tts.aclose()
    return out, tts.sample_rate


def speak(texts: list[str]) -> tuple[list[np.ndarray], int]:
    """Piper audio (int16) for each text, silence trimmed."""
    return asyncio.run(_synthesize(texts))


def write_media(path: Path, duration_s: float, frame_at: Callable[[float], np.ndarray] | None,
                audio: np.ndarray | None = None, rate: int = 22050,
                frame_times: list[float] | None = None, size: tuple[int, int] = (W, H)) -> None:
    """Encode frames (at ``frame_times`` or 25 fps) and int16 mono audio into ``path``."""
    import av

    with av.open(str(path), "w") as out:
        vs = None
        if frame_at is not None:
            vs = out.add_stream("libx264", rate=FPS)
            vs.width, vs.height, vs.pix_fmt = size[0], size[1], "yuv420p"
            vs.options = {"preset": "veryfast", "crf": "20"}
            vs.time_base = Fraction(1, 1000)
            vs.codec_context.time_base = Fraction(1, 1000)  # millisecond pts: any frame rate
        a_s = out.add_stream("aac", rate=rate, layout="mono") if audio is not None else None
        times = frame_times if frame_times is not None else \
            [i / FPS for i in range(round(duration_s * FPS))]
        a_pos, step = 0, 1024
        for t in times if vs is not None else []:
            frame = av.VideoFrame.from_ndarray(frame_at(t), format="rgb24")  # type: ignore[misc]
            frame.pts, frame.time_base = round(t * 1000), Fraction(1, 1000)
            out.mux(vs.encode(frame))
            while a_s is not None and audio is not None and a_pos < min(len(audio), (t + 0.2) * rate):
                a_pos = _mux_audio(out, a_s, audio, a_pos, step, rate)
        while a_s is not None and audio is not None and a_pos < len(audio):
            a_pos = _mux_audio(out, a_s, audio, a_pos, step, rate)
        if vs is not None:
            out.mux(vs.encode(None))
        if a_s is not None:
            out.mux(a_s.encode(None))


def _mux_audio(out, stream, audio, pos, step, rate):  # type: ignore[no-untyped-def]
    import av

    chunk = audio[pos:pos + step].astype(np.int16).reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="mono")
    frame.sample_rate, frame.pts, frame.time_base = rate, pos, Fraction(1, rate)
    out.mux(stream.encode(frame))
    return pos + step


def build_main(path: Path) -> Fixture:
    """Write the 72 s fixture to ``path`` and return its truth."""
    order = sorted(SENTENCES)
    clips, rate = speak([SENTENCES[i] for i in order])
    scene_starts = [0.0, 8.0, 16.0, sum(DISSOLVE) / 2, 32.0, (FADE[1] + FADE[2]) / 2,
                    48.0, 56.0, 64.0]
    duration = 9 * SCENE_S
    track = np.zeros(int(duration * rate), np.int16)
    speech = []
    for i, clip in zip(order, clips, strict=True):
        start = (41.5 if i == 5 else scene_starts[i] + 1.0)
        if i == 3:
            start = 26.0
        n = int(start * rate)
        track[n:n + len(clip)] = clip
        words = SENTENCES[i].split()
        speech.append(Speech(i, words[0].lower(), start, len(clip) / rate, len(words)))
    painters = _scene_painters()
    labels = [text_box(text) for text in LABELS]
    write_media(path, duration, lambda t: render_frame(t, painters, labels), track, rate)
    return Fixture(path, duration, scene_starts, speech)


def two_scenes(size: tuple[int, int], cut_s: float, labels: tuple[str, str]
               ) -> Callable[[float], np.ndarray]:
    """Frames of two moving scenes with a label each, cut at ``cut_s``."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    boxes = [text_box(t, 40) for t in labels]

    def frame(t: float) -> np.ndarray:
        second = t >= cut_s
        img = np.empty((h, w, 3), np.uint8)
        img[...] = (170, 40, 40) if second else (30, 60, 170)
        img[((xx + 60 * t) % 90 < 15) if second else ((yy + 60 * t) % 90 < 15)] = (240, 240, 200)
        paste(img, boxes[int(second)], 20, 40)
        return img

    return frame


def build_edge_cases(root: Path, sentence: tuple[np.ndarray, int]) -> dict[str, Path]:
    """Small files for the error and channel tests; ``sentence`` is (int16 audio, rate)."""
    clip, rate = sentence
    paths = {name: root / name for name in (
        "no_audio.mp4", "no_video.m4a", "vertical.mp4", "vfr.mp4", "corrupt.mp4",
        "short.mkv", "truncated.mkv", "empty.mp4")}
    write_media(paths["no_audio.mp4"], 6.0, two_scenes((W, H), 3.0, ("KILO", "LIMA")))
    track = np.zeros(5 * rate, np.int16)
    track[rate:rate + len(clip)] = clip
    write_media(paths["no_video.m4a"], 5.0, None, track, rate)
    write_media(paths["vertical.mp4"], 6.0, two_scenes((360, 640), 3.0, ("MIKE", "NOVEMBER")),
                size=(360, 640))
    # variable frame rate: 30 fps, then 8 fps from 2.5 s, then 30 fps from 5.0 s
    times = [i / 30 for i in range(75)] + [2.5 + i / 8 for i in range(20)] + \
        [5.0 + i / 30 for i in range(60)]
    vfr = two_scenes((W, H), 2.5, ("OSCAR", "PAPA"))
    third = two_scenes((W, H), 0.0, ("QUEBEC", "QUEBEC"))
    write_media(paths["vfr.mp4"], 7.0, lambda t: vfr(t) if t < 5.0 else 255 - third(t),
                frame_times=times)
    rng = np.random.default_rng(5)
    paths["corrupt.mp4"].write_bytes(b"\x00\x00\x00\x18ftypmp42" + rng.bytes(50_000))
    write_media(paths["short.mkv"], 6.0, two_scenes((W, H), 3.0, ("ROMEO", "SIERRA")),
                track[: 6 * rate] if len(track) >= 6 * rate else np.pad(track, (0, rate)), rate)
    data = paths["short.mkv"].read_bytes()
    paths["truncated.mkv"].write_bytes(data[: len(data) // 2])
    paths["empty.mp4"].write_bytes(b"")
    return paths
