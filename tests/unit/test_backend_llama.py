"""LlamaLLM's text / tool-call control flow with a scripted completion (no model)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Generator
from typing import Any

import pytest

from openrealtime.backends.base import (
    BackendError,
    Finished,
    LLMRequest,
    TextDelta,
    ToolCallDelta,
    ToolSpec,
)
from openrealtime.backends.local.llama import LlamaLLM, _Run
from openrealtime.backends.priority import NORMAL, PRIORITY, URGENT, PriorityExecutor

TOOL = ToolSpec("get_time", "Time.", {"type": "object", "properties": {"tz": {"type": "string"}}})
CALL = ['{"name": "get_', 'time", "arguments": ', '{"tz": ', '"UTC"', "}", "}"]


class ScriptedLlama(LlamaLLM):
    """LlamaLLM with the model replaced by scripted completions."""

    def __init__(self, free: list[str]) -> None:  # no super(): no model to load
        self.free = free
        self.grammars: list[Any] = []

    def _prompt_tokens(self, run: _Run) -> list[int]:
        return [1, 2, 3]

    def _grammar(self, tools: Any) -> Any:
        return "tool-grammar"

    def _completion(self, run: _Run, grammar: Any) -> Generator[tuple[str, str | None], None, None]:
        self.grammars.append(grammar)
        pieces = CALL if grammar else self.free
        for piece in pieces:
            yield piece, None
        yield "", "stop"

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def generate(llm: ScriptedLlama, request: LLMRequest) -> list[Any]:
    items: list[Any] = []
    llm._generating = threading.Event()
    llm._generate(_Run(request, items.append, threading.Event()))
    assert items.pop() is not None  # the end sentinel
    return items


def request(tool_choice: Any, tools: tuple[ToolSpec, ...] = (TOOL,)) -> LLMRequest:
    return LLMRequest([{"role": "user", "content": "time?"}], tools=tools, tool_choice=tool_choice)


def test_plain_text_streams_then_finished() -> None:
    llm = ScriptedLlama(["Hello", " there"])
    items = generate(llm, request("auto", tools=()))
    assert items == [TextDelta("Hello"), TextDelta(" there"), Finished("stop", 3, 2)]
    assert llm.grammars == [None]


def test_auto_with_text_answer_keeps_the_text() -> None:
    llm = ScriptedLlama([" ", "It is", " noon"])
    items = generate(llm, request("auto"))
    assert "".join(i.text for i in items if isinstance(i, TextDelta)) == " It is noon"
    assert items[-1].reason == "stop"
    assert llm.grammars == [None]


def test_auto_switches_to_the_grammar_when_the_answer_opens_a_brace() -> None:
    llm = ScriptedLlama([" ", '{"', "name"])
    items = generate(llm, request("auto"))
    assert llm.grammars == [None, "tool-grammar"]
    assert not any(isinstance(i, TextDelta) for i in items)
    deltas = [i for i in items if isinstance(i, ToolCallDelta)]
    assert deltas[0].name == "get_time" and deltas[0].call_id.startswith("call_")
    assert json.loads("".join(d.arguments for d in deltas)) == {"tz": "UTC"}
    assert items[-1] == Finished("tool_calls", 3, items[-1].output_tokens)


def test_required_uses_the_grammar_from_the_start() -> None:
    llm = ScriptedLlama(["never used"])
    items = generate(llm, request("required"))
    assert llm.grammars == ["tool-grammar"]
    assert items[-1].reason == "tool_calls"


def test_none_ignores_the_tools() -> None:
    llm = ScriptedLlama(['{"a": 1}'])
    items = generate(llm, request("none"))
    assert items[0] == TextDelta('{"a": 1}')
    assert llm.grammars == [None]


def test_errors_are_handed_over_not_raised_in_the_worker() -> None:
    llm = ScriptedLlama([])
    items = generate(llm, request({"type": "function", "name": "unknown"}))
    assert len(items) == 1 and items[0].code == "invalid_tool_choice"


class RecordingModel:
    """Stands in for ``llama_cpp.Llama``: records what each completion was asked."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def create_completion(self, **kwargs: Any) -> Generator[dict[str, Any], None, None]:
        self.calls.append(kwargs)
        yield {"choices": [{"text": "Paris.", "finish_reason": "stop"}]}


