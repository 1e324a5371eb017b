"""What the client is playing, placed on the input timeline (the echo canceller's far end).

The server cannot hear the client's loudspeaker, but it knows every sample it sent. A
client plays reply audio as it arrives, without gaps, so the first sample of a reply
sounds about when it was sent and each later sample follows the one before it. With the
input stream as the clock (one input sample index per 1/16000 s of microphone audio),
output audio sent while the input stood at index ``at`` is heard from
``max(at, end of what was already queued)`` on. The echo in the microphone comes later
still (network, the client's buffer, the room); the echo canceller finds that delay
itself, it only needs the reference to come first.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from numpy.typing import NDArray

__all__ = ["Playout"]


class Playout:
    """Far-end audio (16 kHz float32) scheduled on the input sample timeline.

    Reads move forward: audio before the latest read's start is forgotten, so memory
    holds only what is still to be played (bounded by the answer being sent).
    """

    def __init__(self) -> None:
        self._chunks: deque[tuple[int, NDArray[np.float32]]] = deque()
        self.end = 0  # input index just after the last scheduled sample

    def play(self, samples: NDArray[np.float32], at: int) -> None:
        """Queue ``samples``, sent while the input stood at ``at``, behind what plays."""
        if len(samples) == 0:
            return
        start = max(at, self.end)
        self._chunks.append((start, samples))
        self.end = start + len(samples)

    def reserve(self, count: int, at: int) -> None:
        """Like :meth:`play` for timing only: ``count`` samples whose sound is not kept."""
        self.end = max(at, self.end) + count

    def playing(self, at: int) -> bool:
        """Whether reply audio is (still) scheduled at or after input index ``at``."""
        return self.end > at

    def read(self, start: int, count: int) -> NDArray[np.float32]:
        """The far end for input samples ``[start, start + count)``; silence where none."""
        out = np.zeros(count, dtype=np.float32)
        stop = start + count
        while self._chunks and self._chunks[0][0] + len(self._chunks[0][1]) <= start:
            self._chunks.popleft()
        for begin, samples in self._chunks:
            if begin >= stop:
                break
            lo, hi = max(begin, start), min(begin + len(samples), stop)
            out[lo - start:hi - start] = samples[lo - begin:hi - begin]
        return out

    def cut(self, at: int) -> None:
        """The client stopped playing at input index ``at``: drop everything after it."""
        kept: deque[tuple[int, NDArray[np.float32]]] = deque()
        for begin, samples in self._chunks:
            if begin < at:
                kept.append((begin, samples[:at - begin]))
        self._chunks = kept
        self.end = min(self.end, at)
