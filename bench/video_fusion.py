"""Does on-screen text make the transcript right? Prints figures, asserts nothing.

Builds the synthetic product demo of the fusion test (``tests/video/fusion_fixture.py``:
SCENES scenes, each showing a made-up feature name while an espeak-ng voice says
"Feature N is called <name>") and runs ``openrealtime video analyze`` (no LLM: the
wording is not what is measured) on it in a child process per mode:

- ``off``: transcript as Whisper hears it (before issue 15);
- ``reconcile``: unprimed Whisper, then spoken words corrected to on-screen spelling;
- ``on``: the default: each shot's on-screen text primes Whisper, then the correction.

For each it prints how many spoken names are right in the transcript (the name at its
scene's time), how many key points name a feature as shown, and seconds of processing
per minute of video (whole analyze: wall clock and CPU seconds of all its threads, which
vary less on a shared machine; and the speech stage alone).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

MODES = ("off", "reconcile", "on")


def child(video: str, mode: str) -> None:
    from openrealtime.video.understanding.brief import AnalyzeOptions, analyze
    from openrealtime.video.understanding.fusion import reconcile

    with tempfile.TemporaryDirectory() as out:
        start, cpu = time.perf_counter(), time.process_time()
        brief = analyze(video, out, AnalyzeOptions(use_llm=False, progress=False,
                                                   fuse_screen_text=mode == "on"))
        if mode == "reconcile":
            reconcile(brief)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(json.dumps({"wall_s": wall, "cpu_s": cpu, "brief": brief}))


def score(brief: dict, names: list[str], scene_s: float) -> tuple[int, int, list[str]]:
    """(names right in the transcript, key points with a right name, what was heard)."""
    def norm(w: str) -> str:
        return re.sub(r"[^0-9a-z]+", "", w.lower())

    right, heard = 0, []
    for i, name in enumerate(names):
        words = [w for s in brief["transcript"]["segments"] for w in s["words"]
                 if i * scene_s <= w["start_s"] < (i + 1) * scene_s]
        right += any(norm(w["word"]) == norm(name) for w in words)
        heard.append(" ".join(w["word"] for w in words))
    points = sum(any(re.search(rf"\b{n}\b", k["text"]) for n in names)
                 for k in brief["key_points"])
    return right, points, heard


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenes", type=int, default=10)
    parser.add_argument("--scene-s", type=float, default=8.0)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--verbose", action="store_true", help="print what was heard")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    from tests.video.fusion_fixture import build_demo

    with tempfile.TemporaryDirectory() as tmp:
        demo = build_demo(Path(tmp) / "demo.mp4", args.scenes, args.scene_s)
        minutes = demo.duration_s / 60
        print(f"fusion bench: {demo.duration_s:.0f} s demo, {args.scenes} scenes, espeak-ng "
              "voices, Whisper tiny.en, no LLM")
        print(f"  {'mode':<10} {'names right':>12} {'key points':>11} {'s/video-min':>12} "
              f"{'CPU-s/min':>10} {'speech s/min':>13}")
        for mode in args.modes.split(","):
            cmd = [sys.executable, __file__, "--child", str(demo.path), mode]
            out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True
                                            ).stdout.strip().splitlines()[-1])
            brief = out["brief"]
            right, points, heard = score(brief, demo.names, demo.scene_s)
            speech = brief["processing"]["timings_s"].get("speech", 0.0)
            kp = f"{points:>5} / {len(brief['key_points']):<3}" if mode != "reconcile" else \
                f"{'n/a':>11}"  # corrected after the key points were made
            print(f"  {mode:<10} {right:>7} / {len(demo.names):<3} "
                  f"{kp} {out['wall_s'] / minutes:>12.2f} {out['cpu_s'] / minutes:>10.2f} "
                  f"{speech / minutes:>13.2f}")
            if args.verbose:
                for name, said in zip(demo.names, heard, strict=True):
                    print(f"      {name:<9} {said}")


if __name__ == "__main__":
    main()