def test_the_bundled_model_samples_the_session_temperature_scaled_down() -> None:
    from pathlib import Path
    from types import SimpleNamespace

    from openrealtime.backends.local.llama import (
        MODEL_FILE,
        PLAIN_SAMPLING,
        TINY_SAMPLING,
        sampling_for,
    )

    assert sampling_for(Path("/x") / MODEL_FILE) == TINY_SAMPLING
    assert sampling_for(Path("/models/qwen2.5-3b-instruct-q4_k_m.gguf")) == PLAIN_SAMPLING
    llm = LlamaLLM.__new__(LlamaLLM)  # no model to load
    llm._llm = model = RecordingModel()
    llm.sampling = TINY_SAMPLING
    for grammar in (None, "tool-grammar"):
        run = _Run(LLMRequest([], temperature=0.8, seed=3), lambda _: None, threading.Event())
        run.formatted = SimpleNamespace(stop=[], stopping_criteria=None)
        assert list(llm._completion(run, grammar)) == [("Paris.", "stop")]
    free, tool = model.calls
    assert free["temperature"] == tool["temperature"] == 0.1  # 0.8 / 8
    assert free["repeat_penalty"] == 1.1 and tool["repeat_penalty"] == 1.0  # JSON repeats
    assert free["seed"] == 3 and free["top_k"] == 40 and free["min_p"] == 0.05


def test_the_opening_penalty_weighs_down_only_how_earlier_answers_began() -> None:
    import numpy as np

    from openrealtime.backends.local.llama import OPENING_TOKENS, OpeningPenalty, assistant_texts

    messages = [{"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Q1"}, {"role": "assistant", "content": "A1"},
                {"role": "user", "content": "Q2"}, {"role": "assistant", "content": " "},
                {"role": "user", "content": "Q3"}]
    assert assistant_texts(messages) == ["A1"]  # (nothing to weigh down in an empty one)
    prompt = [9, 9, 9]
    penalty = OpeningPenalty([[1, 2, 3, 4, 5], [1, 2, 6], [7]], len(prompt), 2.0)
    # first token: 1 opened two answers, 7 one
    scores = penalty(np.array(prompt), np.zeros(10, np.float32))
    assert scores[1] == -4.0 and scores[7] == -2.0 and scores[[0, 2, 3, 8]].sum() == 0
    # after 1, 2: either earlier continuation, once each
    scores = penalty(np.array([*prompt, 1, 2]), np.zeros(10, np.float32))
    assert scores[3] == scores[6] == -2.0 and scores.sum() == -4.0
    # a different start, or past the opening: nothing
    assert penalty(np.array([*prompt, 8]), np.zeros(10, np.float32)).sum() == 0
    made = prompt + [1, 2, 3, 4][:OPENING_TOKENS]
    assert penalty(np.array(made), np.zeros(10, np.float32)).sum() == 0


def test_the_opening_penalty_reaches_llama_cpp_for_free_text_after_an_answer() -> None:
    from types import SimpleNamespace

    from openrealtime.backends.local.llama import TINY_SAMPLING

    llm = LlamaLLM.__new__(LlamaLLM)
    llm._llm = model = RecordingModel()
    model.tokenize = lambda text, add_bos=False: list(text)  # type: ignore[attr-defined]
    llm.sampling = TINY_SAMPLING
    history = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."},
               {"role": "user", "content": "Again"}]
    for messages, grammar in ((history, None), (history, "tool-grammar"), (history[:1], None)):
        run = _Run(LLMRequest(messages), lambda _: None, threading.Event())
        run.formatted = SimpleNamespace(stop=[], stopping_criteria=None)
        list(llm._completion(run, grammar))
    first, tool, no_history = (call["logits_processor"] for call in model.calls)
    assert first is not None and tool is None and no_history is None


