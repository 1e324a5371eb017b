"""The human-readable outputs: ``brief.md``, ``transcript.srt`` and ``chapters.txt``."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def clock(seconds: float, *, millis: bool = False) -> str:
    """``m:ss`` (``h:mm:ss`` past an hour), or SRT's ``hh:mm:ss,mmm`` with ``millis``."""
    ms = max(0, round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    if millis:
        return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def srt(brief: dict[str, Any]) -> str:
    blocks = []
    for n, seg in enumerate(brief["transcript"]["segments"], 1):
        blocks.append(f"{n}\n{clock(seg['start_s'], millis=True)} --> "
                      f"{clock(max(seg['end_s'], seg['start_s'] + 0.2), millis=True)}\n"
                      f"{seg['text']}\n")
    return "\n".join(blocks)


def chapters_txt(brief: dict[str, Any]) -> str:
    """YouTube chapters: one ``m:ss Title`` line each, the first at 0:00."""
    return "".join(f"{clock(c['start_s'])} {c['title']}\n" for c in brief["chapters"])


def markdown(brief: dict[str, Any]) -> str:
    src, r = brief["source"], brief["rhythm"]
    out = [f"# {brief['topic']}", "",
           f"`{Path(src['path']).name}` — {clock(brief['duration_s'])} "
           f"({brief['duration_s']:.1f} s), {src['width']}x{src['height']}", "",
           f"**Rhythm:** {r['shot_count']} shots, mean {r['mean_shot_s']:.1f} s, median "
           f"{r['median_shot_s']:.1f} s, {r['cuts_per_min']:.1f} cuts/min; speech "
           f"{r['speech_ratio'] * 100:.0f}% of the time at {r['speech_wpm']:.0f} words/min.", "",
           "## Key points", ""]
    out += [f"- **{clock(k['start_s'])}** {k['text']}" for k in brief["key_points"]] or ["- none"]
    out += ["", "## Chapters", ""]
    out += [f"- **{clock(c['start_s'])}** {c['title']}" for c in brief["chapters"]]
    out += ["", "## Shots", "", "| # | time | keyframe | on screen | said |", "|---|---|---|---|---|"]
    for shot in brief["shots"]:
        out.append(_shot_row(brief, shot))
    out += ["", "## Timeline", ""]
    out += [f"- `{clock(e['start_s'])}` *{e['kind']}* {e['text']}" for e in brief["events"]]
    warnings = brief.get("processing", {}).get("warnings", [])
    if warnings:
        out += ["", "## Warnings", ""] + [f"- {w}" for w in warnings]
    return "\n".join(out) + "\n"


def _shot_row(brief: dict[str, Any], shot: dict[str, Any]) -> str:
    lo, hi = shot["start_s"], shot["end_s"]
    thumb = f'<img src="{shot["keyframe"]}" width="192">' if shot["keyframe"] else ""
    screen = "; ".join(o["text"] for o in brief["ocr"] if o["shot_index"] == shot["index"])
    said = " ".join(s["text"] for s in brief["transcript"]["segments"] if lo <= s["start_s"] < hi)
    return (f"| {shot['index'] + 1} | {clock(lo)}-{clock(hi)} ({shot['transition']}) | {thumb} "
            f"| {_cell(screen)} | {_cell(said)} |")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")[:160]


def write_reports(outdir: Path, brief: dict[str, Any]) -> None:
    (outdir / "brief.md").write_text(markdown(brief), encoding="utf-8")
    (outdir / "transcript.srt").write_text(srt(brief), encoding="utf-8")
    (outdir / "chapters.txt").write_text(chapters_txt(brief), encoding="utf-8")
