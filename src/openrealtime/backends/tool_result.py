"""A function call's output (usually JSON) in plain words, for a small model or a voice.

``{"latitude": 51.5, "longitude": -0.12}`` becomes ``"latitude 51.5, longitude -0.12"``:
a 135M model that is shown JSON answers with more JSON, and a voice must not read braces.
"""

from __future__ import annotations

import json
from typing import Any

MAX_ITEMS = 8  # list items and object fields rendered; the rest is counted
MAX_DEPTH = 2  # nesting rendered; deeper objects and lists are counted
_DONE_KEYS = {"ok", "success", "done", "status"}


def result_words(output: str, *, max_words: int | None = None) -> str:
    """``output`` in words: JSON objects as "key value" pairs, other text as it is."""
    try:
        value = json.loads(output)
    except ValueError:
        text = output.strip()
    else:
        text = _words(value, depth=0)
    words = text.split()
    if max_words is not None and len(words) > max_words:
        return " ".join(words[:max_words]) + " …"
    return " ".join(words)


def is_acknowledgement(output: str) -> bool:
    """True for outputs that only say the call worked: ``{"ok": true}``, ``"done"``, ``""``."""
    try:
        value = json.loads(output)
    except ValueError:
        return output.strip().lower() in ("", "ok", "done", "success")
    if isinstance(value, dict):
        return bool(value) and all(k in _DONE_KEYS and v in (True, "ok", "success", "done")
                                   for k, v in value.items())
    return value in (True, None, "", "ok", "done", "success")


def _words(value: Any, depth: int) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        if depth > MAX_DEPTH:
            return f"{len(value)} fields"
        pairs = [f"{str(k).replace('_', ' ')} {_words(v, depth + 1)}"
                 for k, v in list(value.items())[:MAX_ITEMS]]
        more = len(value) - MAX_ITEMS
        return ", ".join(pairs + ([f"and {more} more"] if more > 0 else []))
    if isinstance(value, list):
        if depth > MAX_DEPTH or not value:
            return f"{len(value)} items"
        parts = [_words(v, depth + 1) for v in value[:MAX_ITEMS]]
        more = len(value) - MAX_ITEMS
        return "; ".join(parts + ([f"and {more} more"] if more > 0 else []))
    return str(value)
