"""Rhythm of a video: how long shots last and how much and how fast people talk."""

from __future__ import annotations

from typing import Any

import numpy as np

SPEECH_GAP_S = 0.5  # words closer than this belong to one stretch of talk


def rhythm(duration_s: float, shots: list[dict[str, Any]],
           segments: list[dict[str, Any]]) -> dict[str, float | int]:
    """The ``rhythm`` object of a brief (definitions in the schema's descriptions).

    ``cuts_per_min`` counts every shot boundary (cuts, dissolves and fades) per minute of
    video; ``speech_wpm`` is words per minute *while speaking*; ``speech_ratio`` is the
    share of the video covered by speech (word spans merged across gaps < 0.5 s).
    """
    lengths = np.asarray([s["end_s"] - s["start_s"] for s in shots], dtype=np.float64)
    minutes = duration_s / 60 if duration_s > 0 else 0.0
    words = [w for seg in segments for w in seg["words"]]
    speech_s = _speech_seconds([(w["start_s"], w["end_s"]) for w in words])
    return {
        "shot_count": len(shots),
        "mean_shot_s": round(float(lengths.mean()), 3) if lengths.size else 0.0,
        "median_shot_s": round(float(np.median(lengths)), 3) if lengths.size else 0.0,
        "cuts_per_min": round(max(len(shots) - 1, 0) / minutes, 3) if minutes else 0.0,
        "speech_wpm": round(float(len(words) / (speech_s / 60)), 1) if speech_s > 0 else 0.0,
        "speech_ratio": round(float(min(speech_s / duration_s, 1.0)), 4) if duration_s > 0 else 0.0,
    }


def _speech_seconds(spans: list[tuple[float, float]]) -> float:
    total, cur_start, cur_end = 0.0, None, None
    for start, end in sorted(spans):
        if cur_end is not None and start - cur_end < SPEECH_GAP_S:
            cur_end = max(cur_end, end)
            continue
        if cur_start is not None and cur_end is not None:
            total += cur_end - cur_start
        cur_start, cur_end = start, end
    if cur_start is not None and cur_end is not None:
        total += cur_end - cur_start
    return total
