"""GPT-Live next to the Realtime API: end of speech → first reply audio, same server,
same questions, same run. A benchmark that prints figures and asserts nothing.

Each question (espeak-ng and Piper voices) is spoken at real-time pace, then silence,
once through ``/v1/realtime`` (GA, ``semantic_vad`` auto: what Live's model-decided
turns run on here) and once through ``/v1/live/sessions`` (the openai SDK's
``client.live``), alternating, with the local models in their worker processes.
Measured: the acoustic end of the question's speech (the client's clock, when its last
loud frame was sent) → the first audio delta that is not silence.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from latency import QUESTIONS  # (bench/ is this script's directory)
from tests.integration.test_live import start_event
from tests.sdk import client
from tests.voices import speak

from openrealtime.backends.stack import load_local_backends
from openrealtime.server.app import create_app
from openrealtime.server.run import running_server
from openrealtime.server.settings import Settings

RATE = 24000
FRAME = 480
VOICES = ("en-us", "en-gb", "piper-joe", "en-gb-scotland")
REALTIME_SESSION = {"type": "realtime", "audio": {"input": {
    "transcription": {"model": "whisper-1"},
    "turn_detection": {"type": "semantic_vad", "eagerness": "auto"}}}}


def frames(x: np.ndarray) -> list[tuple[str, bool]]:
    """(base64 pcm16 frame, whether it holds the last loud sample)."""
    end = int(np.flatnonzero(np.abs(x) > 0.01)[-1])
    padded = np.concatenate([x, np.zeros(RATE * 4, np.float32)])
    out = []
    for at in range(0, len(padded), FRAME):
        pcm = (np.clip(padded[at:at + FRAME], -1, 1) * 32767).astype("<i2").tobytes()
        out.append((base64.b64encode(pcm).decode(), at <= end < at + FRAME))
    return out


def audible(delta: str) -> bool:
    return bool(np.abs(np.frombuffer(base64.b64decode(delta), "<i2")).max(initial=0) > 300)


async def paced(send: Any, x: np.ndarray, heard: asyncio.Event) -> float:
    """Stream at real-time pace until the reply is heard; returns when speech ended."""
    start, ended = time.perf_counter(), 0.0
    for index, (frame, last) in enumerate(frames(x)):
        if heard.is_set():
            break
        await send(frame)
        if last:
            ended = time.perf_counter()
        delay = start + (index + 1) * FRAME / RATE - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
    return ended


async def realtime_turn(url: str, x: np.ndarray) -> float | None:
    async with websockets.connect(url.replace("http", "ws") + "/v1/realtime?model=gpt-realtime",
                                  max_size=None) as ws:
        await ws.send(json.dumps({"type": "session.update", "session": REALTIME_SESSION}))
        heard, first = asyncio.Event(), [0.0]

        async def read() -> None:
            async for message in ws:
                event = json.loads(message)
                if event["type"] == "response.output_audio.delta" and audible(event["delta"]):
                    first[0] = time.perf_counter()
                    heard.set()
                    return

        reader = asyncio.create_task(read())
        ended = await paced(lambda f: ws.send(json.dumps(
            {"type": "input_audio_buffer.append", "audio": f})), x, heard)
        await asyncio.wait_for(reader, 30)
        return first[0] - ended if ended else None


async def live_turn(url: str, x: np.ndarray) -> float | None:
    async with client(url).live.connect() as conn:
        await conn.send(start_event())
        heard, first = asyncio.Event(), [0.0]

        async def read() -> None:
            while True:
                event = await conn.recv()
                if event.type == "session.output_audio.delta" and audible(event.delta):
                    first[0] = time.perf_counter()
                    heard.set()
                    return

        reader = asyncio.create_task(read())
        ended = await paced(lambda f: conn.send({"type": "session.input_audio.append",
                                                 "audio": f}), x, heard)
        await asyncio.wait_for(reader, 30)
        return first[0] - ended if ended else None


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=12)
    args = parser.parse_args()
    spoken = [await asyncio.to_thread(speak, QUESTIONS[i % len(QUESTIONS)],
                                      VOICES[i % len(VOICES)]) for i in range(args.turns)]
    backends = load_local_backends()
    results: dict[str, list[float]] = {"realtime": [], "live": []}
    async with running_server(create_app(Settings(), backends=backends)) as url:
        for i, x in enumerate(spoken):
            for name, run in (("realtime", realtime_turn), ("live", live_turn)):
                seconds = await run(url, x)
                if seconds is not None:
                    results[name].append(seconds * 1000)
                print(f"  turn {i + 1:2d} {name:8s}: "
                      f"{'-' if seconds is None else f'{seconds * 1000:.0f} ms'}", flush=True)
    await backends.aclose()
    print(f"end of speech -> first audible reply audio, {args.turns} questions, 2 cores:")
    for name, values in results.items():
        print(f"  {name:8s} p50 {np.percentile(values, 50):.0f} ms  "
              f"p95 {np.percentile(values, 95):.0f} ms  (n={len(values)})")


if __name__ == "__main__":
    asyncio.run(main())
