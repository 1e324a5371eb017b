"""LlamaLLM's text / tool-call control flow with a scripted completion (no model)."""

from __future__ import annotations

import json
import threading
from collections.abc import Generator
from typing import Any

from openrealtime.backends.base import Finished, LLMRequest, TextDelta, ToolCallDelta, ToolSpec
from openrealtime.backends.local.llama import LlamaLLM, _Run

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
