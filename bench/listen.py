"""What does listening cost? A benchmark that prints figures and asserts nothing.

A voice server spends most of its life listening to silence: 50 frames a second
arrive and nobody speaks. That must be cheap (target: at most 5 % of one core on
a 2-core box) and must not degrade: RSS stays flat and a control round trip
(``session.update`` -> ``session.updated``) is as fast after a minute as after a
second. This starts ``openrealtime serve`` as a subprocess, streams ``--seconds``
of room silence (pcm16 24 kHz, 20 ms frames, real-time pace) over one WebSocket
and reports the server's CPU share (/proc, start-up excluded), RSS, control RTT
at start vs end, unexpected events (false ``speech_started``) and the client's
own lag. ``--backend fake`` (energy VAD, no models) isolates the server itself.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import websockets

RATE = 24_000
FRAME_S = 0.020
FRAME_SAMPLES = int(RATE * FRAME_S)
ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int | list[int]) -> float:
    """utime + stime of whole processes (all threads: ONNX, CTranslate2, llama.cpp)."""
    total = 0.0
    for one in pid if isinstance(pid, list) else [pid]:
        stat = Path(f"/proc/{one}/stat").read_text()
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
        total += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return total


def rss_mib(pid: int | list[int]) -> float:
    total = 0.0
    for one in pid if isinstance(pid, list) else [pid]:
        for line in Path(f"/proc/{one}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) / 1024
    return total


def server_pids(port: int, pid: int) -> list[int]:
    """The server process and its model workers (from ``/healthz``)."""
    workers = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json().get("workers", {})
    return [pid] + [w["pid"] for w in workers.values() if w.get("pid")]


def wait_healthy(port: int, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} during start-up")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"server not healthy after {timeout:.0f} s")


class Listener:
    """One WebSocket: a sender of silent frames, a reader of every server event."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.pending: dict[str, asyncio.Future[float]] = {}
        self.others: dict[str, int] = {}
        self.max_lag = 0.0
        self.late = 0  # frames sent more than one frame period behind schedule
        self.frames = 0

    async def read(self) -> None:
        async for raw in self.ws:
            event = json.loads(raw)
            if event.get("type") == "session.updated":
                fut = self.pending.pop(event.get("session", {}).get("instructions", ""), None)
                if fut is not None and not fut.done():
                    fut.set_result(time.perf_counter())
                    continue
            kind = str(event.get("type"))
            self.others[kind] = self.others.get(kind, 0) + 1

    async def stream(self, seconds: float) -> None:
        rng = np.random.default_rng(0)
        n = round(seconds / FRAME_S)
        start = time.perf_counter()
        for i in range(n):
            due = start + i * FRAME_S
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            lag = time.perf_counter() - due
            self.max_lag, self.late = max(self.max_lag, lag), self.late + (lag > FRAME_S)
            noise = rng.normal(0.0, 1e-4, FRAME_SAMPLES)  # room silence, far below any VAD
            pcm = np.clip(noise * 32767, -32768, 32767).astype("<i2").tobytes()
            await self.ws.send(json.dumps({"type": "input_audio_buffer.append",
                                           "audio": base64.b64encode(pcm).decode()}))
            self.frames += 1

    async def rtts(self, tag: str, count: int = 5) -> list[float]:
        out = []
        for i in range(count):
            key = f"x{tag}{i}"
            fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
            self.pending[key] = fut
            t0 = time.perf_counter()
            await self.ws.send(json.dumps({"type": "session.update", "session": {
                "type": "realtime", "instructions": key}}))
            out.append((await asyncio.wait_for(fut, 10) - t0) * 1000)
        return out


async def sample_rss(pid: int | list[int], out: list[tuple[float, float]], t0: float) -> None:
    while True:
        out.append((time.perf_counter() - t0, rss_mib(pid)))
        await asyncio.sleep(1.0)


