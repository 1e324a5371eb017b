"""Does a server's memory stay flat over long conversations? Prints figures, asserts nothing.

Starts ``openrealtime serve --backend fake`` as a subprocess (the fake backends: an
energy VAD, scripted STT/LLM/TTS, so the server's own state is what is measured) and
holds ``--sessions`` sessions for ``--minutes``, each speaking in real time: a tone
"utterance" of 1.5 s, then 1.5 s of silence, and so on, answered every turn with
audio. The server's RSS is sampled every 5 s; the figure that matters is its growth
after warm-up (150 s: allocator pools, first responses, and each session's fixed 120 s
input ring buffer, whose pages the OS commits as they are first written).

``--compare SRC`` runs a second server at the same time from another source tree (for
example a ``git worktree`` of the previous commit, its ``src`` folder), so before and
after come from one run on one machine.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent))
from listen import ROOT, free_port, rss_mib, wait_healthy

RATE = 24_000
FRAME_S = 0.020
FRAME = int(RATE * FRAME_S)
WARMUP_S = 150.0


def turn_frames() -> list[str]:
    t = np.arange(int(1.5 * RATE), dtype=np.float32) / RATE
    speech = 0.3 * np.sin(2 * np.pi * 300 * t)
    x = np.concatenate([speech, np.zeros(int(1.5 * RATE), dtype=np.float32)])
    pcm = (x * 32767).astype("<i2").tobytes()
    return [base64.b64encode(pcm[i:i + FRAME * 2]).decode() for i in range(0, len(pcm), FRAME * 2)]


async def session(port: int, seconds: float, counts: dict[str, int]) -> None:
    url = f"ws://127.0.0.1:{port}/v1/realtime?model=gpt-realtime"
    frames = turn_frames()
    async with websockets.connect(url, max_size=None) as ws:
        await ws.send(json.dumps({"type": "session.update", "session": {
            "type": "realtime", "audio": {"input": {"transcription": {"model": "whisper-1"}}}}}))

        async def read() -> None:
            async for raw in ws:
                event = json.loads(raw)
                kind = event["type"]
                if kind == "response.done":
                    kind = f"response.done:{event['response']['status']}"
                if kind in ("error",) or kind.startswith("response.done"):
                    counts[kind] = counts.get(kind, 0) + 1

        reader = asyncio.create_task(read())
        start = time.perf_counter()
        index = 0
        while time.perf_counter() - start < seconds:
            due = start + index * FRAME_S
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await ws.send(json.dumps({"type": "input_audio_buffer.append",
                                      "audio": frames[index % len(frames)]}))
            index += 1
        await asyncio.sleep(1.0)
        reader.cancel()


async def sample(pids: dict[str, int], seconds: float) -> dict[str, list[tuple[float, float]]]:
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in pids}
    start = time.perf_counter()
    while (now := time.perf_counter() - start) < seconds:
        for name, pid in pids.items():
            samples[name].append((now, rss_mib(pid)))
        await asyncio.sleep(5.0)
    for name, pid in pids.items():
        samples[name].append((time.perf_counter() - start, rss_mib(pid)))
    return samples


def start_server(src: Path | None) -> tuple[subprocess.Popen[bytes], int, Any]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENREALTIME_")}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    log = tempfile.NamedTemporaryFile(prefix="openrealtime-soak-", suffix=".log", delete=False)
    cmd = [str(ROOT / ".venv/bin/python"), "-c", "import sys; from openrealtime.cli import main;"
           " sys.exit(main())", "serve", "--backend", "fake", "--host", "127.0.0.1",
           "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    wait_healthy(port, proc)
    return proc, port, log


async def run(servers: dict[str, int], pids: dict[str, int], sessions: int,
              seconds: float) -> tuple[dict[str, Any], dict[str, dict[str, int]]]:
    counts: dict[str, dict[str, int]] = {name: {} for name in servers}
    tasks = [session(port, seconds, counts[name])
             for name, port in servers.items() for _ in range(sessions)]
    samples, *_ = await asyncio.gather(sample(pids, seconds), *tasks)
    return samples, counts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=4)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--compare", type=Path, help="source tree of a second server ('before')")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    trees: dict[str, Path | None] = {"this tree": None}
    if args.compare:
        trees["compare"] = args.compare.resolve()
    procs: dict[str, tuple[subprocess.Popen[bytes], int, Any]] = {}
    try:
        for name, src in trees.items():
            procs[name] = start_server(src)
        servers = {name: port for name, (_, port, _) in procs.items()}
        pids = {name: proc.pid for name, (proc, _, _) in procs.items()}
        samples, counts = asyncio.run(run(servers, pids, args.sessions, args.minutes * 60))
    finally:
        for proc, _, log in procs.values():
            proc.terminate()
            proc.wait(10)
            log.close()
            os.unlink(log.name)
    print(f"{args.sessions} sessions x {args.minutes:g} min, fake backends, real-time audio "
          f"(1.5 s speech + 1.5 s silence per turn):")
    report: dict[str, Any] = {}
    for name, points in samples.items():
        warm = next((m for t, m in points if t >= WARMUP_S), points[0][1])
        end = points[-1][1]
        growth = (end - warm) / warm * 100
        report[name] = {"rss_start_mib": points[0][1], "rss_after_warmup_mib": warm,
                        "rss_end_mib": end, "growth_after_warmup_pct": growth,
                        "events": counts[name], "samples": points}
        label = name if name == "this tree" else f"{name} ({trees[name]})"
        print(f"  {label}: RSS {points[0][1]:.0f} MiB at start, {warm:.0f} after "
              f"{WARMUP_S:.0f} s, {end:.0f} at the end: {growth:+.1f} % after warm-up; "
              f"events {counts[name]}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
