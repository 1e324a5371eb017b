"""RemoteLLM against httpx.MockTransport: SSE parsing, tools, usage and errors."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from openrealtime.backends.base import (
    LLM,
    BackendError,
    Finished,
    LLMRequest,
    TextDelta,
    ToolCallDelta,
    ToolSpec,
)
from openrealtime.backends.remote.openai_llm import RemoteLLM, chat_tool_choice


def sse(*events: dict[str, Any] | str) -> bytes:
    lines = [": keep-alive\n\n"]
    for event in events:
        data = event if isinstance(event, str) else json.dumps(event)
        lines.append(f"data: {data}\n\n")
    return "".join(lines).encode()


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


async def collect(llm: RemoteLLM, request: LLMRequest) -> list[Any]:
    return [item async for item in llm.stream(request)]


def make_llm(handler: Any, **kwargs: Any) -> RemoteLLM:
    return RemoteLLM("http://llm.test/v1", "m", transport=httpx.MockTransport(handler), **kwargs)


async def test_streams_text_and_usage_and_sends_the_request() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = sse(
            chunk({"role": "assistant"}),
            chunk({"content": "Hel"}),
            chunk({"content": "lo"}),
            chunk({}, "stop"),
            {
                "choices": [],
                "usage": {
                    "prompt_tokens": 12,
                    "completion_tokens": 2,
                    "prompt_tokens_details": {"cached_tokens": 8},
                },
            },
            "[DONE]",
        )
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    llm = make_llm(handler, api_key="sk-test")
    assert isinstance(llm, LLM)
    items = await collect(llm, LLMRequest([{"role": "user", "content": "Hi"}], max_tokens=5))
    await llm.aclose()
    assert items == [TextDelta("Hel"), TextDelta("lo"), Finished("stop", 12, 2, 8)]
    request = seen[0]
    assert str(request.url) == "http://llm.test/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    payload = json.loads(request.content)
    assert payload["stream"] is True and payload["max_tokens"] == 5
    assert payload["stream_options"] == {"include_usage": True}
    assert "tools" not in payload


async def test_tool_calls_are_passed_natively_and_streamed_back() -> None:
    payloads: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        payloads.append(json.loads(request.content))
        call = {
            "index": 0,
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_time", "arguments": ""},
        }
        body = sse(
            chunk({"tool_calls": [call]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"tz": '}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"UTC"}'}}]}),
            chunk({}, "tool_calls"),
            "[DONE]",
        )
        return httpx.Response(200, content=body)

    llm = make_llm(handler)
    tool = ToolSpec(
        "get_time", "Time.", {"type": "object", "properties": {"tz": {"type": "string"}}}
    )
    request = LLMRequest(
        [{"role": "user", "content": "time?"}],
        tools=[tool],
        tool_choice={"type": "function", "name": "get_time"},
    )
    items = await collect(llm, request)
    await llm.aclose()
    assert items[0] == ToolCallDelta(0, "", name="get_time", call_id="call_1")
    assert "".join(i.arguments for i in items if isinstance(i, ToolCallDelta)) == '{"tz": "UTC"}'
    assert items[-1] == Finished("tool_calls")  # no usage sent: zeros
    assert payloads[0]["tools"][0] == {
        "type": "function",
        "function": {"name": "get_time", "description": "Time.", "parameters": tool.parameters},
    }
    assert payloads[0]["tool_choice"] == {"type": "function", "function": {"name": "get_time"}}


async def test_reasoning_effort_and_parallel_tool_calls_reach_the_server() -> None:
    payloads: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        payloads.append(json.loads(request.content))
        return httpx.Response(200, content=sse(chunk({"content": "ok"}, "stop"), "[DONE]"))

    llm = make_llm(handler)
    tool = ToolSpec("f", "F.", {"type": "object", "properties": {}})
    plain = LLMRequest([{"role": "user", "content": "hi"}])
    given = LLMRequest([{"role": "user", "content": "hi"}], tools=[tool],
                       reasoning_effort="low", parallel_tool_calls=False)
    await collect(llm, plain)
    await collect(llm, given)
    await llm.aclose()
    assert "reasoning_effort" not in payloads[0] and "parallel_tool_calls" not in payloads[0]
    assert payloads[1]["reasoning_effort"] == "low"
    assert payloads[1]["parallel_tool_calls"] is False


def test_chat_tool_choice_shapes() -> None:
    assert chat_tool_choice("auto") == "auto"
    assert chat_tool_choice({"type": "function", "function": {"name": "f"}}) == {
        "type": "function",
        "function": {"name": "f"},
    }


async def test_http_error_becomes_backend_error_with_body() -> None:
    llm = make_llm(
        lambda request: httpx.Response(404, json={"error": {"message": "no such model"}})
    )
    with pytest.raises(BackendError, match=r"HTTP 404.*no such model") as info:
        await collect(llm, LLMRequest([{"role": "user", "content": "Hi"}]))
    await llm.aclose()
    assert info.value.code == "llm_http_error"


async def test_connection_error_becomes_backend_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    llm = make_llm(handler)
    with pytest.raises(BackendError, match="cannot reach") as info:
        await collect(llm, LLMRequest([{"role": "user", "content": "Hi"}]))
    await llm.aclose()
    assert info.value.code == "llm_unavailable"


async def test_error_event_in_stream_becomes_backend_error() -> None:
    llm = make_llm(
        lambda request: httpx.Response(200, content=sse({"error": {"message": "overloaded"}}))
    )
    with pytest.raises(BackendError, match="overloaded"):
        await collect(llm, LLMRequest([{"role": "user", "content": "Hi"}]))
    await llm.aclose()


def test_count_tokens_is_a_four_chars_per_token_estimate() -> None:
    llm = RemoteLLM("http://llm.test/v1", "m")
    assert llm.count_tokens("") == 0
    assert llm.count_tokens("abcd" * 10) == 10


async def failing(body: bytes, content_type: str | None = None) -> BackendError:
    headers = {"content-type": content_type} if content_type else {}
    llm = make_llm(lambda request: httpx.Response(200, content=body, headers=headers))
    with pytest.raises(BackendError) as info:
        await collect(llm, LLMRequest([{"role": "user", "content": "Hi"}]))
    await llm.aclose()
    return info.value


async def test_done_without_a_finish_reason_is_a_cut_answer() -> None:
    """llama_cpp.server ends a request this way when another one arrives."""
    error = await failing(sse(chunk({"content": "Paris"}), "[DONE]"))
    assert error.code == "llm_stream_truncated"
    assert "[DONE] without a finish_reason after 1 data events" in error.message
    assert "--interrupt_requests False" in error.message


async def test_a_stream_without_done_or_finish_reason_is_truncated() -> None:
    error = await failing(sse(chunk({"content": "Paris"}), chunk({"content": " is"})))
    assert error.code == "llm_stream_truncated"
    assert "ended without [DONE] or finish_reason after 2 data events" in error.message


async def test_crlf_lines_empty_data_and_a_text_plain_label_are_accepted() -> None:
    body = sse(chunk({"content": "Hi"}), "", chunk({}, "stop"), "[DONE]").replace(b"\n", b"\r\n")
    llm = make_llm(
        lambda request: httpx.Response(200, content=body, headers={"content-type": "text/plain"})
    )
    assert await collect(llm, LLMRequest([])) == [TextDelta("Hi"), Finished("stop")]
    await llm.aclose()


@pytest.mark.parametrize(
    ("body", "content_type", "code", "fragment"),
    [
        (
            b"<html>oops</html>",
            "text/html",
            "llm_bad_response",
            "content-type 'text/html', not an event stream; the body starts with b'<html>oops",
        ),
        (b"", None, "llm_bad_response", "content-type '(none)'"),
        (b'{"error": "no GPU left"}', "application/json", "llm_error", "error: no GPU left"),
        (b"data: [1, 2]\n\n", None, "llm_bad_response", "non-object event: [1, 2]"),
        (b"data: " + b"x" * (2 * 1024 * 1024), None, "llm_bad_response", "longer than"),
    ],
)
async def test_bodies_that_are_not_chat_chunk_streams_fail_clearly(
    body: bytes, content_type: str | None, code: str, fragment: str
) -> None:
    error = await failing(body, content_type)
    assert error.code == code
    assert fragment in error.message


def test_deadlines_must_be_positive_and_timeout_s_is_the_total() -> None:
    with pytest.raises(ValueError, match="idle_timeout_s must be > 0"):
        RemoteLLM("http://llm.test/v1", "m", idle_timeout_s=0)
    assert RemoteLLM("http://llm.test/v1", "m", timeout_s=7).limits.total_s == 7
    assert RemoteLLM("http://llm.test/v1", "m").limits.total_s == 120


async def test_a_last_line_without_a_newline_is_still_read() -> None:
    body = (
        sse(chunk({"content": "Hi"}))
        + b'data: {"choices": [{"delta": {}, "finish_reason": "stop"}]}'
    )
    llm = make_llm(lambda request: httpx.Response(200, content=body))
    assert await collect(llm, LLMRequest([])) == [TextDelta("Hi"), Finished("stop")]
    await llm.aclose()


async def test_the_session_temperature_reaches_the_server_unchanged() -> None:
    """The local model's temperature mapping (llama.py's Sampling) is its own."""
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, content=sse(chunk({"content": "Hi"}, "stop"), "[DONE]"))

    llm = make_llm(handler)
    await collect(llm, LLMRequest([{"role": "user", "content": "Hi"}], temperature=0.6))
    await llm.aclose()
    assert seen[0]["temperature"] == 0.6
