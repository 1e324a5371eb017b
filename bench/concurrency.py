"""How many spoken conversations at once can one machine hold? Prints, asserts nothing.

For each count in ``--sessions`` (default 1,2,3,4,5), that many sessions talk to one
server at the same time, each asking ``--turns`` questions in turn at real-time pace
(Piper's joe and three espeak-ng voices) and listening to each answer to its end before
the next; they start 0.7 s apart. The figure per count is the latency users feel:
``speech_stopped`` → first audio delta, p50 and p95 over all turns of all sessions; a
count is "held" when p95 ≤ 1 s. Gaps are where a player that plays each answer on from
its first delta would run dry (count and total ms, all turns). The server runs as ``openrealtime serve`` in a
subprocess with the local models (each in its worker).

``--compare SRC`` runs another source tree's server (e.g. a ``git worktree`` of the
previous commit, its ``src``) for each count right after this tree's, in the same
invocation. ``--remote`` puts the models on a model server instead: a second
OpenRealtime serves /v1/audio/* (STT, TTS) and ``python -m llama_cpp.server`` the LLM,
and the front server uses ``--stt-url``, ``--tts-url`` and ``--llm-url`` (same machine:
this measures the extra hops, not more capacity). ``--stories N``: the first N sessions
ask for long stories while the others ask short questions; the latency figures are then
the short questions' (do they wait behind a story?), and the stories' own gaps are shown.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from listen import ROOT, free_port, wait_healthy

sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.voices import spoken_questions

from openrealtime.client.ask import TurnResult, converse

QUESTIONS = [
    "What is the capital of Italy?", "How many days are in a week?", "Name a red fruit.",
    "What is five plus three?", "Where does the sun rise?", "What color is grass?",
    "Who was the first man on the moon?", "How many minutes are in an hour?",
    "What do bees make?", "Which animal says moo?", "What is frozen water called?",
    "How many wheels does a bicycle have?",
]
STORIES = [
    "Tell me a long story about a dragon.", "Tell me a story about a brave knight.",
    "Tell me a long story about a lost cat.", "Tell me a story about a pirate ship.",
]
STAGGER_S = 0.7


@contextlib.contextmanager
def server(src: Path, *extra: str) -> Iterator[str]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(src))
    proc = subprocess.Popen([sys.executable, "-m", "openrealtime.cli", "serve", "--port",
                             str(port), *extra], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_healthy(port, proc, timeout=180)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextlib.contextmanager
def llama_server() -> Iterator[str]:
    from openrealtime.backends.local.llama import bundled_model_path

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model",
                             str(bundled_model_path()), "--port", str(port), "--n_threads",
                             "1", "--n_ctx", "2048", "--interrupt_requests", "False"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    import httpx

    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2).is_success:
                    break
            time.sleep(0.3)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        proc.wait(30)


async def run_sessions(url: str, count: int, spoken: list[np.ndarray], turns: int,
                       stories: int = 0, told: list[np.ndarray] | None = None,
                       ) -> tuple[list[TurnResult], list[TurnResult]]:
    """(the short questions' turns, the stories' turns): the first ``stories`` sessions
    ask for stories (long answers), the others ask short questions."""
    async def one(index: int) -> list[TurnResult]:
        await asyncio.sleep(index * STAGGER_S)
        storyteller = bool(told) and index < stories
        asked = told if storyteller and told else spoken
        # (a story is long: half as many keep it going about as long as the questions)
        mine = [asked[(index * 5 + t) % len(asked)]
                for t in range(-(-turns // 2) if storyteller else turns)]
        return await converse(url, mine)

    results = await asyncio.gather(*(one(i) for i in range(count)))
    short = [r for i, session in enumerate(results) if i >= stories for r in session]
    long = [r for i, session in enumerate(results) if i < stories for r in session]
    return short, long


def figures(results: list[TurnResult]) -> dict[str, Any]:
    latencies = [r.latency_s * 1000 for r in results if r.latency_s is not None]
    failed = sum(r.status not in ("completed", "incomplete") for r in results)
    if not latencies:
        return {"turns": len(results), "failed": failed}
    return {"turns": len(results), "answered": len(latencies), "failed": failed,
            "p50_ms": round(float(np.percentile(latencies, 50))),
            "p95_ms": round(float(np.percentile(latencies, 95))),
            "max_ms": round(max(latencies)),
            # gaps inside answers: a player that plays on from the first delta runs dry
            "gaps": sum(r.stall_count for r in results),
            "gap_ms": round(1000 * sum(r.stalls_s for r in results))}


def stage_means(url: str) -> dict[str, int]:
    """Mean ms of each turn stage the server measured (its /metrics), where it has them."""
    import re

    import httpx

    try:
        text = httpx.get(url + "/metrics", timeout=5).text
    except httpx.HTTPError:
        return {}
    sums: dict[str, float] = {}
    counts: dict[str, float] = {}
    for kind, stage, value in re.findall(
            r'^openrealtime_latency_seconds_(sum|count)\{stage="([a-z_]+)"\} ([0-9.e+-]+)$',
            text, re.M):
        (sums if kind == "sum" else counts)[stage] = float(value)
    return {f"{stage}_ms": round(1000 * sums[stage] / n) for stage, n in counts.items()
            if n and stage in sums}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", default="1,2,3,4,5")
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--compare", type=Path, metavar="SRC")
    parser.add_argument("--stories", type=int, default=0, metavar="N",
                        help="the first N sessions ask for stories (long answers); the "
                             "figures are then the other sessions' turns, plus the stories' "
                             "gaps")
    parser.add_argument("--remote", action="store_true",
                        help="models on a model server (OpenRealtime + llama_cpp.server)")
    args = parser.parse_args()
    counts = [int(c) for c in args.sessions.split(",")]
    spoken = [audio for _, _, audio in spoken_questions(QUESTIONS)]
    told = [audio for _, _, audio in spoken_questions(STORIES)] if args.stories else None
    trees = [("this tree", ROOT / "src")]
    if args.compare:
        trees.append((f"compare {args.compare}", args.compare.resolve()))
    table: list[tuple[int, str, dict[str, Any]]] = []
    with contextlib.ExitStack() as stack:
        extra: list[str] = []
        if args.remote:
            models = stack.enter_context(server(ROOT / "src"))
            llm = stack.enter_context(llama_server())
            extra = ["--stt-url", models + "/v1", "--tts-url", models + "/v1",
                     "--llm-url", llm, "--llm-model", "smollm2"]
            # the model servers' first requests page their weights in: not a figure
            with server(ROOT / "src", *extra) as url:
                asyncio.run(run_sessions(url, 1, spoken, 2))  # (figures dropped)
        for count in counts:
            for label, src in trees:
                with server(src, *extra) as url:
                    started = time.perf_counter()
                    results, long = asyncio.run(run_sessions(url, count, spoken, args.turns,
                                                             args.stories, told))
                    row = figures(results) | {"wall_s": round(time.perf_counter() - started)}
                    if long:
                        story = figures(long)
                        row |= {"story_" + key: story[key] for key in
                                ("p50_ms", "gaps", "gap_ms") if key in story}
                    row |= stage_means(url)
                table.append((count, label, row))
                held = row.get("p95_ms", 1e9) <= 1000
                print(f"{count} sessions [{label}]: {row}  {'held' if held else 'NOT held'}",
                      flush=True)
    print("\nspeech_stopped -> first audio, all turns of all sessions"
          + (" (models on a model server)" if args.remote else "") + ":")
    print(f"{'sessions':>8s} {'tree':<28s} {'p50 ms':>7s} {'p95 ms':>7s} {'failed':>6s}"
          f" {'gaps':>5s} {'gap ms':>7s}" + ("  story gaps / ms" if args.stories else ""))
    for count, label, row in table:
        print(f"{count:8d} {label[:28]:<28s} {row.get('p50_ms', '-')!s:>7s} "
              f"{row.get('p95_ms', '-')!s:>7s} {row['failed']:6d} {row.get('gaps', '-')!s:>5s} "
              f"{row.get('gap_ms', '-')!s:>7s}"
              + (f"  {row.get('story_gaps', '-')} / {row.get('story_gap_ms', '-')}"
                 if args.stories else ""))


if __name__ == "__main__":
    main()
