"""Barge-in latency with the real local models.

Each trial: ask for a list (a long answer), then start speaking ``--play`` seconds
after the answer's first audio delta. Measured from the moment the first frame of the
interrupting speech left the client:
  * to ``input_audio_buffer.speech_started`` (detection),
  * to the last audio delta of the interrupted response that reached the client
    (when the answer was still being generated: "audio stops"; target <= 150 ms).
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import numpy as np
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from openrealtime.audio import resample
from openrealtime.client.ask import configure, ws_url
from openrealtime.client.interrupt import interrupt
from openrealtime.server.app import create_app
from openrealtime.server.run import running_server
from openrealtime.server.settings import Settings

QUESTIONS = ["Tell me five interesting places to visit in London.",
             "List five fruits and what they taste like.",
             "Name five famous scientists and what they discovered.",
             "Give me five tips for sleeping better."]
INTERRUPTIONS = ["Wait, stop.", "Where is that?", "Hold on a second.", "Tell me more."]
INSTRUCTIONS = "Answer with a numbered list and one full sentence about each item."


async def speech(tts: object, text: str, lead_s: float) -> np.ndarray:
    chunks = [c async for c in tts.synthesize(text)]  # type: ignore[attr-defined]
    x = np.concatenate(chunks).astype(np.float32) / 32768
    lead = np.zeros(int(lead_s * 24000), dtype=np.float32)
    return np.concatenate([lead, resample(x, tts.sample_rate, 24000)])  # type: ignore[attr-defined]


def pct(values: list[float], q: float) -> str:
    return f"{np.percentile(values, q):6.0f} ms" if values else "     n/a"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--play", type=float, default=0.3,
                        help="seconds of the answer played before the user speaks")
    parser.add_argument("--in-process", action="store_true",
                        help="load the models into this process (no worker processes)")
    args = parser.parse_args()

    from openrealtime.backends.local.piper import PiperTTS
    from openrealtime.backends.stack import load_local_backends

    backends = load_local_backends(isolate=not args.in_process)
    voice = PiperTTS(deterministic=True)
    questions = [await speech(voice, q, 0.4) for q in QUESTIONS]
    interruptions = [await speech(voice, q, 0.1) for q in INTERRUPTIONS]
    detect, stop, cancelled = [], [], 0
    async with running_server(create_app(Settings(), backends=backends)) as url:
        for trial in range(args.trials):
            async with websockets.connect(ws_url(url), max_size=None) as ws:
                await configure(ws, INSTRUCTIONS)
                r = await interrupt(ws, questions[trial % len(questions)],
                                    interruptions[trial % len(interruptions)],
                                    play_before_s=args.play)
            assert r.onset_sent_at is not None and r.speech_started_at is not None
            detect.append((r.speech_started_at - r.onset_sent_at) * 1000)
            done = next(t for t, e in r.events if e["type"] == "response.done"
                        and e["response"]["id"] == r.first_response)
            last = r.last_first_response_delta_at()
            line = f"trial {trial + 1:2d}: speech_started +{detect[-1]:4.0f} ms"
            if done >= r.speech_started_at and last is not None:
                cancelled += 1
                stop.append((last - r.onset_sent_at) * 1000)
                line += f", last delta of the cut answer {stop[-1]:+5.0f} ms"
            else:
                line += ", answer had finished generating (nothing to cancel)"
            print(line, flush=True)
    print(f"\n{args.trials} trials, interrupting {args.play:.1f} s into the answer:")
    print(f"  onset -> speech_started        p50 {pct(detect, 50)}   p95 {pct(detect, 95)}")
    print(f"  onset -> last delta (cancelled) p50 {pct(stop, 50)}   p95 {pct(stop, 95)}"
          f"   ({cancelled} of {args.trials} answers were still being generated)")


if __name__ == "__main__":
    asyncio.run(main())
