"""Spoken-turn latency with the real local models, and the serial chain it replaces.

Each turn: a Piper-spoken question streamed in 20 ms frames at real-time pace on a
fresh connection, then silence. Measured per turn:
  * first audio delta - ``speech_stopped``   (what the issue targets: p50 <= 400 ms)
  * first audio delta - acoustic end of speech (what a user feels)
  * server stages: STT duration, transcript ready, LLM first token, first clause,
    first TTS audio (relative to ``speech_stopped``)
Then the same questions through a plain serial STT -> LLM -> TTS chain (whole
utterance, whole answer, whole audio), timed from the same ``speech_stopped`` point.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from openrealtime.audio import resample
from openrealtime.backends.base import Backends, LLMRequest, TextDelta
from openrealtime.client.ask import ask_url
from openrealtime.protocol.session import DEFAULT_INSTRUCTIONS
from openrealtime.server.app import create_app
from openrealtime.server.run import running_server
from openrealtime.server.settings import Settings

QUESTIONS = [
    "What is the capital of France?", "How far away is the moon?",
    "What is the tallest mountain in the world?", "Who wrote Romeo and Juliet?",
    "How many legs does a spider have?", "What color is the sky on a clear day?",
    "Can you recommend a good book?", "What is the boiling point of water?",
    "Why do cats purr?", "How do airplanes fly?", "What is the largest ocean?",
    "Tell me a fun fact about octopuses.", "What is the speed of light?",
    "How many days are in a leap year?", "What language is spoken in Brazil?",
    "What is photosynthesis?", "Who painted the Mona Lisa?",
    "What is the capital of Japan?", "How do I make a cup of tea?",
    "What is the biggest planet in our solar system?", "Where do penguins live?",
    "What time zone is London in?",
]


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def rss_mb(backends: Any = None) -> float:
    """RSS of this process plus, given ``backends``, of its model worker processes."""
    pids: list[int | str] = ["self"]
    if backends is not None:
        pids += [h["pid"] for h in backends.health().values() if h.get("pid")]
    total = 0.0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


async def speak(tts: Any, text: str) -> np.ndarray:
    chunks = [c async for c in tts.synthesize(text)]
    x = np.concatenate(chunks).astype(np.float32) / 32768.0
    lead = np.zeros(int(0.4 * 24000), dtype=np.float32)
    return np.concatenate([lead, resample(x, tts.sample_rate, 24000)])


class Recorder:
    """Server-side observer: when each stage of each response happened."""

    def __init__(self) -> None:
        self.stopped: list[float] = []
        self.stt: list[float] = []
        self.timings: list[Any] = []

    def __call__(self, kind: str, info: dict[str, Any]) -> None:
        if kind == "input_audio_buffer.speech_stopped":
            self.stopped.append(time.perf_counter())
        elif kind == "stt":
            self.stt.append(info["seconds"])
        elif kind == "timing":
            self.timings.append(info["timing"])


async def realtime_turns(backends: Backends, audios: list[np.ndarray]) -> dict[str, Any]:
    rec = Recorder()
    app = create_app(Settings(), backends=backends, observer=rec)
    rows: list[dict[str, float]] = []
    async with running_server(app) as url:
        for index, x in enumerate(audios):
            result = await ask_url(url, x, realtime=True)
            await asyncio.sleep(0.3)
            t = rec.timings[-1]
            stop = rec.stopped[-1]
            row = {
                "first_audio_after_stopped_ms": (result.latency_s or float("nan")) * 1000,
                "first_audio_after_speech_end_ms":
                    (result.latency_from_speech_end_s or float("nan")) * 1000,
                "stt_ms": rec.stt[-1] * 1000,
                "transcript_ready_ms": ((t.context_ready or stop) - stop) * 1000,
                "llm_first_token_ms": ((t.first_token or stop) - stop) * 1000,
                "first_clause_ms": ((t.first_clause or stop) - stop) * 1000,
                "tts_first_audio_ms": ((t.first_audio or stop) - stop) * 1000,
            }
            rows.append(row)
            print(f"turn {index + 1:2d}: {row['first_audio_after_stopped_ms']:6.0f} ms  "
                  f"q={result.question!r} a={result.answer[:60]!r}", flush=True)
    return {key: [r[key] for r in rows] for key in rows[0]}


async def serial_turns(backends: Backends, audios: list[np.ndarray]) -> list[float]:
    """Whole-utterance STT, then the whole LLM answer, then the whole TTS audio."""
    out = []
    for x in audios:
        x16 = resample(x, 24000, 16000)
        start = time.perf_counter()
        text = (await backends.stt.transcribe(x16)).text
        request = LLMRequest(messages=[{"role": "system", "content": DEFAULT_INSTRUCTIONS},
                                       {"role": "user", "content": text}])
        answer = "".join([c.text async for c in backends.llm.stream(request)
                          if isinstance(c, TextDelta)])
        _ = [c async for c in backends.tts.synthesize(answer or "OK")]
        out.append((time.perf_counter() - start) * 1000)
    return out


def report(name: str, values: list[float]) -> None:
    print(f"  {name:34s} p50 {pct(values, 50):7.0f} ms   p95 {pct(values, 95):7.0f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--llm-url")
    parser.add_argument("--llm-model")
    parser.add_argument("--in-process", action="store_true",
                        help="load the models into this process (no worker processes)")
    args = parser.parse_args()

    from openrealtime.backends.stack import load_local_backends

    backends = load_local_backends(llm_url=args.llm_url, llm_model=args.llm_model,
                                   isolate=not args.in_process)
    rss = rss_mb(backends)
    questions = [QUESTIONS[i % len(QUESTIONS)] for i in range(args.turns)]
    from openrealtime.backends.local.piper import PiperTTS

    voice = PiperTTS(deterministic=True)  # the same questions' audio on every run
    audios = [await speak(voice, q) for q in questions]
    where = "in-process" if args.in_process else "worker processes"
    print(f"models loaded ({where}): {backends.names}; RSS {rss:.0f} MiB")
    rt = await realtime_turns(backends, audios)
    serial = await serial_turns(backends, audios)
    print(f"\n{args.turns} spoken turns, real-time pacing, 2-core CPU:")
    for key, values in rt.items():
        report(key, values)
    report("serial chain (after speech_stopped)", serial)
    ratio = statistics.median(serial) / statistics.median(rt["first_audio_after_stopped_ms"])
    print(f"  serial / streaming (p50): {ratio:.2f}x")
    print(f"  server RSS with models loaded ({where}, workers included): {rss:.0f} MiB "
          f"(after the run: {rss_mb(backends):.0f} MiB)")
    if args.json:
        args.json.write_text(json.dumps({"realtime": rt, "serial_ms": serial,
                                         "rss_mb": rss, "ratio": ratio}, indent=1))


if __name__ == "__main__":
    asyncio.run(main())
