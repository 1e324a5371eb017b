"""Turn-taking with the real local models: how soon the reply is heard, premature ends
of turn, and echo. Prints figures; asserts nothing.

Every turn is a fresh session fed at real-time pace (20 ms frames, sent as a microphone
would, after each frame is captured) by speakers the tests never use (espeak-ng's
en-gb-x-rp, en-029, en-gb-x-gbclan, en-gb-x-gbcwmd). The client plays the reply as it
arrives (each delta starts when it arrives or when the previous one ends), so it can
tell when the first *audible* reply sample (louder than -40 dBFS) is heard.

Parts (``--parts``):
  latency  ``--turns`` questions under semantic_vad (eagerness auto) and under
           server_vad (silence 500 ms): acoustic end of speech → first audible reply
           sample, and speech_stopped → first audio delta;
  pauses   12 utterances with a 600 ms pause in mid-sentence ("I would like to book a
           flight to … Paris next Friday"): turns cut at the pause, per mode;
  echo     5 long answers whose audio is fed back into the microphone (120 ms later,
           -12 dB, room noise at -55 dBFS): speech_started during playback (false
           barge-ins); then 10 interruptions spoken over that echo, 0.6-2.4 s into
           the answer's audio (the first second is the hard part: the echo path is
           still being learnt): onset of the interruption → speech_started.

The server runs as ``openrealtime serve`` in a subprocess of the tree under test;
``--compare PATH`` runs the same client against another tree's ``src`` too (the
before/after comparison in one run). Server-side counters (end-of-turn decisions and
their cost, discarded speculative replies) come from ``/healthz``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from latency import QUESTIONS  # noqa: E402  (bench/ is this script's directory)

from openrealtime.audio import read_wav, resample  # noqa: E402
from openrealtime.client.speakerphone import AUDIBLE, call  # noqa: E402

RATE = 24_000
VOICES = ("en-gb-x-rp", "en-029", "en-gb-x-gbclan", "en-gb-x-gbcwmd")
PAUSED = [  # (before the pause, after it)
    ("I would like to book a flight to", "Paris next Friday."),
    ("Can you tell me about the", "history of Rome?"),
    ("My favourite colour is", "dark green."),
    ("I was wondering if you could", "help me with my homework."),
    ("The reason I am calling is because", "my order has not arrived."),
    ("What is the best way to", "learn a new language?"),
    ("I need to buy some", "milk and bread."),
    ("Could you please remind me to", "call my mother tomorrow?"),
    ("So what I really want to know is", "how old the universe is."),
    ("Tell me a story about a", "dragon and a knight."),
    ("How many people live in", "New York City?"),
    ("I think the answer is", "forty two."),
]
LONG = ["Tell me five interesting places to visit in London.",
        "List five fruits and what they taste like.",
        "Name five famous scientists and what they discovered.",
        "Give me five tips for sleeping better.",
        "Describe five animals that live in the ocean."]
INTERRUPTIONS = ["Wait, stop.", "Hold on a second.", "Where is that?", "Tell me more."]
LIST_INSTRUCTIONS = "Answer with a numbered list and one full sentence about each item."


# ------------------------------------------------------------------------- audio


def espeak(text: str, voice: str) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", "165", "-w", str(path), text],
                       check=True, capture_output=True, timeout=30)
        x, rate = read_wav(path)
    return resample(x.astype(np.float32), rate, RATE)


def trim(x: np.ndarray) -> np.ndarray:
    loud = np.flatnonzero(np.abs(x) > AUDIBLE)
    return x[loud[0]:loud[-1] + 1] if len(loud) else x


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(RATE * seconds), dtype=np.float32)


# ------------------------------------------------------------------------ client


def session(turn_detection: dict[str, Any], instructions: str | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {"type": "realtime", "audio": {"input": {
        "turn_detection": turn_detection, "transcription": {"model": "whisper-1"}}}}
    if instructions:
        config["instructions"] = instructions
    return config


# ------------------------------------------------------------------------ server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def server(src: Path, env: dict[str, str]) -> Any:
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="turns-server-", suffix=".log", delete=False)
    process = subprocess.Popen(  # noqa: ASYNC220 (started once, not in a hot path)
        [sys.executable, "-m", "openrealtime.cli", "serve", "--port", str(port)],
        env={**os.environ, "PYTHONPATH": str(src), **env}, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(600):
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(url + "/healthz")).status_code == 200:
                        break
                if process.poll() is not None:
                    raise RuntimeError(f"server exited; see {log.name}")
                await asyncio.sleep(0.25)
        yield url, process.pid
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(15)
        process.kill()


async def health(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        return (await client.get(url + "/healthz")).json()  # type: ignore[no-any-return]


# ------------------------------------------------------------------------- parts


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def line(name: str, values: list[float]) -> str:
    return (f"  {name:46s} p50 {pct(values, 50):6.0f} ms  p95 {pct(values, 95):6.0f} ms"
            f"  (n={len(values)})")


SEMANTIC = {"type": "semantic_vad", "eagerness": "auto"}
SERVER = {"type": "server_vad", "silence_duration_ms": 500}
MODES = {"semantic_vad auto": SEMANTIC, "server_vad 500 ms": SERVER}


async def latency(url: str, turns: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mode, td in MODES.items():
        audible, delta = [], []
        for index in range(turns):
            voice = VOICES[index % len(VOICES)]
            mic = np.concatenate([silence(0.4), trim(espeak(QUESTIONS[index % len(QUESTIONS)],
                                                           voice))])
            turn = await call(url, mic, session(td))
            stopped = turn.first("input_audio_buffer.speech_stopped")
            if turn.first_audible is None or turn.speech_end is None or stopped is None \
                    or turn.first_delta is None:
                print(f"  {mode}: turn {index + 1} got no reply", flush=True)
                continue
            audible.append((turn.first_audible - turn.speech_end) * 1000)
            delta.append((turn.first_delta - stopped[0]) * 1000)
            print(f"  {mode:18s} turn {index + 1:2d} ({voice:15s}): audible +{audible[-1]:5.0f}"
                  f" ms, speech_stopped->delta {delta[-1]:5.0f} ms", flush=True)
        out[mode] = {"audible": audible, "stopped_to_delta": delta}
    return out


async def pauses(url: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mode, td in MODES.items():
        cut = 0
        for index, (first, second) in enumerate(PAUSED):
            voice = VOICES[index % len(VOICES)]
            a, b = trim(espeak(first, voice)), trim(espeak(second, voice))
            mic = np.concatenate([silence(0.4), a, silence(0.6), b])
            resume_ms = (len(mic) - len(b)) * 1000 // RATE
            turn = await call(url, mic, session(td), tail_s=3.0)
            stops = [e for _, e in turn.events if e["type"] == "input_audio_buffer.speech_stopped"]
            premature = bool(stops) and stops[0]["audio_end_ms"] < resume_ms
            cut += premature
            print(f"  {mode:18s} {first!r:42s} {'CUT at the pause' if premature else 'whole'}",
                  flush=True)
        out[mode] = {"premature": cut, "utterances": len(PAUSED)}
    return out


async def echo(url: str) -> dict[str, Any]:
    false_starts, detect, missed = 0, [], 0
    replies: list[float] = []
    for index, question in enumerate(LONG):
        mic = np.concatenate([silence(0.4), trim(espeak(question, VOICES[index % 4]))])
        turn = await call(url, mic, session(SERVER, LIST_INSTRUCTIONS),
                          echo_gain=10 ** (-12 / 20))
        playing = turn.started[1:]  # the first is the question itself
        false_starts += len(playing)
        reply_s = sum(len(e["delta"]) * 3 // 4 for e in turn.of_type(
            "response.output_audio.delta")) / 2 / RATE
        replies.append(reply_s)
        print(f"  echo answer {index + 1}: {len(playing)} false barge-in(s) over "
              f"{reply_s:4.1f} s of reply", flush=True)
    for index in range(10):
        question = LONG[index % len(LONG)]
        mic = np.concatenate([silence(0.4), trim(espeak(question, VOICES[index % 4]))])
        words = trim(espeak(INTERRUPTIONS[index % len(INTERRUPTIONS)], VOICES[(index + 1) % 4]))
        turn = await call(url, mic, session(SERVER, LIST_INSTRUCTIONS),
                          echo_gain=10 ** (-12 / 20),
                          interruption=(0.6 + 0.45 * (index % 5), words))
        after = [t for t in turn.started if turn.onset is not None and t >= turn.onset - 0.05]
        if turn.onset is None or not after:
            missed += 1
            print(f"  interruption {index + 1}: not detected", flush=True)
            continue
        detect.append((after[0] - turn.onset) * 1000)
        early = [t for t in turn.started[1:] if turn.onset is not None and t < turn.onset - 0.05]
        false_starts += len(early)
        print(f"  interruption {index + 1}: speech_started +{detect[-1]:4.0f} ms"
              + (f" ({len(early)} false barge-in(s) before it)" if early else ""), flush=True)
    return {"false_barge_ins": false_starts, "detect_ms": detect, "missed": missed,
            "reply_s": replies}


async def measure(src: Path, parts: list[str], turns: int, env: dict[str, str]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    async with server(src, env) as (url, _pid):
        url_ws = url.replace("http", "ws")
        before = await health(url)
        print(f"server {src}: backends {before.get('backends')}", flush=True)
        if "latency" in parts:
            results["latency"] = await latency(url_ws, turns)
        if "pauses" in parts:
            results["pauses"] = await pauses(url_ws)
        if "echo" in parts:
            results["echo"] = await echo(url_ws)
        results["turn_stats"] = (await health(url)).get("turns")
        results["turns_run"] = (2 * turns * ("latency" in parts) + 2 * len(PAUSED) * (
            "pauses" in parts) + 15 * ("echo" in parts))
    return results


def report(name: str, results: dict[str, Any], turns: int) -> None:
    print(f"\n== {name}")
    for mode, figures in results.get("latency", {}).items():
        print(line(f"{mode}: end of speech -> first audible", figures["audible"]))
        print(line(f"{mode}: speech_stopped -> first delta", figures["stopped_to_delta"]))
    for mode, figures in results.get("pauses", {}).items():
        print(f"  {mode}: cut at a 600 ms mid-sentence pause: {figures['premature']} of "
              f"{figures['utterances']}")
    if "echo" in results:
        e = results["echo"]
        print(f"  echo: false barge-ins {e['false_barge_ins']} (5 answers played back, "
              f"{sum(e['reply_s']):.0f} s of reply in all, and 10 interrupted ones); "
              f"interruptions missed {e['missed']} of 10")
        print(line("  interruption onset -> speech_started", e["detect_ms"]))
    stats = results.get("turn_stats")
    if stats:
        eot, drafts = stats["end_of_turn"], stats["drafts"]
        turns_run = max(1, results.get("turns_run", 1))
        print(f"  end-of-turn decisions: {eot['decisions']}, mean {eot['mean_ms']} ms each")
        print(f"  drafts: {drafts['adopted']} adopted, {drafts['discarded']} discarded over "
              f"{turns_run} turns ({drafts['discarded_audio_s']} s of audio and "
              f"{drafts['discarded_text_chars']} characters made in vain: "
              f"{drafts['discarded_audio_s'] / turns_run:.2f} s of audio per turn)")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--parts", default="latency,pauses,echo")
    parser.add_argument("--compare", type=Path, help="another tree's src/ to measure too")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    parts = args.parts.split(",")
    env = {"OPENREALTIME_LOG_LEVEL": "warning"}
    runs = {"this tree": ROOT / "src"}
    if args.compare:
        runs["compare"] = args.compare
    results = {}
    for name, src in runs.items():
        results[name] = await measure(src, parts, args.turns, env)
    for name, figures in results.items():
        report(f"{name} ({runs[name]})", figures, args.turns)
    if args.json:
        args.json.write_text(json.dumps({k: v for k, v in results.items()}, indent=1,
                                        default=str))


if __name__ == "__main__":
    asyncio.run(main())
