"""Live captions: how soon do words appear? A benchmark that prints figures and asserts
nothing.

A transcription session (``?intent=transcription``, the openai SDK) hears sentences
spoken at real-time pace by Piper and espeak-ng voices (the server's local models, in
their worker processes). Reported: speech onset → first transcription delta, acoustic
end of speech → ``.completed``, deltas per utterance, and how many of them came while
the user was still speaking.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.sdk import client
from tests.voices import LEAD_S, speak

from openrealtime.backends.stack import load_local_backends
from openrealtime.server.app import create_app
from openrealtime.server.run import running_server
from openrealtime.server.settings import Settings

RATE = 24000
FRAME = 480  # 20 ms
SENTENCES = [
    "I would like to book a flight to Paris next Friday, and a hotel room for two nights.",
    "Can you tell me how long it takes to drive from Boston to New York in the morning?",
    "Please remind me to call my sister tomorrow afternoon about the birthday party.",
    "The printer on the second floor keeps jamming whenever I print more than ten pages.",
]
VOICES = ("piper-joe", "en-us", "en-gb", "en-gb-scotland")


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


async def utterance(conn: Any, audio: np.ndarray) -> dict[str, Any]:
    """Stream one utterance (then silence) and time its caption events."""
    loud = np.flatnonzero(np.abs(audio) > 0.01)
    onset_at, end_at = int(loud[0]), int(loud[-1])
    padded = np.concatenate([audio, np.zeros(RATE * 3, np.float32)])
    marks: dict[str, float] = {}
    times: dict[str, Any] = {"deltas": 0, "during": 0}
    done = asyncio.Event()

    async def read() -> None:
        async for event in conn:
            now = time.perf_counter()
            if event.type == "conversation.item.input_audio_transcription.delta":
                times["deltas"] += 1
                times["during"] += "end" not in marks
                times.setdefault("first_delta", now - marks["onset"])
            elif event.type == "conversation.item.input_audio_transcription.completed":
                times["completed"] = now - marks["end"]
                done.set()
                return

    reader = asyncio.create_task(read())
    start = time.perf_counter()
    for index, offset in enumerate(range(0, len(padded), FRAME)):
        if done.is_set():
            break
        chunk = (np.clip(padded[offset:offset + FRAME], -1, 1) * 32767).astype("<i2")
        await conn.input_audio_buffer.append(audio=base64.b64encode(chunk.tobytes()).decode())
        if offset <= onset_at < offset + FRAME:
            marks["onset"] = time.perf_counter()
        if offset <= end_at < offset + FRAME:
            marks["end"] = time.perf_counter()
        delay = start + (index + 1) * FRAME / RATE - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
    await asyncio.wait_for(reader, 30)
    return times


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utterances", type=int, default=12)
    args = parser.parse_args()
    spoken = [(SENTENCES[i % len(SENTENCES)], VOICES[i % len(VOICES)])
              for i in range(args.utterances)]
    audios = [await asyncio.to_thread(speak, text, voice) for text, voice in spoken]
    backends = load_local_backends()
    results = []
    async with running_server(create_app(Settings(), backends=backends)) as url:
        async with client(url).realtime.connect(
                extra_query={"intent": "transcription"}) as conn:
            await conn.session.update(session={"type": "transcription", "audio": {"input": {
                "transcription": {"model": "whisper-1"},
                "turn_detection": {"type": "server_vad", "silence_duration_ms": 500}}}})
            for i, audio in enumerate(audios):
                results.append(await utterance(conn, audio))
                print(f"  {i + 1}/{len(audios)} ({spoken[i][1]}): {results[-1]}", flush=True)
    await backends.aclose()
    first = [r["first_delta"] * 1000 for r in results if "first_delta" in r]
    final = [r["completed"] * 1000 for r in results if "completed" in r]
    print(f"live captions over {len(results)} utterances ({LEAD_S:g} s lead each), 2 cores:")
    print(f"  speech onset -> first delta: p50 {pct(first, 50):.0f} ms, "
          f"p95 {pct(first, 95):.0f} ms")
    print(f"  end of speech -> completed:  p50 {pct(final, 50):.0f} ms, "
          f"p95 {pct(final, 95):.0f} ms (server_vad 500 ms)")
    print(f"  deltas per utterance: {statistics.mean(r['deltas'] for r in results):.1f}, "
          f"while speaking: {statistics.mean(r['during'] for r in results):.1f}")


if __name__ == "__main__":
    asyncio.run(main())