async def measure(port: int, pid: int | list[int], seconds: float) -> dict[str, Any]:
    url = f"ws://127.0.0.1:{port}/v1/realtime?model=gpt-realtime"
    async with websockets.connect(url, max_size=None) as ws:
        first = json.loads(await asyncio.wait_for(ws.recv(), 30))
        if first.get("type") != "session.created":
            raise RuntimeError(f"expected session.created, got {first}")
        lis = Listener(ws)
        reader = asyncio.create_task(lis.read())
        rss0, cpu0, t0 = rss_mib(pid), cpu_seconds(pid), time.perf_counter()
        sender = asyncio.create_task(lis.stream(seconds + 2.0))  # stream on past the end probes
        rss: list[tuple[float, float]] = []
        sampler = asyncio.create_task(sample_rss(pid, rss, t0))
        await asyncio.sleep(1.0)
        rtt_start = await lis.rtts("s")
        await asyncio.sleep(max(0.0, t0 + seconds - time.perf_counter()))
        cpu1, wall, rss1 = cpu_seconds(pid), time.perf_counter() - t0, rss_mib(pid)
        sampler.cancel()
        rtt_end = await lis.rtts("e")
        await sender
        await asyncio.sleep(0.3)  # let late events (e.g. a false speech_started) arrive
        reader.cancel()
    return {"seconds": seconds, "wall_s": wall, "cpu_s": cpu1 - cpu0,
            "cpu_pct_core": (cpu1 - cpu0) / wall * 100, "rss_start_mib": rss0,
            "rss_end_mib": rss1, "rtt_start_ms": statistics.median(rtt_start),
            "rtt_end_ms": statistics.median(rtt_end), "rtt_start_all_ms": rtt_start,
            "rtt_end_all_ms": rtt_end, "frames_sent": lis.frames,
            "max_send_lag_ms": lis.max_lag * 1000, "late_frames": lis.late,
            "rss_mib_per_min": rss_slope(rss), "rss_samples": rss, "other_events": lis.others}


def rss_slope(samples: list[tuple[float, float]]) -> float:
    """Least-squares RSS growth in MiB per minute, ignoring the first 5 s (warm-up)."""
    pts = [(t, m) for t, m in samples if t >= 5.0]
    if len(pts) < 3:
        return float("nan")
    t, m = np.array(pts).T
    return float(np.polyfit(t, m, 1)[0] * 60)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="silence to stream")
    ap.add_argument("--backend", choices=["local", "fake"], default=None)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()

    port = free_port()
    cmd = [str(ROOT / ".venv/bin/openrealtime"), "serve", "--host", "127.0.0.1",
           "--port", str(port)] + (["--backend", args.backend] if args.backend else [])
    env = {k: v for k, v in os.environ.items() if k != "OPENREALTIME_API_KEYS"}
    log = tempfile.NamedTemporaryFile(prefix="openrealtime-listen-", suffix=".log", delete=False)
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    try:
        t = time.perf_counter()
        wait_healthy(port, proc)
        startup = time.perf_counter() - t
        pids = server_pids(port, proc.pid)  # CPU and RSS include the model workers
        r = asyncio.run(measure(port, pids, args.seconds))
    except BaseException:
        print(f"server log: {log.name}", file=sys.stderr)
        raise
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    r |= {"backend": args.backend or "local", "startup_s": startup, "server_pid": proc.pid}
    others = ", ".join(f"{k} x{v}" for k, v in r["other_events"].items()) or "none"
    rows = [
        ("backend", r["backend"]), ("server start-up", f"{startup:.1f} s"),
        ("streamed", f"{r['wall_s']:.1f} s, {r['frames_sent']} frames (incl. 2 s tail)"),
        ("server CPU", f"{r['cpu_s']:.2f} s = {r['cpu_pct_core']:.1f} % of one core"),
        ("server RSS start → end", f"{r['rss_start_mib']:.1f} → {r['rss_end_mib']:.1f} MiB"
         f" ({r['rss_end_mib'] - r['rss_start_mib']:+.1f}; after 5 s: {r['rss_mib_per_min']:+.2f} MiB/min)"),
        ("control RTT start → end", f"{r['rtt_start_ms']:.2f} → {r['rtt_end_ms']:.2f} ms (median of 5)"),
        ("client send lag", f"max {r['max_send_lag_ms']:.1f} ms, {r['late_frames']} frames > 20 ms late"),
        ("other server events", others),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    if args.json:
        args.json.write_text(json.dumps(r, indent=2) + "\n")
    os.unlink(log.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
