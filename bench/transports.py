"""The same spoken questions over the WebSocket, WebRTC and a Twilio phone stream, one run,
one server on loopback. Prints figures, asserts nothing.

For each transport and question: the end of the question (the client's last speech sample
left it) → the first audible sample of the answer at the client (its audio arrives above
-34 dBFS: WebSocket deltas, the WebRTC track, Twilio ``media``), p50/p95. Also the server
process's CPU per second of call on each transport (the models' workers excluded: they do
the same work whatever the transport), which shows what Opus and the pacing cost.

The server is ``openrealtime serve`` (local models) in a subprocess; questions are spoken
by Piper's joe and espeak-ng voices; each question is asked in a fresh session.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent))
from listen import ROOT, cpu_seconds, free_port, wait_healthy

sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.voices import spoken_questions

from openrealtime.client.ask import ask_turn, configure, ws_url

QUESTIONS = ["What is the capital of Japan?", "How many legs does a spider have?",
             "What color is the sky?", "Name a fruit that is yellow.",
             "What is two plus three?", "Where do penguins live?"]
AUDIBLE = 0.02  # about -34 dBFS
TAIL_S = 6.0  # silence after each question while the answer comes


async def over_websocket(url: str, audio: np.ndarray) -> float | None:
    async with websockets.connect(ws_url(url), max_size=None) as ws:
        await configure(ws)
        result = await ask_turn(ws, audio, strict=False, listen_s=1.0)
    return result.latency_from_speech_end_s


async def over_webrtc(url: str, audio: np.ndarray) -> float | None:
    from tests.webrtc_client import calling

    async with calling() as caller:
        arrivals: list[tuple[float, float]] = []
        original = caller._listen

        async def listen(track: Any) -> None:  # (arrival time and peak of each frame)
            from aiortc.mediastreams import MediaStreamError

            while True:
                try:
                    frame = await track.recv()
                except MediaStreamError:
                    return
                x = frame.to_ndarray().astype(np.float32) / 32768
                arrivals.append((time.monotonic(), float(np.abs(x).max())))

        caller._listen = listen  # type: ignore[method-assign]
        del original
        await caller.dial(url)
        await caller.until("session.created")
        spoken = caller.mic.say(audio)
        sent_at = time.monotonic()
        speech_end = sent_at + spoken - _trailing_silence_s(audio)
        await caller.until("response.done", within=30)
        await asyncio.sleep(1.0)
    loud = [t for t, peak in arrivals if t > speech_end and peak > AUDIBLE]
    return loud[0] - speech_end if loud else None


async def over_twilio(url: str, audio: np.ndarray) -> float | None:
    from tests.phone import call, mulaw

    async with call(url) as peer:
        arrivals: list[tuple[float, float]] = []
        take = peer._take

        def record(message: dict[str, Any], now: float) -> None:
            if message.get("event") == "media":
                import base64

                from openrealtime.audio import ulaw_decode

                x = ulaw_decode(base64.b64decode(message["media"]["payload"]))
                arrivals.append((now, float(np.abs(x).max()) / 32768))
            take(message, now)

        peer._take = record  # type: ignore[method-assign]
        await peer.start()
        loop = asyncio.get_running_loop()
        speech = mulaw(audio, 24000)
        await peer.play(speech)
        speech_end = loop.time() - _trailing_silence_s(audio)
        await peer.until(lambda: any(t > speech_end and p > AUDIBLE for t, p in arrivals)
                         and len(peer.events("mark")) > 0, within=30)
        await peer.stop()
    loud = [t for t, peak in arrivals if t > speech_end and peak > AUDIBLE]
    return loud[0] - speech_end if loud else None


def _trailing_silence_s(x: np.ndarray, rate: int = 24000) -> float:
    loud = np.flatnonzero(np.abs(x) > 0.01)
    return (len(x) - (loud[-1] + 1)) / rate if len(loud) else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="times through the questions")
    args = parser.parse_args()
    spoken = [audio for _, _, audio in spoken_questions(QUESTIONS)]
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "openrealtime.cli", "serve", "--port",
                             str(port)], env=dict(os.environ, PYTHONPATH=str(ROOT / "src")),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    runs = {"websocket": over_websocket, "webrtc": over_webrtc, "twilio": over_twilio}
    latencies: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, float] = {name: 0.0 for name in runs}
    wall: dict[str, float] = {name: 0.0 for name in runs}
    try:
        wait_healthy(port, proc, timeout=180)
        for _ in range(args.rounds):
            for audio in spoken:
                for name, run in runs.items():  # interleaved: the same load for each
                    cpu_before, started = cpu_seconds(proc.pid), time.monotonic()
                    latency = asyncio.run(run(url, audio))
                    cpu[name] += cpu_seconds(proc.pid) - cpu_before
                    wall[name] += time.monotonic() - started
                    if latency is not None:
                        latencies[name].append(latency * 1000)
                    shown = f"{latency * 1000:.0f} ms" if latency is not None else "no answer"
                    print(f"{name:9s} {shown}", flush=True)
    finally:
        proc.terminate()
        proc.wait(30)
    print("\nend of question -> first audible answer sample at the client (loopback):")
    for name, values in latencies.items():
        if values:
            print(f"  {name:9s} p50 {np.percentile(values, 50):5.0f} ms  p95 "
                  f"{np.percentile(values, 95):5.0f} ms  ({len(values)} answers)  "
                  f"server process CPU {100 * cpu[name] / wall[name]:.1f} % of a core")
    print(json.dumps({k: [round(v) for v in vs] for k, vs in latencies.items()}))


if __name__ == "__main__":
    main()
