"""Sample-rate conversion with soxr: a per-stream resampler and a one-shot helper."""

from __future__ import annotations

import numpy as np
import soxr
from numpy.typing import NDArray

__all__ = ["StreamResampler", "resample"]

# HQ, not MQ: measured at ~1000x+ realtime for 8k/16k/22.05k/24k conversions with
# 20 ms chunks, and MQ was not measurably faster, so there is nothing to trade.
_QUALITY = "HQ"


class StreamResampler:
    """Stateful mono float32 resampler for one continuous stream.

    Chunks may be any length; output lengths vary per chunk (soxr buffers a small
    filter delay) and add up to about ``len(input) * out_rate / in_rate`` once the
    stream is flushed. When the rates are equal it is an identity (no copy).
    """

    def __init__(self, in_rate: int, out_rate: int, quality: str = _QUALITY) -> None:
        if in_rate <= 0 or out_rate <= 0:
            raise ValueError(f"sample rates must be positive, got {in_rate} -> {out_rate}")
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._stream: soxr.ResampleStream | None = None
        if in_rate != out_rate:
            self._stream = soxr.ResampleStream(
                in_rate, out_rate, 1, dtype="float32", quality=quality
            )
        self._quality = quality
        self._finished = False

    @property
    def is_identity(self) -> bool:
        """True when input and output rates are equal."""
        return self._stream is None

    def process(self, chunk: NDArray[np.float32], last: bool = False) -> NDArray[np.float32]:
        """Resample the next chunk; with ``last=True`` also flush the filter tail."""
        if self._stream is None:
            return chunk
        if self._finished:
            # soxr refuses input after its final chunk; start a fresh sequence.
            self._stream.clear()
            self._finished = False
        x = np.ascontiguousarray(chunk, dtype=np.float32)
        out: NDArray[np.float32] = self._stream.resample_chunk(x, last=last)
        self._finished = last
        return out

    def flush(self) -> NDArray[np.float32]:
        """End the stream and return the remaining buffered output (then ready for reuse)."""
        if self._stream is None or self._finished:
            return np.zeros(0, dtype=np.float32)
        return self.process(np.zeros(0, dtype=np.float32), last=True)

    def reset(self) -> None:
        """Drop all buffered state, ready for an unrelated new stream."""
        if self._stream is not None:
            self._stream.clear()
        self._finished = False


def resample(x: NDArray[np.floating], in_rate: int, out_rate: int) -> NDArray[np.float32]:
    """Resample a whole mono signal at once; returns float32."""
    y = np.ascontiguousarray(x, dtype=np.float32)
    if in_rate == out_rate:
        return y
    out: NDArray[np.float32] = soxr.resample(y, in_rate, out_rate, quality=_QUALITY)
    return out
