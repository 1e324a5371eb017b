"""Progress of long video work on stderr: a tqdm bar on a terminal, plain lines otherwise.

A bar redrawn with carriage returns turns a log file (CI, ``2> log``, a service) into one
long unreadable line, so when stderr is not a terminal the same calls print a line such
as ``render: 50% (427/853 frames, 6.1 s)`` at each quarter of the work instead.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Protocol, TextIO

QUARTER = 25  # percent between plain progress lines


class ProgressBar(Protocol):
    def update(self, n: float = 1) -> Any: ...

    def close(self) -> None: ...


class _Off:
    def update(self, n: float = 1) -> None:
        pass

    def close(self) -> None:
        pass


class PlainProgress:
    """``desc: P% (done/total unit, elapsed)`` at each :data:`QUARTER`, 100% included."""

    def __init__(self, total: float, desc: str, unit: str, file: TextIO) -> None:
        self.total, self.desc, self.unit, self.file = total, desc, unit, file
        self.done, self.shown = 0.0, 0
        self.start = time.perf_counter()

    def update(self, n: float = 1) -> None:
        self.done += n
        percent = int(100 * min(self.done, self.total) / self.total) if self.total else 0
        if percent >= self.shown + QUARTER:
            self.shown = percent - percent % QUARTER
            self.file.write(f"{self.desc}: {self.shown}% ({self.done:.0f}/{self.total:.0f} "
                            f"{self.unit}, {time.perf_counter() - self.start:.1f} s)\n")
            self.file.flush()

    def close(self) -> None:
        pass


def progress(total: float | None, desc: str, unit: str, *, enabled: bool = True,
             file: TextIO | None = None, **tqdm_args: Any) -> ProgressBar:
    """A progress display for ``total`` units of work (nothing when not ``enabled``)."""
    out = file or sys.stderr
    if not enabled:
        return _Off()
    isatty = getattr(out, "isatty", None)
    if isatty is not None and isatty():
        from tqdm import tqdm

        bar: ProgressBar = tqdm(total=total, unit=unit, desc=desc, file=out, leave=False,
                                **tqdm_args)
        return bar
    if not total:
        return _Off()
    return PlainProgress(total, desc, unit, out)
