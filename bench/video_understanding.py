"""What does understanding a video cost? Prints figures, asserts nothing.

Builds the 640x360 test video of the understanding tests (72 s, nine scenes, speech,
labels; ``--repeat K`` concatenates K copies for a longer run), then runs the full
local pipeline (``openrealtime video analyze``: decode, shots, keyframes, OCR, Whisper,
SmolLM2 wording) in a child process, and reports seconds of processing per minute of
video, per stage, and the child's peak memory (max RSS). Model loading is included
in the stage that loads the model, as a user would pay it. Target on 2 cores (issue 15):
at most 3 s per video-minute without a vision model.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))


def build_video(path: Path, repeat: int) -> None:
    from tests.video.understanding_fixture import build_main

    if repeat == 1:
        build_main(path)
        return
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


def child(video: str, no_llm: bool) -> None:
    from openrealtime.video.understanding.brief import AnalyzeOptions, analyze

    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        brief = analyze(video, out, AnalyzeOptions(use_llm=not no_llm, progress=False))
        wall = time.perf_counter() - start
    print(json.dumps({"wall_s": wall, "duration_s": brief["duration_s"],
                      "stages": brief["processing"]["timings_s"],
                      "shots": len(brief["shots"]), "ocr": len(brief["ocr"]),
                      "segments": len(brief["transcript"]["segments"])}))


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
        if args.input is None:
            print(f"building the test video ({72 * args.repeat} s, 640x360 @ 25 fps)...",
                  file=sys.stderr)
            build_video(video, args.repeat)
        cmd = [sys.executable, __file__, "--child", str(video)] + (["--no-llm"] * args.no_llm)
        result = json.loads(subprocess.run(cmd, check=True, capture_output=True,
                                           text=True).stdout.strip().splitlines()[-1])
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    minutes = result["duration_s"] / 60
    print(f"video understanding: {result['duration_s']:.1f} s of 640x360 video, "
          f"{result['shots']} shots, {result['ocr']} on-screen texts, "
          f"{result['segments']} speech segments, LLM {'off' if args.no_llm else 'on'}")
    print(f"  {'stage':<10} {'s total':>8} {'s / video-min':>14}")
    for stage, seconds in sorted(result["stages"].items(), key=lambda kv: -kv[1]):
        print(f"  {stage:<10} {seconds:8.2f} {seconds / minutes:14.2f}")
    print(f"  {'all (wall)':<10} {result['wall_s']:8.2f} {result['wall_s'] / minutes:14.2f}"
          "   (target <= 3 s per video-minute)")
    print(f"  peak memory (max RSS of the analyzing process): {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
