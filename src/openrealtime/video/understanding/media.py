"""One decoding pass over a media file with PyAV: video frames and 16 kHz mono audio.

Every timestamp is taken from the packet's presentation time (``frame.time``), never
from a frame counter, so variable-frame-rate files get true times. Times are shifted
so the container's start is 0 (MPEG-TS files often start at 1.4 s).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

AUDIO_RATE = 16_000
SMALL_SIZE = (64, 36)  # width, height of the frames the shot detector sees


class MediaError(Exception):
    """The file cannot be read as media. The message is one line, fit for a CLI."""


@dataclass(slots=True)
class MediaInfo:
    """What the container says about itself before decoding."""

    duration_s: float
    width: int = 0
    height: int = 0
    fps: float = 0.0
    has_video: bool = False
    has_audio: bool = False


@dataclass(slots=True)
class Frame:
    """A decoded video frame: a tiny copy for shot detection, and at sample times a full one."""

    time_s: float
    small: npt.NDArray[np.uint8]
    full: npt.NDArray[np.uint8] | None = None  # RGB, long side at most ``max_side``


@dataclass(slots=True)
class Decoder:
    """Decode ``path`` once; iterate :meth:`items`, take audio with :meth:`take_audio`."""

    path: Path
    sample_interval_s: float = 0.5
    max_side: int = 1280
    info: MediaInfo = field(init=False)
    warnings: list[str] = field(default_factory=list)
    _container: Any = field(init=False, default=None)
    _audio: list[npt.NDArray[np.float32]] = field(default_factory=list)
    _audio_start: int = 0  # absolute sample index of _audio[0][0]
    _audio_end: int = 0  # absolute sample index one past the last decoded sample
    _t0: float = 0.0  # container start time, subtracted from every timestamp

    def __post_init__(self) -> None:
        import av

        if not self.path.is_file():
            raise MediaError(f"no such file: {self.path}")
        try:
            self._container = av.open(str(self.path))
        except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
            raise MediaError(f"cannot open {self.path.name}: {_reason(exc)}") from None
        c = self._container
        video, audio = c.streams.video[:1], c.streams.audio[:1]
        if not video and not audio:
            c.close()
            raise MediaError(f"{self.path.name} has no audio or video stream")
        duration = (c.duration or 0) / 1_000_000
        self.info = MediaInfo(duration_s=max(duration, 0.0), has_video=bool(video),
                              has_audio=bool(audio))
        if video:
            v = video[0]
            v.thread_type = "AUTO"  # frame + slice threads: decoding is the cheapest stage then
            self.info.width, self.info.height = v.codec_context.width, v.codec_context.height
            self.info.fps = float(v.average_rate or v.guessed_rate or 0.0)
        self._t0 = (c.start_time or 0) / 1_000_000

    def items(self) -> Iterator[tuple[float, Frame | None]]:
        """Yield ``(time_s, frame)`` for video frames and ``(time_s, None)`` for audio progress."""
        import av

        c = self._container
        streams = [*c.streams.video[:1], *c.streams.audio[:1]]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE)
        next_sample_s, last_s, decoded = 0.0, 0.0, 0
        try:
            for packet in c.demux(streams):
                for frame in packet.decode():
                    decoded += 1
                    t = frame.time - self._t0 if frame.time is not None else last_s
                    if packet.stream.type == "audio":
                        self._push_audio(resampler.resample(frame), t)
                        yield t, None
                        continue
                    last_s = max(last_s, t)
                    item = Frame(t, _small(frame))
                    if t >= next_sample_s:
                        item.full = self._full(frame)
                        # grid-aligned so sample times do not drift with odd frame rates
                        next_sample_s = (np.floor(t / self.sample_interval_s) + 1) * \
                            self.sample_interval_s
                    yield t, item
        except av.FFmpegError as exc:
            if decoded == 0:
                raise MediaError(f"cannot decode {self.path.name}: {_reason(exc)}") from None
            self.warnings.append(f"decoding stopped at {last_s:.2f} s (damaged or truncated "
                                 f"file: {_reason(exc)}); the brief covers what was decoded")
        finally:
            if c.streams.audio:
                try:
                    self._push_audio(resampler.resample(None), None)
                except av.FFmpegError:  # flushing a damaged stream: nothing more to get
                    pass
            c.close()
        if decoded == 0:
            raise MediaError(f"{self.path.name} contains no decodable audio or video")

    def _full(self, frame: Any) -> npt.NDArray[np.uint8]:
        w, h = frame.width, frame.height
        scale = min(1.0, self.max_side / max(w, h))
        w2, h2 = max(2, int(w * scale) // 2 * 2), max(2, int(h * scale) // 2 * 2)
        return frame.to_ndarray(format="rgb24", width=w2, height=h2)  # type: ignore[no-any-return]

    def _push_audio(self, frames: list[Any], t: float | None) -> None:
        for f in frames:
            x = f.to_ndarray().reshape(-1).astype(np.float32, copy=False)
            if not self._audio and t is not None and t > 0.05:
                # audio starting late: pad so sample index == time * rate
                self._audio.append(np.zeros(int(t * AUDIO_RATE), np.float32))
                self._audio_end += len(self._audio[-1])
            self._audio.append(x)
            self._audio_end += len(x)

    @property
    def audio_end_s(self) -> float:
        """Seconds of audio decoded so far."""
        return self._audio_end / AUDIO_RATE

    def audio_buffer(self) -> tuple[float, npt.NDArray[np.float32]]:
        """``(start_s, samples)`` of the audio decoded and not yet consumed."""
        if len(self._audio) != 1:
            self._audio = [np.concatenate(self._audio) if self._audio else
                           np.zeros(0, np.float32)]
        return self._audio_start / AUDIO_RATE, self._audio[0]

    def consume_audio(self, num_samples: int) -> None:
        """Forget the first ``num_samples`` of :meth:`audio_buffer`."""
        _, buf = self.audio_buffer()
        n = max(0, min(num_samples, len(buf)))
        self._audio = [buf[n:]]
        self._audio_start += n


def _small(frame: Any) -> npt.NDArray[np.uint8]:
    if frame.format.name in _PLANAR_420:
        return _small_420(frame)
    w, h = SMALL_SIZE
    return frame.to_ndarray(format="rgb24", width=w, height=h)  # type: ignore[no-any-return]


_PLANAR_420 = ("yuv420p", "yuvj420p")
_JPEG_RANGE = 2  # AVCOL_RANGE_JPEG: full-range YUV


def _small_420(frame: Any) -> npt.NDArray[np.uint8]:
    """The tiny RGB copy of an 8-bit 4:2:0 frame: each plane area-averaged straight from
    FFmpeg's buffers, then BT.601 to RGB on 64x36 pixels. Three times cheaper than asking
    swscale for RGB at that size (most frames of a video go through here)."""
    import cv2

    w, h = frame.width, frame.height
    planes = []
    for k, (pw, ph) in enumerate(((w, h), ((w + 1) // 2, (h + 1) // 2),
                                 ((w + 1) // 2, (h + 1) // 2))):
        plane = frame.planes[k]
        pixels = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:ph, :pw]
        planes.append(cv2.resize(pixels, SMALL_SIZE, interpolation=cv2.INTER_AREA)
                      .astype(np.float32))
    y, u, v = planes[0], planes[1] - 128.0, planes[2] - 128.0
    if frame.format.name == "yuvj420p" or getattr(frame, "color_range", 0) == _JPEG_RANGE:
        gain, y0 = 1.0, 0.0
        cr, cgu, cgv, cb = 1.402, 0.344136, 0.714136, 1.772
    else:  # limited range (16..235): nearly every video
        gain, y0 = 255 / 219, 16.0
        cr, cgu, cgv, cb = 1.596027, 0.391762, 0.812968, 2.017232
    luma = gain * (y - y0) + 0.5
    rgb = np.stack([luma + cr * v, luma - cgu * u - cgv * v, luma + cb * u], axis=-1)
    out: npt.NDArray[np.uint8] = np.clip(rgb, 0, 255).astype(np.uint8)
    return out


def _reason(exc: BaseException) -> str:
    """FFmpeg messages carry errno and path; keep the human part on one line."""
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split())
