"""What does understanding a video cost? Prints figures, asserts nothing.

Builds the 640x360 test video of the understanding tests (72 s, nine scenes, speech,
labels; ``--repeat K`` concatenates K copies for a longer run), then runs the full
local pipeline (``openrealtime video analyze``: decode, shots, keyframes, OCR, Whisper,
SmolLM2 wording) in a child process, and reports seconds of processing per minute of
video, per stage, and the child's peak memory (max RSS). Model loading is included
in the stage that loads the model, as a user would pay it. Target on 2 cores (issue 15):
at most 3 s per video-minute without a vision model. The child's CPU seconds (all its
threads) are printed too: on a shared machine they vary less than the wall clock.

On the built video (one copy) it also prints what the tests check: the cuts, dissolve
and fade found, the labels read in their scene, the text-box change, and the spoken
key words at their times.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))


def build_video(path: Path, repeat: int) -> Any:
    """Write the video; returns the fixture's truth for one copy, else None."""
    from tests.video.understanding_fixture import build_main

    if repeat == 1:
        return build_main(path)
    import av

    one = path.with_name("one.mp4")
    build_main(one)
    # remux K copies back to back (no re-encode): packets shifted by the copy's offset
    with av.open(str(one)) as src, av.open(str(path), "w") as dst:
        outs = {s.index: dst.add_stream_from_template(s) for s in src.streams}
        span = src.duration / 1_000_000 + 0.5  # a short gap keeps timestamps increasing
        for k in range(repeat):
            src.seek(0)
            for packet in src.demux():
                if packet.dts is None:
                    continue
                shift = round(k * span / packet.time_base)
                packet.pts += shift
                packet.dts += shift
                packet.stream = outs[packet.stream.index]
                dst.mux(packet)
    return None


def accuracy(brief: dict[str, Any], fx: Any) -> list[str]:
    """The checks of tests/video/test_understanding.py, as counts."""
    from tests.video.understanding_fixture import (
        DISSOLVE,
        FADE,
        HARD_CUTS,
        LABELS,
        TEXTBOX_AFTER,
        TEXTBOX_CHANGE_S,
    )

    from openrealtime.video.understanding.search import stem

    found = [(s["start_s"], s["transition"]) for s in brief["shots"][1:]]
    truth = [(t, "cut", 0.5) for t in HARD_CUTS] + [
        (sum(DISSOLVE) / 2, "dissolve", 1.0), ((FADE[1] + FADE[2]) / 2, "fade", 1.0)]
    matched = {next(b for b in found if abs(b[0] - t) <= tol and (kind == "cut" or b[1] == kind))
               for t, kind, tol in truth
               if any(abs(b[0] - t) <= tol and (kind == "cut" or b[1] == kind) for b in found)}
    labels = 0
    for scene, label in enumerate(LABELS):
        middle = fx.scene_starts[scene] + 4.0
        shot = next(s for s in brief["shots"] if s["start_s"] <= middle < s["end_s"])
        labels += any(label in o["text"].upper() for o in brief["ocr"]
                      if o["shot_index"] == shot["index"])
    change = any(TEXTBOX_AFTER in o["text"].upper() and abs(o["start_s"] - TEXTBOX_CHANGE_S)
                 <= 1.0 for o in brief["ocr"])
    words = [w for s in brief["transcript"]["segments"] for w in s["words"]]
    spoken = sum(any(abs(w["start_s"] - sp.start_s) <= 0.7 for w in words
                     if stem(w["word"].strip(".,!?").lower().replace("'s", "s"))[:5]
                     == stem(sp.keyword)[:5]) for sp in fx.speech)
    return [f"transitions found {len(matched)} / {len(truth)} "
            f"(false: {len(set(found) - matched)})",
            f"labels read in their scene {labels} / {len(LABELS)}, "
            f"text-box change {'found' if change else 'MISSED'}",
            f"spoken key words at their time (+-0.7 s) {spoken} / {len(fx.speech)}"]


def child(video: str, no_llm: bool) -> None:
    from openrealtime.video.understanding.brief import AnalyzeOptions, analyze

    with tempfile.TemporaryDirectory() as out:
        start, cpu = time.perf_counter(), time.process_time()
        brief = analyze(video, out, AnalyzeOptions(use_llm=not no_llm, progress=False))
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(json.dumps({"wall_s": wall, "cpu_s": cpu, "duration_s": brief["duration_s"],
                      "stages": brief["processing"]["timings_s"], "brief": brief}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=1, help="copies of the 72 s video")
    parser.add_argument("--input", type=Path, help="analyze this file instead")
    parser.add_argument("--no-llm", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.no_llm)
        return
    with tempfile.TemporaryDirectory() as tmp:
        video = args.input or Path(tmp) / "bench.mp4"
        fixture = None
        if args.input is None:
            print(f"building the test video ({72 * args.repeat} s, 640x360 @ 25 fps)...",
                  file=sys.stderr)
            fixture = build_video(video, args.repeat)
        cmd = [sys.executable, __file__, "--child", str(video)] + (["--no-llm"] * args.no_llm)
        result = json.loads(subprocess.run(cmd, check=True, capture_output=True,
                                           text=True).stdout.strip().splitlines()[-1])
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    minutes = result["duration_s"] / 60
    brief = result["brief"]
    print(f"video understanding: {result['duration_s']:.1f} s of 640x360 video, "
          f"{len(brief['shots'])} shots, {len(brief['ocr'])} on-screen texts, "
          f"{len(brief['transcript']['segments'])} speech segments, "
          f"LLM {'off' if args.no_llm else 'on'}")
    print(f"  {'stage':<10} {'s total':>8} {'s / video-min':>14}")
    for stage, seconds in sorted(result["stages"].items(), key=lambda kv: -kv[1]):
        print(f"  {stage:<10} {seconds:8.2f} {seconds / minutes:14.2f}")
    print(f"  {'all (wall)':<10} {result['wall_s']:8.2f} {result['wall_s'] / minutes:14.2f}"
          "   (target <= 3 s per video-minute)")
    print(f"  {'all (CPU)':<10} {result['cpu_s']:8.2f} {result['cpu_s'] / minutes:14.2f}"
          "   (CPU seconds of all its threads)")
    print(f"  peak memory (max RSS of the analyzing process): {peak_mib:.0f} MiB")
    if fixture is not None:
        print("  accuracy: " + "; ".join(accuracy(brief, fixture)))


if __name__ == "__main__":
    main()
