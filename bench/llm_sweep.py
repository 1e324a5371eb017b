"""How often the embedded LLM (SmolLM2-135M) answers simple spoken questions right, per
prompt framing and sampling. Prints a table; asserts nothing.

The questions are ``bench/data/llm_questions.json`` (capitals, arithmetic, colours,
animals, units, everyday facts, small talk), kept out of the tests. Every question is a
fresh one-turn conversation built the way the server builds it: a session whose
``instructions`` are the candidate prompt, one user message, ``response_plan`` and
``build_messages`` as a spoken response runs them (``SPOKEN_MAX_TOKENS`` cap, the
session's temperature), sent to the real ``LlamaLLM`` in this process with one of the
candidate :class:`Sampling` mappings. Each configuration runs with several fixed seeds
(``LLMRequest.seed``): the same command prints the same table.

Judging rule, strict and simple: a reply is **correct** iff
  1. it contains one of the question's accepted answers as a whole word or phrase
     (case-insensitive; numbers are accepted as digits or words, both are listed; "4"
     is not in "24" nor in "4.5"),
  2. it names none of the question's ``wrong`` answers, where the data lists some (another
     city of the country, another planet, another weekday: a hedge is not an answer),
  3. it is not degenerate: the output guard (``runtime/guard.py``, which ends a spoken
     answer that loops) did not trip, and
  4. it has at most ``max_words`` words (40, from the data file): a spoken answer to a
     simple question is a sentence or two. Generation stops once a reply passes the
     limit, so "words" below are capped there.

Columns: % correct (mean over seeds, and the worst seed), degenerate replies (loops),
replies over the word limit, mean words per reply, mean time to the first token and
mean time of a whole reply (ms; one generation at a time, llama.cpp on 1 thread, so run
nothing else meanwhile). With ``--open``, also the loops in answers to the data's 10
open-ended requests (stories, lists, poems: up to the spoken answer's own limits), the
other failure of a small model at a low temperature.

Configurations: by default the old default (its prompt, the session's temperature as it
is), every prompt with the new default sampling, and every sampling with the new default
prompt; ``--full`` is the whole grid, ``--quick`` the old and the new default only.

  .venv/bin/python bench/llm_sweep.py                   # ~8 min on 2 cores
  .venv/bin/python bench/llm_sweep.py --quick --open    # ~3 min
  .venv/bin/python bench/llm_sweep.py --show old/session   # every reply of one config
  .venv/bin/python bench/llm_sweep.py --conversation   # one long conversation, ~6 min
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from openrealtime.backends.base import Finished, LLMRequest, TextDelta  # noqa: E402
from openrealtime.backends.local.llama import (  # noqa: E402
    PLAIN_SAMPLING,
    TINY_SAMPLING,
    LlamaLLM,
    Sampling,
)
from openrealtime.core.response import response_plan  # noqa: E402
from openrealtime.protocol import client_events as ce  # noqa: E402
from openrealtime.protocol.items import InputTextPart, MessageItem, OutputTextPart  # noqa: E402
from openrealtime.protocol.session import DEFAULT_INSTRUCTIONS, RealtimeSession  # noqa: E402
from openrealtime.runtime.context import build_messages  # noqa: E402
from openrealtime.runtime.guard import SPOKEN_MAX_TOKENS, SPOKEN_SOFT_WORDS, OutputGuard  # noqa: E402

DATA = ROOT / "bench" / "data" / "llm_questions.json"

# Prompt framings: the session's instructions (a system message), as a client could set
# them. The examples in them are none of the questions.
PROMPTS: dict[str, str] = {
    "old": ("You are a helpful, friendly voice assistant. Answer briefly, in one or two "
            "short sentences, in plain spoken language."),  # the default before issue 13
    "plain": "You are a helpful assistant. Answer the question in one short sentence.",
    "example": ("You are a helpful voice assistant. Answer the question in one short "
                "sentence.\n\nExample:\nUser: How many wheels does a bicycle have?\n"
                "Assistant: A bicycle has two wheels."),
    "default": DEFAULT_INSTRUCTIONS,  # two examples
    # The system prompt SmolLM2 was tuned with (its chat template's default).
    "smollm": "You are a helpful AI assistant named SmolLM, trained by Hugging Face",
}
# Sampling: the session's temperature as it is, or a local-model mapping of it.
SAMPLINGS: dict[str, Sampling] = {
    "session": PLAIN_SAMPLING,  # llama.cpp's defaults, the temperature as the session sets it
    "t/4": Sampling(temperature_scale=0.25),
    "t/8": Sampling(temperature_scale=0.125),
    "greedy": Sampling(temperature_scale=0.0),
    "t/8+rp": TINY_SAMPLING,  # temperature / 8, repeat penalty 1.1: the new default
    # ... without its opening penalty (which acts only where earlier answers exist)
    "t/8+rp-op": dataclasses.replace(TINY_SAMPLING, opening_penalty=0.0),
}
OLD = ("old", "session")
NEW = ("default", next(name for name, s in SAMPLINGS.items() if s == TINY_SAMPLING))


@dataclass(slots=True)
class Reply:
    question: str
    seed: int
    text: str
    correct: bool
    loop: bool
    long: bool
    first_ms: float
    total_ms: float

    @property
    def words(self) -> int:
        return len(self.text.split())


@dataclass(slots=True)
class Result:
    prompt: str
    sampling: str
    replies: list[Reply] = field(default_factory=list)
    open_replies: list[Reply] = field(default_factory=list)


def names(reply: str, answers: list[str]) -> bool:
    """One of ``answers`` is in ``reply`` as a whole word or phrase, case-insensitive
    ("4" is not in "24", "4.5" or "0,4"; it is in "4." at the end of a sentence)."""
    return any(re.search(rf"(?<!\w)(?<!\w[.,]){re.escape(a)}(?![.,]?\w)", reply,
                         re.IGNORECASE) for a in answers)


def judge(reply: str, question: dict[str, Any]) -> bool:
    """Rules 1 and 2 of the module docstring (3 and 4 are the caller's)."""
    return names(reply, question["answers"]) and not names(reply, question.get("wrong", []))


async def request_for(instructions: str, question: str, temperature: float,
                      seed: int) -> LLMRequest:
    """The request a spoken response to ``question`` sends the LLM, as the server makes it."""
    session = RealtimeSession(instructions=instructions, temperature=temperature)
    item = MessageItem(role="user", content=[InputTextPart(text=question)])
    plan = response_plan(session, ce.ResponseParams(), [item])
    messages = await build_messages(plan.instructions, plan.items, {})
    max_tokens = min(plan.max_output_tokens or SPOKEN_MAX_TOKENS, SPOKEN_MAX_TOKENS)
    return LLMRequest(messages=messages, max_tokens=max_tokens,
                      temperature=plan.temperature, seed=seed)


async def ask(llm: LlamaLLM, request: LLMRequest, question: dict[str, Any],
              max_words: int | None) -> Reply:
    """One reply through the spoken answer's output guard, judged."""
    guard = OutputGuard(soft_max_words=SPOKEN_SOFT_WORDS)
    heard = ""
    first: float | None = None
    start = time.perf_counter()
    async with contextlib.aclosing(llm.stream(request)) as stream:
        async for chunk in stream:
            if isinstance(chunk, Finished):
                break
            if isinstance(chunk, TextDelta):
                first = first or time.perf_counter()
                heard += guard.push(chunk.text)
                too_long = max_words is not None and len(guard.received.split()) > max_words
                if guard.tripped or too_long:
                    break
    heard += guard.flush()
    total = time.perf_counter() - start
    text = heard.strip()
    loop = guard.tripped == "loop"
    long = max_words is not None and len(guard.received.split()) > max_words
    return Reply(question["q"], request.seed or 0, text,
                 judge(text, question) and not loop and not long, loop, long,
                 1000 * ((first or time.perf_counter()) - start), 1000 * total)


async def sweep(llm: LlamaLLM, data: dict[str, Any], configs: list[tuple[str, str]],
                seeds: tuple[int, ...], temperature: float, open_ended: bool) -> list[Result]:
    results = []
    for prompt, sampling in configs:
        llm.sampling = SAMPLINGS[sampling]
        result = Result(prompt, sampling)
        for seed in seeds:
            for q in data["questions"]:
                request = await request_for(PROMPTS[prompt], q["q"], temperature, seed)
                result.replies.append(await ask(llm, request, q, int(data["max_words"])))
            for text in data["open"] if open_ended else ():
                request = await request_for(PROMPTS[prompt], text, temperature, seed)
                result.open_replies.append(await ask(llm, request, {"q": text, "answers": []},
                                                     None))
        results.append(result)
        print(_row(result, seeds), flush=True)
    return results


def _row(result: Result, seeds: tuple[int, ...]) -> str:
    replies = result.replies
    per_seed = [100 * statistics.mean(r.correct for r in replies if r.seed == s) for s in seeds]
    opened = result.open_replies
    open_loops = f"{sum(r.loop for r in opened)}/{len(opened)}" if opened else "-"
    mark = " <- old default" if (result.prompt, result.sampling) == OLD else (
        " <- new default" if (result.prompt, result.sampling) == NEW else "")
    return (f"{result.prompt + '/' + result.sampling:<18} {statistics.mean(per_seed):5.1f} "
            f"{min(per_seed):5.1f} {sum(r.loop for r in replies):5d} "
            f"{sum(r.long for r in replies):4d} {statistics.mean(r.words for r in replies):5.1f} "
            f"{statistics.mean(r.first_ms for r in replies):6.0f} "
            f"{statistics.mean(r.total_ms for r in replies):6.0f} {open_loops:>10}{mark}")


HEADER = (f"{'prompt/sampling':<18} {'%ok':>5} {'worst':>5} {'loops':>5} {'long':>4} "
          f"{'words':>5} {'1st ms':>6} {'all ms':>6} {'open loops':>10}")


def opening(text: str, words: int = 4) -> str:
    return " ".join(re.findall(r"[\w']+", text.lower())[:words])


async def conversation(llm: LlamaLLM, data: dict[str, Any], seeds: tuple[int, ...],
                       temperature: float) -> None:
    """``--conversation``: the questions asked in turn in one conversation, each answer
    (as the guard let it be heard) kept in the history, per sampling with and without
    the opening penalty: % right and how many answers open (first 4 words) like at
    least two earlier ones did."""
    for name in ("t/8+rp-op", "t/8+rp"):
        llm.sampling = SAMPLINGS[name]
        for seed in seeds:
            session = RealtimeSession(instructions=DEFAULT_INSTRUCTIONS, temperature=temperature)
            items: list[Any] = []
            right = parroted = 0
            openings: list[str] = []
            for q in data["questions"]:
                items.append(MessageItem(role="user", content=[InputTextPart(text=q["q"])]))
                plan = response_plan(session, ce.ResponseParams(), items)
                messages = await build_messages(plan.instructions, plan.items, {})
                request = LLMRequest(messages=messages, max_tokens=SPOKEN_MAX_TOKENS,
                                     temperature=plan.temperature, seed=seed)
                reply = await ask(llm, request, q, int(data["max_words"]))
                right += reply.correct
                parroted += openings.count(opening(reply.text)) >= 2
                openings.append(opening(reply.text))
                items.append(MessageItem(role="assistant",
                                         content=[OutputTextPart(text=reply.text)]))
            n = len(data["questions"])
            print(f"default/{name:10s} seed {seed}: {100 * right / n:5.1f} % right, "
                  f"{parroted} answers opening like two earlier ones", flush=True)


def configs_for(args: argparse.Namespace) -> list[tuple[str, str]]:
    if args.show:
        prompt, _, sampling = args.show.partition("/")
        if prompt not in PROMPTS or sampling not in SAMPLINGS:
            raise SystemExit(f"--show PROMPT/SAMPLING: prompts {list(PROMPTS)}, "
                             f"samplings {list(SAMPLINGS)}")
        return [(prompt, sampling)]
    if args.quick:
        return [OLD, NEW]
    if args.full:
        return [(p, s) for p in PROMPTS for s in SAMPLINGS]
    cross = [OLD] + [(p, NEW[1]) for p in PROMPTS] + [(NEW[0], s) for s in SAMPLINGS]
    return list(dict.fromkeys(cross))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="the old and the new default only")
    group.add_argument("--full", action="store_true", help="every prompt x every sampling")
    group.add_argument("--show", metavar="PROMPT/SAMPLING",
                       help="this one config, printing every reply")
    parser.add_argument("--open", action="store_true",
                        help="also count loops in answers to open-ended requests")
    parser.add_argument("--conversation", action="store_true",
                        help="the questions as one conversation, with and without the "
                        "opening penalty (instead of the sweep)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 1..N per config")
    parser.add_argument("--temperature", type=float, default=RealtimeSession().temperature,
                        help="the session's temperature (GA clients may set 0.6-1.2)")
    parser.add_argument("--json", type=Path, help="write every reply here")
    args = parser.parse_args()

    data = json.loads(DATA.read_text())
    seeds = tuple(range(1, args.seeds + 1))
    configs = configs_for(args)
    llm = LlamaLLM()
    llm.warmup()
    print(f"{len(data['questions'])} questions x {len(seeds)} seeds, session temperature "
          f"{args.temperature}, at most {data['max_words']} words; {llm.name}")
    if args.conversation:
        asyncio.run(conversation(llm, data, seeds, args.temperature))
        return
    print(HEADER)
    results = asyncio.run(sweep(llm, data, configs, seeds, args.temperature, args.open))
    if args.show:
        for r in results[0].replies + results[0].open_replies:
            verdict = "LOOP" if r.loop else "LONG" if r.long else "ok  " if r.correct else "--  "
            print(f"[{verdict}] s{r.seed} {r.question!r} -> {r.text!r}")
    if args.json:
        args.json.write_text(json.dumps([
            {"prompt": res.prompt, "sampling": res.sampling,
             "replies": [{"question": r.question, "seed": r.seed, "text": r.text,
                          "correct": r.correct, "loop": r.loop, "long": r.long,
                          "first_ms": round(r.first_ms), "total_ms": round(r.total_ms)}
                         for r in res.replies + res.open_replies]} for res in results],
            indent=1))


if __name__ == "__main__":
    main()
