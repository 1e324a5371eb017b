"""Does a user's first word wait behind another session's long answer? Prints, asserts nothing.

Two sessions share one model (the bundled SmolLM2). Session A streams a story; like the
runtime's pipeline, its reader takes the first 30 deltas (the clauses it queues for
TTS) and then reads no more for now, so the story runs ahead of its listener. Session
B's short question arrives at a random moment (seeded) while the story is being made,
and B's user waits for its first words: B's wait = submit -> first text delta.

B's wait p50 / p95 / max over ``--trials``, and what it costs A (its whole time, mean).
The model runs in this process, as it does inside its worker.
``--compare SRC`` runs the same trials with another source tree (e.g. a ``git worktree``
of the previous commit, its ``src``) in a subprocess right after, so both figures come
from one invocation on the same machine state.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STORY = "Tell me a long story about a dragon and a knight."
QUESTION = "What is the capital of France?"


async def llm_trial(llm: Any, offset_s: float) -> tuple[float, float]:
    from openrealtime.backends.base import LLMRequest, TextDelta
    from openrealtime.backends.priority import PRIORITY, URGENT

    first_token, answered = asyncio.Event(), asyncio.Event()

    async def story() -> float:
        PRIORITY.set(URGENT)
        started = time.perf_counter()
        request = LLMRequest([{"role": "user", "content": STORY}], max_tokens=200,
                             temperature=0.0)
        read = 0
        async for item in llm.stream(request):
            if isinstance(item, TextDelta):
                first_token.set()
                read += 1
                if read == 30:
                    await answered.wait()  # its listener has enough to play for now
        return time.perf_counter() - started

    async def question() -> float:
        PRIORITY.set(URGENT)
        await first_token.wait()
        await asyncio.sleep(offset_s)
        asked = time.perf_counter()
        request = LLMRequest([{"role": "user", "content": QUESTION}], max_tokens=24,
                             temperature=0.0)
        wait = 0.0
        async for item in llm.stream(request):
            if isinstance(item, TextDelta) and not wait:
                wait = time.perf_counter() - asked
        answered.set()
        return wait

    a, b = await asyncio.gather(story(), question())
    return b, a


async def measure(trials: int, seed: int) -> list[tuple[float, float]]:
    from openrealtime.backends.local.llama import LlamaLLM

    rng = random.Random(seed)
    llm = LlamaLLM()
    llm.warmup()
    pairs = [await llm_trial(llm, rng.uniform(0.1, 1.5)) for _ in range(trials)]
    await llm.aclose()
    return pairs


def summary(pairs: Sequence[Sequence[float]]) -> str:
    waits = sorted(1000 * b for b, _ in pairs)
    p95 = waits[min(len(waits) - 1, round(0.95 * (len(waits) - 1)))]
    return (f"B waits p50 {statistics.median(waits):6.0f} / p95 {p95:6.0f} / max "
            f"{waits[-1]:6.0f} ms; A takes {1000 * statistics.mean(a for _, a in pairs):6.0f} "
            "ms (mean)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--compare", type=Path, metavar="SRC")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    results = asyncio.run(measure(args.trials, args.seed))
    if args.json:
        print(json.dumps(results))
        return
    rows = [("this tree", results)]
    if args.compare:
        env = dict(os.environ, PYTHONPATH=str(args.compare.resolve()))
        done = subprocess.run([sys.executable, __file__, "--json", "--trials", str(args.trials), "--seed", str(args.seed)],
                              env=env, check=True, capture_output=True, text=True)
        rows.append((f"compare {args.compare}", json.loads(done.stdout.splitlines()[-1])))
    for label, found in rows:
        print(f"{label[:36]:<36s} {summary(found)}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    if "--json" in sys.argv:  # (the compared tree's src comes first, from PYTHONPATH)
        sys.path.remove(str(ROOT / "src"))
    main()
