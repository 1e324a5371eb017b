"""Self-check of a rendered video: the report written to ``OUT.report.json`` and printed.

Stream facts and loudness come from the finished file (decoded again: the audio is small);
black and frozen stretches come from the frame thumbnails taken while rendering, since
decoding a 1080p video again would cost as much as rendering it.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np

from .narration import Cue
from .plan import Plan
from .render import FrameStats
from .sound import PEAK_LIMIT_DBTP, TARGET_LUFS, loudness_lufs, true_peak_dbtp

AV_TOLERANCE_S = 0.1
LOUDNESS_TOLERANCE_LU = 1.0
BLACK_MIN_S = 0.5
FROZEN_MIN_S = 2.0


def probe(path: Path) -> dict[str, Any]:
    """Codec, size, rate and duration of the first video and audio stream, plus the audio."""
    import av

    with av.open(str(path)) as container:
        v, a = container.streams.video[0], container.streams.audio[0]
        info = {
            "video_codec": v.codec_context.name, "audio_codec": a.codec_context.name,
            "video_streams": len(container.streams.video), "audio_streams": len(container.streams.audio),
            "width": v.codec_context.width, "height": v.codec_context.height,
            "fps": float(v.average_rate or 0), "video_frames": v.frames,
            "video_s": float(v.duration * v.time_base) if v.duration else 0.0,
            "audio_s": float(a.duration * a.time_base) if a.duration else 0.0,
        }
        samples = [f.to_ndarray().mean(axis=0) for f in container.decode(audio=0)]
    info["audio"] = np.concatenate(samples).astype(np.float32) if samples else np.zeros(0, np.float32)
    info["audio_rate"] = a.rate
    return info


def moov_first(path: Path) -> bool:
    """Whether the ``moov`` box comes before ``mdat`` (playback starts before download ends)."""
    with path.open("rb") as f:
        while header := f.read(8):
            size, kind = int.from_bytes(header[:4], "big"), header[4:8]
            if kind in (b"moov", b"mdat"):
                return kind == b"moov"
            if size == 1:
                size = int.from_bytes(f.read(8), "big") - 8
            f.seek(size - 8, 1)
    return False


def _runs(flags: list[bool], fps: int, min_s: float) -> list[tuple[float, float]]:
    runs, start = [], None
    for i, flag in enumerate([*flags, False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            if (i - start) / fps >= min_s:
                runs.append((round(start / fps, 3), round(i / fps, 3)))
            start = None
    return runs


def self_check(path: Path, plan: Plan, cues: list[Cue], stats: FrameStats, *, silent: bool) -> dict[str, Any]:
    """Run every check; ``ok`` is true when all of them pass."""
    info = probe(path)
    audio = info.pop("audio")
    checks: dict[str, dict[str, Any]] = {}
    checks["streams"] = {"ok": info["video_codec"] == "h264" and info["audio_codec"] == "aac"
                         and info["video_streams"] == 1 and info["audio_streams"] == 1
                         and (info["width"], info["height"]) == (plan.width, plan.height)
                         and round(info["fps"]) == plan.fps and moov_first(path),
                         **{k: info[k] for k in ("video_codec", "audio_codec", "width", "height", "fps")},
                         "faststart": moov_first(path)}
    drift = abs(info["video_s"] - info["audio_s"])
    checks["av_sync"] = {"ok": drift <= AV_TOLERANCE_S, "video_s": round(info["video_s"], 3),
                         "audio_s": round(info["audio_s"], 3), "difference_s": round(drift, 3)}
    ordered = all(a.end_s <= b.start_s + 1e-3 for a, b in itertools.pairwise(cues))
    inside = all(0 <= c.start_s < c.end_s <= info["video_s"] + 1e-3 for c in cues)
    checks["subtitles"] = {"ok": ordered and inside, "cues": len(cues), "ordered": ordered,
                           "inside_video": inside}
    held = [(s.start_s, s.start_s + s.duration_s) for s in plan.scenes if s.visual.motion == "none"]
    frozen = [r for r in _runs(stats.frozen, plan.fps, FROZEN_MIN_S)
              if not any(a - 0.05 <= r[0] and r[1] <= b + 0.05 for a, b in held)]
    black = _runs(stats.black, plan.fps, BLACK_MIN_S)
    checks["picture"] = {"ok": not frozen and not black, "black_s": black, "frozen_s": frozen}
    checks["loudness"] = _loudness(audio, int(info["audio_rate"]), silent)
    return {"ok": all(c["ok"] for c in checks.values()), "output": str(path),
            "duration_s": round(info["video_s"], 3), "scenes": len(plan.scenes), "checks": checks}


def _loudness(audio: np.ndarray, rate: int, silent: bool) -> dict[str, Any]:
    if silent:
        return {"ok": True, "skipped": "no narration and no music: the soundtrack is silence"}
    lufs, peak = loudness_lufs(audio, rate), true_peak_dbtp(audio, rate)
    return {"ok": bool(abs(lufs - TARGET_LUFS) <= LOUDNESS_TOLERANCE_LU and peak <= PEAK_LIMIT_DBTP),
            "integrated_lufs": round(lufs, 2), "true_peak_dbtp": round(peak, 2),
            "target_lufs": TARGET_LUFS, "peak_limit_dbtp": PEAK_LIMIT_DBTP}


def summary(report: dict[str, Any]) -> str:
    """A few human lines for the terminal."""
    lines = [f"self-check: {'OK' if report['ok'] else 'PROBLEMS'} ({report['output']}, "
             f"{report['duration_s']} s, {report['scenes']} scenes)"]
    for name, check in report["checks"].items():
        detail = ", ".join(f"{k}={v}" for k, v in check.items() if k != "ok")
        lines.append(f"  {'ok  ' if check['ok'] else 'FAIL'} {name}: {detail}")
    return "\n".join(lines)
