"""A long spoken conversation in ONE session with the real models. Prints, asserts nothing.

``--turns`` questions (default 50), spoken in turn by Piper's joe and three espeak-ng
voices at real-time pace, through an in-process server whose models run in worker
processes. Reported: worker crashes (restarts), failed responses, error events, turns
cut short (``incomplete``), RSS of the server and its workers at the start and the end,
and the latency per turn (first audio delta after ``speech_stopped``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from latency import rss_mb  # noqa: E402
from tests.voices import spoken_questions  # noqa: E402

from openrealtime.client.ask import TurnResult, converse  # noqa: E402
from openrealtime.server.app import create_app  # noqa: E402
from openrealtime.server.run import running_server  # noqa: E402
from openrealtime.server.settings import Settings  # noqa: E402

QUESTIONS = [
    "What is the capital of France?", "List five fruits.", "What does NASA stand for?",
    "How hot is the sun in degrees Celsius?", "What is the website of Wikipedia?",
    "How many kilometers is a marathon?", "Name the planets of the solar system.",
    "What is the FBI?", "Write a Python function that adds two numbers.",
    "Who wrote Romeo and Juliet?", "What is ten percent of two hundred dollars?",
    "Give me the steps to boil an egg.", "How fast is light in kilometers per second?",
    "What do the letters U S A mean?", "Tell me a fun fact about octopuses.",
    "What is the boiling point of water in Fahrenheit?", "List the days of the week.",
    "What is H T T P?", "How far away is the moon?", "Why is the sky blue?",
    "What is the tallest mountain in the world?", "How many legs does a spider have?",
    "Can you recommend a good book?", "How do airplanes fly?", "What is photosynthesis?",
    "Who painted the Mona Lisa?", "What is the capital of Japan?",
    "How do I make a cup of tea?", "What is the biggest planet?", "Where do penguins live?",
    "What time zone is London in?", "Spell the word banana.", "Count from one to twenty.",
    "What is two plus two?", "How many grams are in a kilogram?", "What is an email?",
    "Tell me a joke.", "What is the square root of sixty four?", "Name three colors.",
    "What is the largest ocean?", "How old is the universe?", "What is a CPU?",
    "What is the population of the world?", "What is DNA?", "How do vaccines work?",
    "What is the speed of sound?", "What is a black hole?", "Name four seasons.",
    "What is the chemical symbol for gold?", "Thank you, goodbye.",
]


def summary(results: list[TurnResult], restarts: dict[str, int]) -> dict[str, Any]:
    statuses: dict[str, int] = {}
    for r in results:
        statuses[r.status or "none"] = statuses.get(r.status or "none", 0) + 1
    latencies = [r.latency_s * 1000 for r in results if r.latency_s is not None]
    return {"turns": len(results), "statuses": statuses,
            "error_events": sum(len(r.errors) for r in results),
            "errors": [e for r in results for e in r.errors][:10],
            "worker_restarts": restarts,
            "latency_p50_ms": float(np.percentile(latencies, 50)) if latencies else None,
            "latency_p95_ms": float(np.percentile(latencies, 95)) if latencies else None}


def role_rss(backends: Any) -> dict[str, float]:
    """RSS of each model worker (and of this process, the server), in MiB."""
    pids = {"server": "self"} | {role: h["pid"] for role, h in backends.health().items()
                                 if h.get("pid")}
    out: dict[str, float] = {}
    for role, pid in pids.items():
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out[role] = round(int(line.split()[1]) / 1024)
        except OSError:
            pass
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=50)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from openrealtime.backends.stack import load_local_backends

    questions = [QUESTIONS[i % len(QUESTIONS)] for i in range(args.turns)]
    spoken = await asyncio.to_thread(spoken_questions, questions)
    backends = load_local_backends()
    before = {role: h.get("restarts", 0) for role, h in backends.health().items()}
    rss_start = rss_mb(backends)
    started = time.perf_counter()

    rss_trace: list[float] = []

    def progress(index: int, result: TurnResult) -> None:
        rss_trace.append(round(rss_mb(backends)))
        lat = f"{result.latency_s * 1000:5.0f} ms" if result.latency_s is not None else "   -   "
        print(f"turn {index + 1:2d} [{spoken[index][1]:>14s}] {result.status:10s} {lat}  "
              f"q={result.question[:40]!r} a={result.answer[:50]!r}"
              + (f" ERRORS {result.errors}" if result.errors else ""), flush=True)

    app = create_app(Settings(), backends=backends)
    async with running_server(app) as url:
        results = await converse(url, [audio for _, _, audio in spoken], on_turn=progress)
    after = {role: h.get("restarts", 0) - before[role] for role, h in backends.health().items()}
    figures = summary(results, after) | {"rss_start_mib": rss_start,
                                          "rss_end_mib": rss_mb(backends),
                                          "rss_every_10_turns_mib": rss_trace[9::10],
                                          "rss_by_role_mib": role_rss(backends),
                                          "wall_s": time.perf_counter() - started}
    print(f"\n{args.turns} spoken turns in one session (4 voices, real-time pacing):")
    for key, value in figures.items():
        print(f"  {key:16s} {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    await backends.aclose()


if __name__ == "__main__":
    asyncio.run(main())
