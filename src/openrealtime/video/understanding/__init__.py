"""Turn a video into a timestamped brief: shots, speech, on-screen text, events, rhythm.

``analyze(path, outdir)`` writes ``brief.json`` (schema: :data:`.schema.SCHEMA`),
``brief.md``, ``transcript.srt``, ``chapters.txt`` and keyframe images;
``search(outdir, query)`` finds moments in a written brief. Names are imported on
first use, so ``import openrealtime.video.understanding`` stays light.
"""

from __future__ import annotations

from typing import Any

__all__ = ["AnalyzeOptions", "Hit", "MediaError", "analyze", "resolve", "search"]

_HOMES = {"AnalyzeOptions": "brief", "analyze": "brief", "MediaError": "media",
          "Hit": "search", "search": "search", "resolve": "event"}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        import importlib

        module = importlib.import_module(f"{__name__}.{_HOMES[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
