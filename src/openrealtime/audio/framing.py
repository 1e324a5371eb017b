"""Re-chunking of arbitrary-length sample chunks into fixed-size windows."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["Framer"]


class Framer:
    """Accumulates float32 chunks and emits complete, non-overlapping windows.

    Each returned window is a fresh array owned by the caller (never a view of
    the input or of the internal buffer); leftovers are kept for the next push.
    """

    def __init__(self, window: int) -> None:
        if window <= 0:
            raise ValueError(f"window must be positive, got {window}")
        self.window = window
        self._buf = np.empty(window, dtype=np.float32)
        self._fill = 0

    @property
    def pending(self) -> int:
        """Samples buffered towards the next window."""
        return self._fill

    def push(self, x: NDArray[np.floating]) -> list[NDArray[np.float32]]:
        """Add samples; return the windows completed by them (possibly none)."""
        x = np.asarray(x, dtype=np.float32)
        w = self.window
        n = len(x)
        out: list[NDArray[np.float32]] = []
        i = 0
        if self._fill:
            take = min(w - self._fill, n)
            self._buf[self._fill : self._fill + take] = x[:take]
            self._fill += take
            i = take
            if self._fill < w:
                return out
            out.append(self._buf.copy())
            self._fill = 0
        whole = (n - i) // w
        if whole:
            # One copy for all whole windows; rows are views of that fresh block,
            # which nothing else references.
            block = x[i : i + whole * w].reshape(whole, w).copy()
            out.extend(block)
            i += whole * w
        rest = n - i
        if rest:
            self._buf[:rest] = x[i:]
            self._fill = rest
        return out

    def reset(self) -> None:
        """Discard any pending samples."""
        self._fill = 0
