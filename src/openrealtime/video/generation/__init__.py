"""Turn a script into a narrated short video with subtitles, offline.

``generate(GenerateRequest(output=Path("out.mp4"), script=Path("script.md")))`` is the
Python API; ``openrealtime video generate`` is the command line on top of it. Names are
imported on first use so that building the CLI parser stays light (no numpy, Pillow, av).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "GenerateRequest": ".pipeline", "GenerateResult": ".pipeline", "generate": ".pipeline",
    "GenerationError": ".error", "PlanOptions": ".storyboard",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
