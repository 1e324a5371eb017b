"""A token bucket: the per-session cap on client events per second."""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class TokenBucket:
    """Allows ``rate_per_s`` events a second on average and ``burst`` at once.

    One float update per event, no timers: the bucket refills lazily from the clock
    when an event arrives. A rate of ``0`` or ``inf`` means no limit.
    """

    def __init__(self, rate_per_s: float, burst: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.unlimited = rate_per_s <= 0 or math.isinf(rate_per_s)
        self._clock = clock
        self._tokens = burst
        self._last = clock()

    def take(self) -> bool:
        """Spend one token; False (and nothing spent) when the bucket is empty."""
        if self.unlimited:
            return True
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate_per_s)
        self._last = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True