class SharedLlama(ScriptedLlama):
    """Two sessions' answers on one scripted model behind the real priority executor.
    Each completion reads the user's message: ``A`` answers ``a_words`` words and pauses
    after its third until ``B`` waits (and, with ``c_waits`` cleared, before its first word
    of a resumed run until ``C`` waits); ``B`` answers two words, after ``b_gate`` opens, and
    ``C`` two more."""

    def __init__(self) -> None:
        super().__init__([])
        self._executor = PriorityExecutor("test-llama")
        self._generating = threading.Event()
        self.a_busy, self.b_waits, self.b_gate = (threading.Event() for _ in range(3))
        self.a_resumed, self.c_waits = threading.Event(), threading.Event()
        self.b_gate.set()
        self.c_waits.set()
        self.resumed_from: list[str] = []
        self.a_words = 10
        self.made: list[str] = []  # the pieces in the order the model made them

    def _completion(self, run: _Run, grammar: Any) -> Generator[tuple[str, str | None], None, None]:
        if run.request.messages[-1]["content"] == "B":
            self.b_gate.wait(5)
            self.made += [" b1", " b2"]
            yield from ((" b1", None), (" b2", None), ("", "stop"))
            return
        if run.request.messages[-1]["content"] == "C":
            self.made += [" c1", " c2"]
            yield from ((" c1", None), (" c2", None), ("", "stop"))
            return
        resumed = run.said
        if resumed:
            self.resumed_from.append(resumed)
        words = [f" a{i}" for i in range(1, self.a_words + 1)]
        for index, word in enumerate(words[len(resumed.split()):]):
            if index == 3 and not resumed:
                self.a_busy.set()
                assert self.b_waits.wait(5)
            if index == 0 and resumed and not self.c_waits.is_set():
                self.a_resumed.set()
                assert self.c_waits.wait(5)
            self.made.append(word)
            yield word, None
        yield "", "stop"


async def consume(llm: LlamaLLM, who: str, log: list[tuple[str, Any]],
                  level: int = URGENT, pause: asyncio.Event | None = None,
                  pause_after: int = 6) -> None:
    """Read ``who``'s answer into ``log``; with ``pause``, stop reading after
    ``pause_after`` of its deltas until it is set (a listener with enough to play: the
    answer gets ahead of it)."""
    PRIORITY.set(level)  # (this task's own context)
    read = 0
    async for item in llm.stream(LLMRequest([{"role": "user", "content": who}])):
        log.append((who, item))
        read += 1
        if pause is not None and read == pause_after:
            await pause.wait()


async def wait_for(condition: Any) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")


def a_words(first: int, last: int) -> list[str]:
    return [f" a{i}" for i in range(first, last + 1)]


async def start_b_while_a_runs(llm: SharedLlama, log: list[tuple[str, Any]],
                               a_pause: asyncio.Event | None = None, b_level: int = URGENT,
                               ) -> tuple[asyncio.Task[None], asyncio.Task[None]]:
    """A answers; B asks once A has said three words. With ``a_pause``, A's listener
    stops reading after six deltas until it is set (A runs ahead of it)."""
    a = asyncio.create_task(consume(llm, "A", log, pause=a_pause))
    await wait_for(llm.a_busy.is_set)
    b = asyncio.create_task(consume(llm, "B", log, level=b_level))
    await wait_for(lambda: llm._executor.waiting() > 0)
    llm.b_waits.set()
    return a, b


def gave_way(llm: SharedLlama) -> bool:
    """A has given way: its rest waits (at its later level) behind B, who holds the model."""
    return llm._executor.most_urgent_waiting() == NORMAL and len(llm.made) >= 25


