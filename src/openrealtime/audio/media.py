"""Audio files in and out of the REST audio endpoints: any container PyAV can read, to
16 kHz mono float32 for speech recognition; int16 speech to the formats of OpenAI's
``/v1/audio/speech`` (``pcm``, ``wav``, ``mp3``, ``opus``, ``aac``, ``flac``), encoded
as it is produced so that the first bytes leave before the last sentence is spoken.

PyAV (the ``video`` extra) does the decoding and encoding; a plain WAV file is read
without it.
"""

from __future__ import annotations

import io
import struct
import wave
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .resample import StreamResampler, resample

__all__ = ["SPEECH_FORMATS", "MediaError", "SpeechEncoder", "decode_audio"]

# response_format -> (PyAV container, codec, HTTP content type). pcm and wav are written
# here; the others are PyAV's.
SPEECH_FORMATS: dict[str, tuple[str | None, str | None, str]] = {
    "pcm": (None, None, "audio/pcm"),
    "wav": (None, None, "audio/wav"),
    "mp3": ("mp3", "libmp3lame", "audio/mpeg"),
    "opus": ("ogg", "libopus", "audio/ogg"),
    "aac": ("adts", "aac", "audio/aac"),
    "flac": ("flac", "flac", "audio/flac"),
}
SPEECH_RATE = 24_000  # OpenAI's pcm is 24 kHz 16-bit mono little-endian; so is all else


class MediaError(ValueError):
    """An audio file that cannot be read (the message is for the client)."""


def decode_audio(data: bytes, rate: int = 16_000, *, max_s: float | None = None
                 ) -> NDArray[np.float32]:
    """Mono float32 at ``rate`` from the bytes of an audio (or video) file.
    ``max_s``: refuse audio longer than this many seconds (checked while decoding)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        wav = _read_pcm_wav(data)
        if wav is not None:  # (else not a 16-bit PCM WAV: FFmpeg may still read it)
            x, src = wav
            if max_s is not None and len(x) > max_s * src:
                raise MediaError(f"The audio is longer than {max_s:g} seconds.")
            return resample(x, src, rate)
    try:
        import av
    except ImportError as exc:
        raise MediaError("Only WAV files can be read: install the 'video' extra (PyAV) "
                         "for other formats.") from exc
    parts: list[NDArray[np.float32]] = []
    total = 0
    try:
        container: Any
        with av.open(io.BytesIO(data), "r") as container:
            if not container.streams.audio:
                raise MediaError("The file has no audio stream.")
            converter = av.AudioResampler(format="flt", layout="mono", rate=rate)
            for frame in container.decode(audio=0):
                for out in converter.resample(frame):
                    chunk = out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                    parts.append(chunk)
                    total += len(chunk)
                if max_s is not None and total > max_s * rate:
                    raise MediaError(f"The audio is longer than {max_s:g} seconds.")
            for out in converter.resample(None):
                parts.append(out.to_ndarray().reshape(-1).astype(np.float32, copy=False))
    except MediaError:
        raise
    except Exception as exc:  # av.error.* : not media, truncated, unknown codec
        raise MediaError(f"The audio file could not be decoded: {exc}") from None
    if not parts:
        raise MediaError("The file holds no audio.")
    return np.concatenate(parts)


def _read_pcm_wav(data: bytes) -> tuple[NDArray[np.float32], int] | None:
    try:
        with wave.open(io.BytesIO(data), "rb") as w:
            if w.getsampwidth() != 2:
                return None
            channels, src = w.getnchannels(), w.getframerate()
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    except (wave.Error, EOFError):
        return None
    x = pcm[: len(pcm) - len(pcm) % channels].reshape(-1, channels).mean(
        axis=1, dtype=np.float32) * np.float32(1 / 32768)
    return x, src


class _Sink:
    """A write-only file for PyAV: what it writes waits here to be taken."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def write(self, data: Any) -> int:
        self.buffer += data
        return len(data)

    def take(self) -> bytes:
        out = bytes(self.buffer)
        self.buffer.clear()
        return out


class SpeechEncoder:
    """int16 mono speech at ``sample_rate`` → ``response_format`` bytes, in pieces:
    :meth:`push` returns what is ready, :meth:`finish` the rest (both may be empty)."""

    def __init__(self, response_format: str, sample_rate: int) -> None:
        if response_format not in SPEECH_FORMATS:
            raise ValueError(response_format)
        self.format = response_format
        self.content_type = SPEECH_FORMATS[response_format][2]
        self._resampler = StreamResampler(sample_rate, SPEECH_RATE)
        self._header_sent = False
        self._container: Any = None
        self._pts = 0
        container, codec, _ = SPEECH_FORMATS[response_format]
        if container is not None:
            import av

            self._av = av
            self._sink = _Sink()
            self._container = av.open(self._sink, "w", format=container)
            self._stream = self._container.add_stream(codec, rate=SPEECH_RATE)
            self._stream.layout = "mono"

    def push(self, chunk: NDArray[np.int16]) -> bytes:
        x = self._resampler.process(chunk.astype(np.float32) * np.float32(1 / 32768))
        return self._encode(x)

    def finish(self) -> bytes:
        out = self._encode(self._resampler.flush())
        if self._container is not None:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            self._container.close()
            out += self._sink.take()
        elif not self._header_sent:
            out = self._wav_header() + out
        return out

    def _encode(self, x: NDArray[np.float32]) -> bytes:
        pcm = (np.clip(x, -1.0, 1.0) * 32767.0).astype("<i2")
        if self._container is None:
            out = pcm.tobytes()
            if not self._header_sent:
                self._header_sent = True
                out = self._wav_header() + out
            return out
        if len(pcm) == 0:
            return b""
        frame = self._av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16",
                                                 layout="mono")
        frame.sample_rate = SPEECH_RATE
        frame.pts = self._pts
        self._pts += len(pcm)
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        return self._sink.take()

    def _wav_header(self) -> bytes:
        if self.format != "wav":
            return b""
        # Streamed: the lengths are unknown, so they say "as long as it goes" (0xFFFFFFFF),
        # which players and the openai SDK's examples read to the end of the stream.
        unknown = 0xFFFFFFFF
        return (b"RIFF" + struct.pack("<I", unknown) + b"WAVEfmt "
                + struct.pack("<IHHIIHH", 16, 1, 1, SPEECH_RATE, SPEECH_RATE * 2, 2, 16)
                + b"data" + struct.pack("<I", unknown))
