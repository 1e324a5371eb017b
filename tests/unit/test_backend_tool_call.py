"""Tool-call prompt, schema and streaming parser for the local LLM (no model needed)."""

from __future__ import annotations

import json

import pytest

from openrealtime.backends.base import BackendError, ToolSpec
from openrealtime.backends.local.llama import chat_messages
from openrealtime.backends.local.tool_call import (
    ToolCallParser,
    bounded,
    call_schema,
    chosen_tool_name,
    select_tools,
)

WEATHER = ToolSpec(
    "get_weather",
    "Weather for a city.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
TIME = ToolSpec("get_time", "Current time.")


def test_chosen_tool_name_accepts_realtime_and_chat_shapes() -> None:
    assert chosen_tool_name({"type": "function", "name": "get_time"}) == "get_time"
    assert chosen_tool_name({"type": "function", "function": {"name": "get_time"}}) == "get_time"
    assert chosen_tool_name("required") is None


def test_select_tools() -> None:
    assert select_tools([WEATHER, TIME], "none") == []
    assert select_tools([WEATHER, TIME], "auto") == [WEATHER, TIME]
    assert select_tools([WEATHER, TIME], {"type": "function", "name": "get_time"}) == [TIME]
    with pytest.raises(BackendError):
        select_tools([WEATHER], {"type": "function", "name": "nope"})


def test_call_schema_one_and_many() -> None:
    one = call_schema([WEATHER])
    assert one["properties"]["name"] == {"const": "get_weather"}
    # the tool's schema, with a cap on the free string for the grammar
    assert one["properties"]["arguments"] == bounded(WEATHER.parameters)
    assert one["properties"]["arguments"]["properties"]["city"]["maxLength"] == 200
    assert list(one["properties"]) == ["name", "arguments"]  # name is generated first
    many = call_schema([WEATHER, TIME])
    assert [v["properties"]["name"]["const"] for v in many["oneOf"]] == ["get_weather", "get_time"]
    assert many["oneOf"][1]["properties"]["arguments"] == {"type": "object"}


@pytest.mark.parametrize("split", [1, 2, 3, 7, 1000])
def test_parser_streams_arguments_in_any_split(split: int) -> None:
    output = '{ "name": "get_weather", "arguments": {"city": "Paris", "x": {"y": 1}} }'
    parser = ToolCallParser()
    names, pieces = [], []
    for start in range(0, len(output), split):
        name, piece = parser.feed(output[start : start + split])
        if name is not None:
            names.append(name)
        pieces.append(piece)
    pieces.append(parser.finish())
    assert names == ["get_weather"]
    arguments = "".join(pieces)
    assert json.loads(arguments) == {"city": "Paris", "x": {"y": 1}}
    assert parser.arguments == arguments


def test_parser_without_a_complete_name_yields_nothing() -> None:
    parser = ToolCallParser()
    assert parser.feed('{"name": "get_') == (None, "")
    assert parser.finish() == ""
    assert parser.name is None


def test_chat_messages_flatten_parts_tool_calls_and_add_tools_prompt() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Weather "},
                {"type": "text", "text": "in Paris?"},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
    ]
    asking = chat_messages(messages[:2], [WEATHER])
    assert asking[0]["role"] == "system"
    assert asking[0]["content"].startswith("Be brief.")
    assert "get_weather" in asking[0]["content"]
    assert asking[1] == {"role": "user", "content": "Weather in Paris?"}
    # An answered call is a plain exchange in words (SmolLM2 knows no tool role), and
    # the answer to it is asked for in words, without the tools prompt.
    flat = chat_messages(messages, [WEATHER])
    assert flat[0] == {"role": "system", "content": "Be brief."}
    assert flat[2] == {"role": "assistant", "content": "I used the tool get_weather."}
    assert flat[3] == {"role": "user", "content":
                       "get_weather returned sunny. Tell me this in a short sentence."}
    assert all(isinstance(m["content"], str) for m in flat)


def test_chat_messages_without_tools_is_unchanged_in_shape() -> None:
    flat = chat_messages([{"role": "user", "content": "Hi"}], [])
    assert flat == [{"role": "user", "content": "Hi"}]
