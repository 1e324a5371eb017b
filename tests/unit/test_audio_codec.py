"""Tests for openrealtime.audio.codec (PCM16 and G.711 against scalar reference formulas)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from numpy.typing import NDArray

from openrealtime.audio import (
    PCM16_24K,
    PCMA,
    PCMU,
    AudioFormat,
    alaw_decode,
    alaw_encode,
    float32_to_pcm16,
    int16_to_bytes,
    pcm16_to_float32,
    ulaw_decode,
    ulaw_encode,
)

Decode = Callable[[bytes], NDArray[np.int16]]
Encode = Callable[[NDArray[np.int16]], bytes]

# --- slow scalar reference: a direct transcription of ITU-T G.711 (Sun g711.c) ---

_SEG_UEND = [0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF]
_SEG_AEND = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF]


def _search(val: int, table: list[int]) -> int:
    for i, end in enumerate(table):
        if val <= end:
            return i
    return len(table)


def ref_ulaw_encode(pcm: int) -> int:
    pcm >>= 2
    if pcm < 0:
        pcm, mask = -pcm, 0x7F
    else:
        mask = 0xFF
    pcm = min(pcm, 8159) + (0x84 >> 2)
    seg = _search(pcm, _SEG_UEND)
    if seg >= 8:
        return 0x7F ^ mask
    return ((seg << 4) | ((pcm >> (seg + 1)) & 0xF)) ^ mask


def ref_ulaw_decode(u: int) -> int:
    u = ~u & 0xFF
    t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    return 0x84 - t if u & 0x80 else t - 0x84


def ref_alaw_encode(pcm: int) -> int:
    pcm >>= 3
    if pcm >= 0:
        mask = 0xD5
    else:
        mask, pcm = 0x55, -pcm - 1
    seg = _search(pcm, _SEG_AEND)
    if seg >= 8:
        return 0x7F ^ mask
    aval = seg << 4
    aval |= (pcm >> 1 if seg < 2 else pcm >> seg) & 0xF
    return aval ^ mask


def ref_alaw_decode(a: int) -> int:
    a ^= 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    if seg == 0:
        t += 8
    elif seg == 1:
        t += 0x108
    else:
        t = (t + 0x108) << (seg - 1)
    return t if a & 0x80 else -t


ALL_CODES = bytes(range(256))
# Every 7th int16 plus the extremes and the region around zero.
SWEEP = np.unique(
    np.concatenate([np.arange(-32768, 32768, 7), np.arange(-300, 300), [-32768, 32767]])
).astype(np.int16)


@pytest.mark.parametrize(
    ("decode", "ref"), [(ulaw_decode, ref_ulaw_decode), (alaw_decode, ref_alaw_decode)]
)
def test_g711_decode_all_codes(decode: Decode, ref: Callable[[int], int]) -> None:
    got = decode(ALL_CODES)
    assert got.dtype == np.int16
    assert got.tolist() == [ref(c) for c in range(256)]


@pytest.mark.parametrize(
    ("encode", "ref"), [(ulaw_encode, ref_ulaw_encode), (alaw_encode, ref_alaw_encode)]
)
def test_g711_encode_sweep(encode: Encode, ref: Callable[[int], int]) -> None:
    got = encode(SWEEP)
    assert isinstance(got, bytes)
    assert list(got) == [ref(int(v)) for v in SWEEP]


@pytest.mark.parametrize(
    ("encode", "decode"), [(ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)]
)
def test_g711_round_trip(encode: Encode, decode: Decode) -> None:
    d = decode(ALL_CODES)
    assert np.array_equal(decode(encode(d)), d)


def test_g711_matches_audioop_if_available() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop")
    full = np.arange(-32768, 32768, dtype=np.int16)
    raw = full.astype("<i2").tobytes()
    assert ulaw_encode(full) == audioop.lin2ulaw(raw, 2)
    assert alaw_encode(full) == audioop.lin2alaw(raw, 2)
    assert int16_to_bytes(ulaw_decode(ALL_CODES)) == audioop.ulaw2lin(ALL_CODES, 2)
    assert int16_to_bytes(alaw_decode(ALL_CODES)) == audioop.alaw2lin(ALL_CODES, 2)


def test_pcm16_to_float32() -> None:
    x = np.array([-32768, -1, 0, 1, 16384, 32767], dtype="<i2")
    y = pcm16_to_float32(x.tobytes())
    assert y.dtype == np.float32
    assert np.array_equal(y, x.astype(np.float32) / 32768)
    assert np.array_equal(pcm16_to_float32(memoryview(x.tobytes())), y)
    assert np.array_equal(pcm16_to_float32(x.data), y)  # nbytes, not item count
    assert len(pcm16_to_float32(b"")) == 0


def test_pcm16_odd_length_raises() -> None:
    with pytest.raises(ValueError):
        pcm16_to_float32(b"\x00\x01\x02")


def test_float32_to_pcm16_clip_and_round() -> None:
    x = np.array([-2.0, -1.0, -0.5, 0.0, 1.4 / 32768, 1.6 / 32768, 0.5, 1.0, 3.0], np.float32)
    y = float32_to_pcm16(x)
    assert y.dtype == np.int16
    assert y.tolist() == [-32768, -32768, -16384, 0, 1, 2, 16384, 32767, 32767]
    assert float32_to_pcm16(x.astype(np.float64)).tolist() == y.tolist()


def test_pcm16_round_trip_exact() -> None:
    full = np.arange(-32768, 32768, dtype=np.int16)
    b = int16_to_bytes(full)
    assert b == full.astype("<i2").tobytes()
    assert np.array_equal(float32_to_pcm16(pcm16_to_float32(b)), full)


def test_int16_to_bytes_big_endian_input() -> None:
    x = np.array([1, -2, 300], dtype=">i2")
    assert int16_to_bytes(x) == np.array([1, -2, 300], dtype="<i2").tobytes()


def test_audio_format() -> None:
    assert PCM16_24K == AudioFormat("pcm16", 24000)
    assert (PCM16_24K.bytes_per_sample, PCMU.bytes_per_sample, PCMA.bytes_per_sample) == (2, 1, 1)
    assert PCMU.sample_rate == PCMA.sample_rate == 8000
    assert PCM16_24K.duration_ms(4800) == pytest.approx(100.0)
    assert PCMU.duration_ms(160) == pytest.approx(20.0)
    with pytest.raises(AttributeError):
        PCMU.sample_rate = 16000  # type: ignore[misc]


@pytest.mark.parametrize("fmt", [PCM16_24K, PCMU, PCMA])
def test_audio_format_round_trip(fmt: AudioFormat) -> None:
    t = np.arange(fmt.sample_rate // 10) / fmt.sample_rate
    x = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    data = fmt.encode(x)
    assert len(data) == len(x) * fmt.bytes_per_sample
    y = fmt.decode(data)
    assert y.dtype == np.float32 and len(y) == len(x)
    # G.711 is ~8-bit log companding: error bound relative to amplitude.
    tol = 1 / 32768 if fmt.kind == "pcm16" else 0.5 * 2**-4 + 1e-3
    assert np.max(np.abs(y - x)) <= tol
    assert fmt.encode(y) == data  # decoded values re-encode identically
