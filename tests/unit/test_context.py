"""Conversation items → LLM messages, and trimming to the context window."""

from __future__ import annotations

import asyncio
import itertools

from openrealtime.backends.tool_result import result_words
from openrealtime.protocol.items import (
    FunctionCallItem,
    FunctionCallOutputItem,
    InputAudioPart,
    MessageItem,
    OutputAudioPart,
)
from openrealtime.runtime.context import build_messages, fit_window, tool_result_fallback


def words(text: str) -> int:
    return len(text.split())


async def test_messages_from_items_wait_for_transcripts() -> None:
    future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    items = [
        MessageItem(id="u1", role="user", content=[InputAudioPart()]),
        MessageItem(id="a1", role="assistant", content=[OutputAudioPart(transcript="Paris.")]),
        FunctionCallItem(id="f1", call_id="c1", name="show_iss", arguments="{}"),
        FunctionCallOutputItem(id="o1", call_id="c1", output='{"lat": 1}'),
    ]
    task = asyncio.create_task(build_messages("Be brief.", items, {"u1": future}))
    await asyncio.sleep(0)
    assert not task.done()  # waits for the speculative transcript
    future.set_result("What is the capital of France?")
    messages = await task
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "assistant", "tool"]
    assert messages[1]["content"] == "What is the capital of France?"
    assert messages[3]["tool_calls"][0]["function"]["name"] == "show_iss"


def test_fit_window_drops_oldest_turns_keeps_system_and_latest() -> None:
    messages = [{"role": "system", "content": "sys " * 10}]
    for i in range(10):
        messages.append({"role": "user", "content": f"question {i} " + "w " * 20})
        messages.append({"role": "assistant", "content": f"answer {i} " + "w " * 20})
    fitted = fit_window(messages, words, budget=150)
    assert fitted[0]["role"] == "system"
    assert fitted[-1] == messages[-1]
    assert sum(words(m["content"]) + 4 for m in fitted) <= 150
    assert len(fitted) < len(messages)
    assert fitted[1:] == messages[len(messages) - len(fitted) + 1:]  # a suffix of the turns
    assert fit_window(messages, words, budget=10_000) == messages


def test_fit_window_keeps_the_same_start_for_many_turns() -> None:
    """Trimming in steps keeps the prompt's start (and the LLM's prompt cache) stable."""
    messages = [{"role": "system", "content": "sys"}]
    starts = []
    for i in range(60):
        messages.append({"role": "user", "content": f"question {i} " + "w " * 8})
        messages.append({"role": "assistant", "content": f"answer {i} " + "w " * 8})
        fitted = fit_window(messages, words, budget=300)
        assert sum(words(m["content"]) + 4 for m in fitted) <= 300
        starts.append(fitted[1]["content"])
    changes = sum(1 for a, b in itertools.pairwise(starts) if a != b)
    assert changes <= 60 // 5, f"the prompt's start moved {changes} times in 60 turns"


def test_fit_window_never_orphans_a_tool_result() -> None:
    call = {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}
    messages = [{"role": "system", "content": "s"},
                {"role": "user", "content": "w " * 50}, call,
                {"role": "tool", "tool_call_id": "c1", "content": "w " * 50},
                {"role": "user", "content": "latest"}]
    fitted = fit_window(messages, words, budget=60)
    assert [m["role"] for m in fitted] == ["system", "user"]
    assert fitted[-1]["content"] == "latest"


def output_item(output: str) -> FunctionCallOutputItem:
    return FunctionCallOutputItem(id="o1", call_id="c1", output=output)


def test_tool_result_fallback_says_the_output_briefly() -> None:
    question = MessageItem(id="u1", role="user", content=[InputAudioPart(transcript="ISS?")])
    assert tool_result_fallback([question]) is None  # not the answer to a tool's output
    assert tool_result_fallback([]) is None
    iss = output_item('{"latitude": 51.5, "longitude": -0.12, "over_sea": true}')
    assert tool_result_fallback([question, iss]) == (
        "The result is: latitude 51.5, longitude -0.12, over sea yes.")
    assert tool_result_fallback([output_item('{"ok": true}')]) == "Done."
    assert tool_result_fallback([output_item("")]) == "Done."
    assert tool_result_fallback([output_item("It is sunny")]) == "The result is: It is sunny."
    long = tool_result_fallback([output_item(" ".join(["word"] * 100))])
    assert long is not None and len(long.split()) <= 3 + 30 + 1


def test_result_words_render_json_without_braces() -> None:
    chart = '{"title": "Sizes", "points": [{"x": 1, "y": 2}, {"x": 2, "y": 5}], "meta": {}}'
    assert result_words(chart) == "title Sizes, points x 1, y 2; x 2, y 5, meta"
    assert result_words("[1, 2, 3]") == "1; 2; 3"
    assert result_words('"plain"') == "plain"
    assert result_words("null") == "nothing"
    deep = '{"a": {"b": {"c": {"d": 1}}}}'
    assert "{" not in result_words(deep)
