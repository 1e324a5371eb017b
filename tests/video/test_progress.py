"""Progress of long video work: plain lines on a non-terminal stderr (issue 15)."""

from __future__ import annotations

import io

from openrealtime.video.progress import progress


def test_plain_lines_at_each_quarter_when_not_a_terminal() -> None:
    out = io.StringIO()
    bar = progress(8, "render", "frames", file=out)
    for _ in range(8):
        bar.update(1)
    bar.close()
    lines = out.getvalue().splitlines()
    assert [line.split(" (")[0] for line in lines] == [
        "render: 25%", "render: 50%", "render: 75%", "render: 100%"]
    assert "(8/8 frames" in lines[-1] and "\r" not in out.getvalue()


def test_nothing_when_disabled() -> None:
    out = io.StringIO()
    bar = progress(8, "render", "frames", enabled=False, file=out)
    bar.update(8)
    assert out.getvalue() == ""