@pytest.mark.parametrize("b_level", [URGENT, NORMAL], ids=["first-words", "a-rest"])
async def test_a_long_answer_ahead_of_its_listener_gives_way(b_level: int) -> None:
    llm, log = SharedLlama(), []
    llm.a_words = 40
    b_done = asyncio.Event()
    a, b = await start_b_while_a_runs(llm, log, a_pause=b_done, b_level=b_level)
    b.add_done_callback(lambda _: b_done.set())
    await asyncio.gather(a, b)
    # A runs on past its listener (it is wanted elsewhere) but gives way only once it is
    # a long answer: all of B, then A's rest, resumed from what it had said
    assert llm.made == [*a_words(1, 25), " b1", " b2", *a_words(26, 40)]
    assert llm.resumed_from == ["".join(a_words(1, 25))]
    assert "".join(i.text for who, i in log if who == "A" and isinstance(i, TextDelta)) \
        == "".join(a_words(1, 40))
    a_end = [i for who, i in log if who == "A"][-1]
    assert a_end.reason == "stop" and a_end.output_tokens == 40
    await llm.aclose()


async def test_an_answer_its_listener_is_waiting_for_keeps_the_model() -> None:
    llm, log = SharedLlama(), []
    llm.a_words = 40
    await asyncio.gather(*await start_b_while_a_runs(llm, log))  # (A's listener reads)
    assert llm.made == [*a_words(1, 40), " b1", " b2"] and not llm.resumed_from
    await llm.aclose()


async def test_a_short_answer_keeps_the_model() -> None:
    llm, log = SharedLlama(), []
    b_done = asyncio.Event()
    a, b = await start_b_while_a_runs(llm, log, a_pause=b_done)  # (ten words)
    b.add_done_callback(lambda _: b_done.set())
    await asyncio.gather(a, b)
    assert llm.made == [*a_words(1, 10), " b1", " b2"] and not llm.resumed_from
    await llm.aclose()


async def test_a_resumed_rest_gives_way_again_after_eight_more_words() -> None:
    llm, log = SharedLlama(), []
    llm.a_words = 60
    llm.c_waits.clear()
    others_done = asyncio.Event()
    a, b = await start_b_while_a_runs(llm, log, a_pause=others_done)
    await wait_for(llm.a_resumed.is_set)
    c = asyncio.create_task(consume(llm, "C", log, level=NORMAL))
    await wait_for(lambda: llm._executor.waiting() > 0)
    llm.c_waits.set()
    c.add_done_callback(lambda _: others_done.set())
    await asyncio.gather(a, b, c)
    assert llm.made == [*a_words(1, 25), " b1", " b2", *a_words(26, 34), " c1", " c2",
                        *a_words(35, 60)]
    await llm.aclose()


async def a_waiting_to_resume(llm: SharedLlama, a_listener: asyncio.Event,
                              ) -> tuple[asyncio.Task[None], asyncio.Task[None]]:
    """A (a long answer, its listener stopped until ``a_listener``) has given way, and
    its rest waits behind B, who holds the model until ``b_gate`` opens."""
    llm.a_words = 40
    llm.b_gate.clear()
    a, b = await start_b_while_a_runs(llm, [], a_pause=a_listener)
    await wait_for(lambda: gave_way(llm))
    return a, b


async def test_a_closed_answer_waiting_to_resume_is_dropped_without_waiting() -> None:
    llm = SharedLlama()
    a, b = await a_waiting_to_resume(llm, asyncio.Event())
    a.cancel()
    done, _ = await asyncio.wait([a], timeout=2)
    assert done and not b.done() and not llm.resumed_from
    llm.b_gate.set()
    await b
    await llm.aclose()


async def test_shutdown_with_an_answer_waiting_to_resume_ends_that_answer_with_an_error() -> None:
    llm, a_listener = SharedLlama(), asyncio.Event()
    a, b = await a_waiting_to_resume(llm, a_listener)
    a_listener.set()
    await llm.aclose()  # drops A's queued rest
    with pytest.raises(BackendError, match="shut down"):
        await asyncio.wait_for(a, 2)
    llm.b_gate.set()
    await b
