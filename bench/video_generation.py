"""Render speed and peak memory of video generation: a ~30 s 1080x1920 short on this CPU.

The short mixes what users make: a title card, text cards, a chart and two photos with
Ken Burns motion (generated test images), narrated by Piper. Timings are split into
narration (TTS) and rendering (compose + encode); then the whole command, ``openrealtime
video generate`` in a fresh process (start-up, narration, render, self-check), which must
run at >= 2x real time on 2 cores (issue 15). Not a test: prints figures, asserts nothing.

    .venv/bin/python bench/video_generation.py [--preset veryfast] [--aspect 9:16]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

SCRIPT = """# Thirty Seconds on Bees

## Pollinators
Bees pollinate about a third of the crops we eat. Apples, almonds and berries all need them.

## Meadow
![meadow](meadow.jpg)
A single colony visits millions of flowers every summer.

## Losses
Beekeepers lost many colonies in recent winters. Mites, heat and hunger all play a part.

```chart
title: Colonies lost (%)
2021: 39
2022: 39
2023: 48
```

## Garden
![garden](garden.jpg)
Plant native flowers that bloom from spring to autumn. Give them water on hot days.

## Start today
Skip the pesticides, leave a corner wild, and share this with a friend.
"""


def _cpu_s() -> float:
    """User + system CPU seconds of this process (all threads): robust on a busy machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def make_assets(folder: Path) -> None:
    """Two photo-like stills: smooth colour fields plus fine texture (hard for the encoder)."""
    rng = np.random.default_rng(1)
    for name in ("meadow", "garden"):
        small = rng.integers(0, 255, (12, 8, 3), dtype=np.uint8)
        base = np.asarray(Image.fromarray(small).resize((1600, 2400), Image.Resampling.BICUBIC), np.int16)
        noise = rng.integers(-18, 18, base.shape, dtype=np.int16)
        Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)).save(folder / f"{name}.jpg", quality=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--aspect", default="9:16")
    args = parser.parse_args()

    from openrealtime.backends.local.piper import PiperTTS
    from openrealtime.video.generation import GenerateRequest, PlanOptions, generate
    from openrealtime.video.generation.caption import Captioner
    from openrealtime.video.generation.narration import build_timeline
    from openrealtime.video.generation.pipeline import make_plan
    from openrealtime.video.generation.render import RenderSettings, render
    from openrealtime.video.generation.sound import master

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make_assets(folder)
        (folder / "script.md").write_text(SCRIPT)
        tts = PiperTTS(deterministic=True)
        request = GenerateRequest(output=folder / "short.mp4", script=folder / "script.md", tts=tts,
                                  options=PlanOptions(aspect=args.aspect, assets=folder),
                                  render=RenderSettings(preset=args.preset, progress=False))
        plan = make_plan(request, lambda _: None)
        t0 = time.perf_counter()
        timeline = build_timeline(plan, tts)
        t1 = time.perf_counter()
        captioner = Captioner(plan.captions, plan.width, plan.height, plan.font)
        cues = captioner.fit_cues(timeline.cues)
        audio = master(timeline.speech, None, True)
        t2 = time.perf_counter()
        cpu0 = _cpu_s()
        render(plan, timeline, cues, audio, request.output, settings=request.render)
        t3 = time.perf_counter()
        render_cpu_s = _cpu_s() - cpu0
        total = generate(request, log=lambda _: None)  # the whole pipeline, self-check included
        t4 = time.perf_counter()
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        video_s = timeline.duration_s
        size_mib = request.output.stat().st_size / 2**20
        cli = [str(Path(sys.executable).with_name("openrealtime")), "video", "generate",
               str(folder / "script.md"), "-o", str(folder / "cli.mp4"), "--assets", str(folder),
               "--aspect", args.aspect, "--preset", args.preset]
        child0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t5 = time.perf_counter()
        run = subprocess.run(cli, capture_output=True, text=True)
        t6 = time.perf_counter()
        child1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cli_cpu = (child1.ru_utime + child1.ru_stime) - (child0.ru_utime + child0.ru_stime)
        progress_lines = [line for line in run.stderr.splitlines() if line.startswith("render:")]
    print(f"video generation bench: {plan.width}x{plan.height}, {video_s:.1f} s, "
          f"{timeline.total_frames} frames, {len(plan.scenes)} scenes, preset {args.preset}")
    print(f"  narration (Piper, {len(timeline.cues)} sentences): {t1 - t0:6.2f} s")
    print(f"  soundtrack (mix, loudness, limiter):  {t2 - t1:6.2f} s")
    print(f"  render (compose + encode):           {t3 - t2:6.2f} s  "
          f"= {video_s / (t3 - t2):.2f}x real time, {timeline.total_frames / (t3 - t2):.0f} frames/s")
    print(f"  render CPU time (all threads):       {render_cpu_s:6.2f} s  = {render_cpu_s / 2:.2f} s "
          f"on 2 idle cores at best ({video_s / (render_cpu_s / 2):.2f}x real time)")
    print(f"  whole generate() incl. TTS + check:  {t4 - t3:6.2f} s  = {video_s / (t4 - t3):.2f}x real time")
    print(f"  self-check ok: {total.report['ok'] if total.report else None}; file {size_mib:.1f} MiB")
    print(f"  whole command (openrealtime video generate, fresh process): {t6 - t5:6.2f} s "
          f"= {video_s / (t6 - t5):.2f}x real time (target >= 2x), exit {run.returncode}; "
          f"CPU {cli_cpu:.2f} s = {video_s / (cli_cpu / 2):.2f}x on 2 idle cores at best")
    print(f"  progress lines on a non-terminal stderr: {progress_lines}")
    print(f"  peak memory (max RSS): {peak_mib:.0f} MiB")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
