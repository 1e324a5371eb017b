"""LLM through any OpenAI-compatible ``/chat/completions`` endpoint.

vLLM, Ollama, llama.cpp's server, LM Studio and OpenAI itself all speak this
streaming shape: Server-Sent Events whose ``data:`` lines carry
``chat.completion.chunk`` objects and a final ``data: [DONE]``. Tools are
passed natively in the chat-completions ``tools`` format.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from openrealtime.backends.base import (
    BackendError,
    Finished,
    LLMChunk,
    LLMRequest,
    TextDelta,
    ToolCallDelta,
)

_FINISH_REASONS = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
}


class RemoteLLM:
    """Streaming chat-completions client (``POST {base_url}/chat/completions``)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = f"{model} at {self.base_url}"
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)),
            transport=transport,
        )

    def count_tokens(self, text: str) -> int:
        """An estimate: about four characters per token for English text.

        The remote tokenizer is unknown here; this is only used for budgeting.
        """
        return (len(text) + 3) // 4

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        """Stream chunks; the last one is always :class:`Finished`."""
        payload = self._payload(request)
        finish: str | None = None
        usage: Mapping[str, Any] = {}
        try:
            async with self._client.stream("POST", "/chat/completions", json=payload) as response:
                await _raise_for_status(response)
                async for event in _sse_events(response):
                    usage = event.get("usage") or usage
                    for choice in event.get("choices") or ():
                        finish = choice.get("finish_reason") or finish
                        for chunk in _delta_chunks(choice.get("delta") or {}):
                            yield chunk
        except httpx.TimeoutException as exc:
            raise BackendError(
                f"LLM endpoint {self.base_url} timed out: {exc!r}", code="llm_timeout"
            ) from exc
        except httpx.HTTPError as exc:
            raise BackendError(
                f"cannot reach LLM endpoint {self.base_url}: {exc!r}", code="llm_unavailable"
            ) from exc
        yield _finished(finish, usage)

    def _payload(self, request: LLMRequest) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": request.messages,
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": request.temperature,
        }
        if request.max_tokens is not None:
            payload["max_tokens"] = request.max_tokens
        if request.tools:
            payload["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": tool.parameters or {"type": "object", "properties": {}},
                    },
                }
                for tool in request.tools
            ]
            payload["tool_choice"] = chat_tool_choice(request.tool_choice)
        return payload

    async def aclose(self) -> None:
        await self._client.aclose()


def chat_tool_choice(tool_choice: str | Mapping[str, Any]) -> str | dict[str, Any]:
    """Realtime ``{"type": "function", "name": n}`` -> chat ``{"type", "function": {"name"}}``."""
    if isinstance(tool_choice, str):
        return tool_choice
    if "function" in tool_choice:
        return dict(tool_choice)
    return {"type": "function", "function": {"name": tool_choice.get("name")}}


async def _raise_for_status(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    body = (await response.aread()).decode("utf-8", "replace")
    code = "llm_rate_limited" if response.status_code == 429 else "llm_http_error"
    raise BackendError(
        f"LLM endpoint answered HTTP {response.status_code} for {response.request.url}: {body[:500]}",
        code=code,
    )


async def _sse_events(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """The JSON objects of the ``data:`` lines, up to ``data: [DONE]``."""
    async for line in response.aiter_lines():
        if not line.startswith("data:"):
            continue  # blank separators, ": keep-alive" comments, "event:" lines
        data = line[len("data:") :].strip()
        if data == "[DONE]":
            return
        try:
            event = json.loads(data)
        except ValueError as exc:
            raise BackendError(
                f"LLM endpoint sent invalid JSON: {data[:200]}", code="llm_bad_response"
            ) from exc
        if isinstance(event, dict) and event.get("error"):
            raise BackendError(f"LLM endpoint error: {event['error']}", code="llm_error")
        if isinstance(event, dict):
            yield event


def _delta_chunks(delta: Mapping[str, Any]) -> list[LLMChunk]:
    chunks: list[LLMChunk] = []
    if delta.get("content"):
        chunks.append(TextDelta(str(delta["content"])))
    for call in delta.get("tool_calls") or ():
        function = call.get("function") or {}
        chunks.append(
            ToolCallDelta(
                index=int(call.get("index", 0)),
                arguments=function.get("arguments") or "",
                name=function.get("name"),
                call_id=call.get("id"),
            )
        )
    return chunks


def _finished(finish: str | None, usage: Mapping[str, Any]) -> Finished:
    details = usage.get("prompt_tokens_details") or {}
    return Finished(
        _FINISH_REASONS.get(finish or "stop", "stop"),  # type: ignore[arg-type]
        input_tokens=int(usage.get("prompt_tokens") or 0),
        output_tokens=int(usage.get("completion_tokens") or 0),
        cached_tokens=int(details.get("cached_tokens") or 0),
    )
