"""Sample-format conversion: PCM16 <-> float32 and ITU-T G.711 (mu-law / A-law).

All conversions are vectorized. G.711 uses lookup tables built once at import:
a 256-entry decode table and a 65536-entry encode table indexed by the int16
sample reinterpreted as uint16 (two's complement), so encoding is one gather.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "PCM16_24K",
    "PCMA",
    "PCMU",
    "AudioFormat",
    "alaw_decode",
    "alaw_encode",
    "float32_to_pcm16",
    "int16_to_bytes",
    "pcm16_to_float32",
    "ulaw_decode",
    "ulaw_encode",
]

BytesLike = bytes | bytearray | memoryview

_INV_32768 = np.float32(1.0 / 32768.0)


def _nbytes(data: BytesLike) -> int:
    # len() of a non-byte memoryview counts items, not bytes.
    return data.nbytes if isinstance(data, memoryview) else len(data)


def pcm16_to_float32(data: BytesLike) -> NDArray[np.float32]:
    """Decode little-endian signed 16-bit PCM bytes to float32 in [-1, 1)."""
    if _nbytes(data) % 2:
        raise ValueError(f"PCM16 data must have an even byte length, got {_nbytes(data)}")
    out = np.frombuffer(data, dtype="<i2").astype(np.float32)
    out *= _INV_32768
    return out


def float32_to_pcm16(x: NDArray[np.floating]) -> NDArray[np.int16]:
    """Convert float samples to int16: scale by 32768, clip to [-1, 1), round to nearest."""
    # Scaling by a power of two is exact, so clipping after scaling is equivalent
    # to clipping to [-1, 32767/32768] before it, and saves a pass.
    y: NDArray[np.floating] = np.multiply(x, 32768.0)
    np.clip(y, -32768.0, 32767.0, out=y)
    np.rint(y, out=y)
    return y.astype(np.int16)


def int16_to_bytes(x: NDArray[np.int16]) -> bytes:
    """Serialize int16 samples as little-endian bytes."""
    return np.asarray(x).astype("<i2", copy=False).tobytes()


# --- G.711 table construction (vectorized forms of the ITU-T / Sun g711.c reference) ---

_BIAS = 0x84
_CODES = np.arange(256, dtype=np.int32)
_ALL_INT16 = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.int16).astype(np.int32)


def _segment(mag: NDArray[np.int32], seg_end: NDArray[np.int32]) -> NDArray[np.int32]:
    # Index of the first segment whose end is >= mag (8 when past the last one).
    return np.searchsorted(seg_end, mag, side="left").astype(np.int32)


def _build_ulaw_decode() -> NDArray[np.int16]:
    u = ~_CODES & 0xFF
    t = (((u & 0x0F) << 3) + _BIAS) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, _BIAS - t, t - _BIAS).astype(np.int16)


def _build_ulaw_encode() -> NDArray[np.uint8]:
    pcm = _ALL_INT16 >> 2  # arithmetic shift, as in the reference (14-bit input)
    mask = np.where(pcm < 0, 0x7F, 0xFF)
    mag = np.minimum(np.abs(pcm), 8159) + (_BIAS >> 2)
    seg_end = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)
    seg = _segment(mag, seg_end)
    code = np.where(seg >= 8, 0x7F, (seg << 4) | ((mag >> (np.minimum(seg, 7) + 1)) & 0x0F))
    return ((code ^ mask) & 0xFF).astype(np.uint8)


def _build_alaw_decode() -> NDArray[np.int16]:
    a = _CODES ^ 0x55
    seg = (a & 0x70) >> 4
    t = (a & 0x0F) << 4
    t = np.where(seg == 0, t + 8, (t + 0x108) << np.maximum(seg - 1, 0))
    return np.where(a & 0x80, t, -t).astype(np.int16)


def _build_alaw_encode() -> NDArray[np.uint8]:
    pcm = _ALL_INT16 >> 3  # 13-bit input
    neg = pcm < 0
    mask = np.where(neg, 0x55, 0xD5)
    mag = np.where(neg, -pcm - 1, pcm)
    seg_end = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], dtype=np.int32)
    seg = _segment(mag, seg_end)
    shift = np.where(seg < 2, 1, np.minimum(seg, 7))
    code = np.where(seg >= 8, 0x7F, (seg << 4) | ((mag >> shift) & 0x0F))
    return ((code ^ mask) & 0xFF).astype(np.uint8)


_ULAW_DEC = _build_ulaw_decode()
_ULAW_ENC = _build_ulaw_encode()
_ALAW_DEC = _build_alaw_decode()
_ALAW_ENC = _build_alaw_encode()


def ulaw_decode(data: BytesLike) -> NDArray[np.int16]:
    """Decode G.711 mu-law bytes to int16 samples."""
    return _ULAW_DEC[np.frombuffer(data, dtype=np.uint8)]


def ulaw_encode(x: NDArray[np.int16]) -> bytes:
    """Encode int16 samples as G.711 mu-law bytes."""
    return _ULAW_ENC[np.asarray(x, dtype=np.int16).view(np.uint16)].tobytes()


def alaw_decode(data: BytesLike) -> NDArray[np.int16]:
    """Decode G.711 A-law bytes to int16 samples."""
    return _ALAW_DEC[np.frombuffer(data, dtype=np.uint8)]


def alaw_encode(x: NDArray[np.int16]) -> bytes:
    """Encode int16 samples as G.711 A-law bytes."""
    return _ALAW_ENC[np.asarray(x, dtype=np.int16).view(np.uint16)].tobytes()


@dataclass(frozen=True)
class AudioFormat:
    """A wire audio format: encoding kind plus sample rate (always mono)."""

    kind: Literal["pcm16", "pcmu", "pcma"]
    sample_rate: int

    @property
    def bytes_per_sample(self) -> int:
        """Bytes per (mono) sample on the wire."""
        return 2 if self.kind == "pcm16" else 1

    def decode(self, data: BytesLike) -> NDArray[np.float32]:
        """Decode wire bytes to float32 samples in [-1, 1), at this format's rate."""
        if self.kind == "pcm16":
            return pcm16_to_float32(data)
        pcm = ulaw_decode(data) if self.kind == "pcmu" else alaw_decode(data)
        out = pcm.astype(np.float32)
        out *= _INV_32768
        return out

    def encode(self, x: NDArray[np.float32]) -> bytes:
        """Encode float32 samples (already at this format's rate) to wire bytes."""
        pcm = float32_to_pcm16(x)
        if self.kind == "pcm16":
            return int16_to_bytes(pcm)
        return ulaw_encode(pcm) if self.kind == "pcmu" else alaw_encode(pcm)

    def duration_ms(self, num_bytes: int) -> float:
        """Playback duration in milliseconds of `num_bytes` bytes of this format."""
        return num_bytes / self.bytes_per_sample * 1000.0 / self.sample_rate


PCM16_24K = AudioFormat("pcm16", 24000)
PCMU = AudioFormat("pcmu", 8000)
PCMA = AudioFormat("pcma", 8000)
