"""A fixed-capacity float32 ring buffer addressed by absolute sample index."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["SampleRing"]


class SampleRing:
    """Holds the most recent ``capacity`` samples of a stream.

    Samples are addressed by absolute index: the count of samples written before
    them since creation. ``start``..``end`` is the span currently held.
    """

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError(f"capacity must be positive, got {capacity}")
        self.capacity = capacity
        self._buf = np.zeros(capacity, dtype=np.float32)
        self._end = 0
        self._floor = 0  # set by clear(): nothing before it is readable any more

    @property
    def end(self) -> int:
        """Absolute index just after the last written sample."""
        return self._end

    @property
    def start(self) -> int:
        """Absolute index of the oldest sample still held."""
        return max(self._floor, self._end - self.capacity)

    def __len__(self) -> int:
        return self._end - self.start

    def write(self, x: NDArray[np.float32]) -> None:
        """Append samples; if more than ``capacity`` are given only the tail is stored."""
        n = len(x)
        if n == 0:
            return
        cap = self.capacity
        kept = x[-cap:] if n > cap else x
        k = len(kept)
        new_end = self._end + n
        pos = (new_end - k) % cap
        first = min(k, cap - pos)
        self._buf[pos : pos + first] = kept[:first]
        if first < k:
            self._buf[: k - first] = kept[first:]
        self._end = new_end

    def read(self, start_abs: int, end_abs: int) -> NDArray[np.float32]:
        """Return a copy of samples ``[start_abs, end_abs)``, clamped to what is held.

        Raises ValueError if ``end_abs > end`` or ``start_abs > end_abs``. A span that
        lies entirely before ``start`` yields an empty array.
        """
        if end_abs > self._end:
            raise ValueError(f"end_abs {end_abs} is beyond ring end {self._end}")
        if start_abs > end_abs:
            raise ValueError(f"start_abs {start_abs} > end_abs {end_abs}")
        lo = max(start_abs, self.start)
        if lo >= end_abs:
            return np.zeros(0, dtype=np.float32)
        k = end_abs - lo
        cap = self.capacity
        pos = lo % cap
        first = min(k, cap - pos)
        out = np.empty(k, dtype=np.float32)
        out[:first] = self._buf[pos : pos + first]
        if first < k:
            out[first:] = self._buf[: k - first]
        return out

    def clear(self) -> None:
        """Forget all held samples; absolute indexing continues (start becomes end)."""
        self._floor = self._end
