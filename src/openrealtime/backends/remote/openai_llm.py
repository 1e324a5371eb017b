"""LLM through any OpenAI-compatible ``/chat/completions`` endpoint.

vLLM, Ollama, llama.cpp's server, LM Studio and OpenAI itself all speak this
streaming shape: Server-Sent Events whose ``data:`` lines carry
``chat.completion.chunk`` objects and a final ``data: [DONE]``. Tools are
passed natively in the chat-completions ``tools`` format.

A remote endpoint can misbehave in ways httpx's per-read timeouts do not see: a
token every few seconds, keep-alive comments and nothing else, a clean close in the
middle of an answer, an HTML error page with HTTP 200. Each of these ends the
response with a :class:`BackendError` whose ``code`` names what happened:

====================================  ==================================================
``llm_timeout_connect``               no TCP connection within ``connect_timeout_s``
``llm_timeout_first_token``           no content, tool call or finish within
                                      ``first_token_timeout_s`` (headers included)
``llm_timeout_idle``                  no ``data:`` event for ``idle_timeout_s`` after the
                                      first token (keep-alive comments do not count)
``llm_timeout_total``                 the response took longer than ``total_timeout_s``
``llm_stream_truncated``              the stream ended or broke without a
                                      ``finish_reason`` (with or without ``[DONE]``)
``llm_bad_response``                  not an event stream, invalid JSON, an oversized line
``llm_error``                         an ``{"error": ...}`` object, in the stream or as
                                      the whole HTTP 200 body
``llm_http_error``/``llm_rate_limited``  HTTP 4xx/5xx (429)
``llm_unavailable``                   connection refused, DNS, reset before the headers
====================================  ==================================================
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Mapping
from typing import Any, TypeVar

import httpx

from openrealtime.backends.base import (
    BackendError,
    Finished,
    LLMChunk,
    LLMRequest,
    TextDelta,
    ToolCallDelta,
)

_T = TypeVar("_T")

_FINISH_REASONS = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
}
# One SSE line carries one small JSON chunk; a longer "line" is a body that is not a
# stream (or a hostile one) and would otherwise grow the buffer without bound.
MAX_LINE_BYTES = 1024 * 1024
# How much of a non-stream body goes into the error message (and is parsed as JSON).
_BODY_EXCERPT_BYTES = 4096
_SSE_FIELDS = (b"data:", b":", b"event:", b"id:", b"retry:")


class RemoteLLM:
    """Streaming chat-completions client (``POST {base_url}/chat/completions``).

    Deadlines (seconds, all > 0) are enforced by this class (``asyncio.timeout``) around
    every wait for bytes, not by httpx's per-read timeouts, so a slow drip is caught as
    surely as a silent socket:

    - ``connect_timeout_s``: establishing the TCP (and TLS) connection.
    - ``first_token_timeout_s``: from sending the request to the first content delta,
      tool-call delta or ``finish_reason`` (response headers and role-only chunks
      included). Generous by default: a cold remote model may load or process a long
      prompt first.
    - ``idle_timeout_s``: the longest gap between two ``data:`` events after the first
      token. SSE comments (``: keep-alive``) are not progress and do not reset it.
    - ``total_timeout_s``: the whole response. ``timeout_s`` is its older name and,
      when given, wins.

    Time counts only while this client waits on the endpoint: while the consumer holds
    the stream (a spoken answer pauses the LLM through backpressure until the client
    has heard the first clause) the endpoint is not late, so that time is not charged.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        connect_timeout_s: float = 5.0,
        first_token_timeout_s: float = 30.0,
        idle_timeout_s: float = 10.0,
        total_timeout_s: float = 120.0,
        timeout_s: float | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if timeout_s is not None:
            total_timeout_s = timeout_s
        self.limits = _Limits(
            connect_timeout_s, first_token_timeout_s, idle_timeout_s, total_timeout_s
        )
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = f"{model} at {self.base_url}"
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            # Reads are bounded by _Watch; httpx's read timeout is only a backstop.
            timeout=httpx.Timeout(
                total_timeout_s, connect=connect_timeout_s, pool=connect_timeout_s
            ),
            transport=transport,
        )

    def count_tokens(self, text: str) -> int:
        """An estimate: about four characters per token for English text.

        The remote tokenizer is unknown here; this is only used for budgeting.
        """
        return (len(text) + 3) // 4

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        """Stream chunks; the last one is always :class:`Finished`.

        Raises :class:`BackendError` (codes in the module docstring). Closing the
        iterator early (``aclosing``, a cancelled response) closes the HTTP stream.
        """
        watch = _Watch(self.limits, self.base_url)
        response = await self._open(request, watch)
        try:
            reader = _LineReader(response.aiter_bytes())
            await _check_is_event_stream(response, reader, watch)
            async for chunk in _chunks(reader, watch):
                yield chunk
        except httpx.HTTPError as exc:  # the body broke after the headers
            raise BackendError(
                f"LLM stream from {self.base_url} broke after {watch.events} data events: {exc!r}",
                code="llm_stream_truncated",
            ) from exc
        finally:
            await response.aclose()

    async def _open(self, request: LLMRequest, watch: _Watch) -> httpx.Response:
        """Send the request and wait for the headers of a successful answer."""
        http_request = self._client.build_request(
            "POST", "/chat/completions", json=self._payload(request)
        )
        try:
            response = await watch.wait(
                self._client.send(http_request, stream=True), "waiting for response headers"
            )
        except (httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise BackendError(
                f"cannot connect to LLM endpoint {self.base_url} within connect_timeout_s="
                f"{self.limits.connect_s:g} s: {exc!r}",
                code="llm_timeout_connect",
            ) from exc
        except httpx.TimeoutException as exc:
            raise BackendError(
                f"LLM endpoint {self.base_url} timed out: {exc!r}", code="llm_timeout"
            ) from exc
        except httpx.HTTPError as exc:
            raise BackendError(
                f"cannot reach LLM endpoint {self.base_url}: {exc!r}", code="llm_unavailable"
            ) from exc
        try:
            await _raise_for_status(response, watch)
        except BaseException:
            await response.aclose()
            raise
        return response

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
            if request.parallel_tool_calls is not None:
                payload["parallel_tool_calls"] = request.parallel_tool_calls
        if request.reasoning_effort is not None:
            payload["reasoning_effort"] = request.reasoning_effort
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


class _Limits:
    """The four deadlines of :class:`RemoteLLM`, validated once."""

    __slots__ = ("connect_s", "first_token_s", "idle_s", "total_s")

    def __init__(
        self, connect_s: float, first_token_s: float, idle_s: float, total_s: float
    ) -> None:
        for name, value in (
            ("connect_timeout_s", connect_s),
            ("first_token_timeout_s", first_token_s),
            ("idle_timeout_s", idle_s),
            ("total_timeout_s", total_s),
        ):
            if not value > 0:
                raise ValueError(f"{name} must be > 0, got {value!r}")
        self.connect_s, self.first_token_s = connect_s, first_token_s
        self.idle_s, self.total_s = idle_s, total_s


class _Watch:
    """The deadlines of one response, charged only for time spent waiting on the endpoint."""

    def __init__(self, limits: _Limits, base_url: str) -> None:
        self.limits = limits
        self.base_url = base_url
        self.events = 0  # data events received
        self.first_output = False
        self._waited_s = 0.0  # in total
        self._quiet_s = 0.0  # since the last data event

    def on_event(self, produced_output: bool) -> None:
        """A ``data:`` event arrived (comments do not come here)."""
        self.events += 1
        self._quiet_s = 0.0
        self.first_output = self.first_output or produced_output

    async def wait(self, awaitable: Awaitable[_T], stage: str) -> _T:
        """Await one read from the endpoint under whichever deadline comes first."""
        name, limit, left = self._next_deadline()
        loop = asyncio.get_running_loop()
        started = loop.time()
        timeout = asyncio.timeout(left)
        try:
            async with timeout:
                return await awaitable
        except TimeoutError:
            if not timeout.expired():
                raise
            raise self._expired(name, limit, stage) from None
        finally:
            spent = loop.time() - started
            self._waited_s += spent
            self._quiet_s += spent

    def _next_deadline(self) -> tuple[str, float, float]:
        limits = self.limits
        if self.first_output:
            phase = ("idle", limits.idle_s, limits.idle_s - self._quiet_s)
        else:
            phase = ("first_token", limits.first_token_s, limits.first_token_s - self._waited_s)
        total = ("total", limits.total_s, limits.total_s - self._waited_s)
        return min(phase, total, key=lambda deadline: deadline[2])

    def _expired(self, name: str, limit: float, stage: str) -> BackendError:
        where = f"LLM endpoint {self.base_url}"
        if name == "first_token":
            message = f"{where} sent no token within first_token_timeout_s={limit:g} s"
        elif name == "idle":
            message = (
                f"{where} sent no data for idle_timeout_s={limit:g} s "
                "(keep-alive comments do not count)"
            )
        else:
            message = f"{where} did not finish within total_timeout_s={limit:g} s"
        return BackendError(
            f"{message} ({stage}; {self.events} data events so far)", code=f"llm_timeout_{name}"
        )


class _LineReader:
    """Lines of a byte stream (LF or CRLF), each at most :data:`MAX_LINE_BYTES`."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = bytearray()
        self._start = 0  # consumed prefix of _buffer, dropped on the next fill
        self._eof = False

    @property
    def at_end(self) -> bool:
        """The body ended and every line was taken."""
        return self._eof and self._start == len(self._buffer)

    def take(self) -> str | None:
        """The next complete line without its terminator; ``None``: :meth:`fill` first.

        Synchronous, so lines already received cost no deadline bookkeeping: only
        :meth:`fill`, the one place that waits on the endpoint, is watched.
        """
        end = self._buffer.find(b"\n", self._start)
        if end < 0:
            if not self._eof or self.at_end:
                return None
            end = len(self._buffer)  # a last line without a terminator
        line = self._buffer[self._start : end]
        self._start = min(end + 1, len(self._buffer))
        return line.rstrip(b"\r").decode("utf-8", "replace")

    async def peek(self, num_bytes: int, *, until_line: bool) -> bytes:
        """Unconsumed bytes, reading until ``num_bytes`` (or one non-blank line) are there."""
        while not self._eof:
            pending = self._buffer[self._start :]
            if len(pending) >= num_bytes or (until_line and b"\n" in pending.lstrip()):
                break
            await self.fill()
        return bytes(self._buffer[self._start : self._start + num_bytes])

    async def fill(self) -> None:
        """Read the next piece of the body."""
        if len(self._buffer) - self._start > MAX_LINE_BYTES:
            raise BackendError(
                f"LLM endpoint sent a line longer than {MAX_LINE_BYTES} bytes",
                code="llm_bad_response",
            )
        del self._buffer[: self._start]
        self._start = 0
        try:
            self._buffer += await anext(self._chunks)
        except StopAsyncIteration:
            self._eof = True


async def _raise_for_status(response: httpx.Response, watch: _Watch) -> None:
    if response.status_code < 400:
        return
    try:
        body = (
            await watch.wait(
                _LineReader(response.aiter_bytes()).peek(_BODY_EXCERPT_BYTES, until_line=False),
                "reading an error body",
            )
        ).decode("utf-8", "replace")
    except httpx.HTTPError as exc:  # the status alone says enough
        body = f"(body unreadable: {exc!r})"
    code = "llm_rate_limited" if response.status_code == 429 else "llm_http_error"
    raise BackendError(
        f"LLM endpoint answered HTTP {response.status_code} for {response.request.url}: "
        f"{body[:500]}",
        code=code,
    )


async def _check_is_event_stream(
    response: httpx.Response, reader: _LineReader, watch: _Watch
) -> None:
    """Refuse a body that is not Server-Sent Events, with its content type and first bytes.

    A missing or wrong content type alone is forgiven when the body reads as SSE:
    some servers (and proxies) label the stream ``text/plain`` or not at all.
    """
    content_type = response.headers.get("content-type", "")
    if "text/event-stream" in content_type.lower():
        return
    start = await watch.wait(reader.peek(64, until_line=True), "reading the first bytes")
    if start.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(_SSE_FIELDS):
        return
    body = await watch.wait(
        reader.peek(_BODY_EXCERPT_BYTES, until_line=False), "reading a non-stream body"
    )
    message = _error_message(body)
    if message is not None:
        raise BackendError(
            f"LLM endpoint {watch.base_url} answered with an error: {message}", code="llm_error"
        )
    raise BackendError(
        f"LLM endpoint {watch.base_url} answered HTTP {response.status_code} with "
        f"content-type {content_type or '(none)'!r}, not an event stream; "
        f"the body starts with {body[:200]!r}",
        code="llm_bad_response",
    )


def _error_message(body: bytes) -> str | None:
    """The message of an OpenAI-style ``{"error": ...}`` body, else ``None``."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    if not isinstance(document, dict) or not document.get("error"):
        return None
    error = document["error"]
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    return str(error)


async def _chunks(reader: _LineReader, watch: _Watch) -> AsyncIterator[LLMChunk]:
    """Our chunks from the ``data:`` events, up to ``data: [DONE]``, then :class:`Finished`."""
    finish: str | None = None
    usage: Mapping[str, Any] = {}
    while not reader.at_end:
        line = reader.take()
        if line is None:
            await watch.wait(reader.fill(), "reading the stream")
            continue
        if not line.startswith("data:"):
            continue  # blank separators, ": keep-alive" comments, "event:" lines
        data = line[len("data:") :].strip()
        if data == "[DONE]" and finish is not None:
            yield _finished(finish, usage)
            return
        if data == "[DONE]":
            # Every complete answer's last choice has a finish_reason: [DONE] without
            # one is an answer cut short. llama.cpp's Python server does this to a
            # request when another arrives, unless run with --interrupt_requests False.
            raise BackendError(
                f"LLM stream from {watch.base_url} sent [DONE] without a finish_reason "
                f"after {watch.events} data events (cut short by the server; a "
                "llama_cpp.server needs --interrupt_requests False to serve several "
                "sessions)", code="llm_stream_truncated")
        if not data:
            continue  # an empty data field carries nothing: no progress either
        event = _parse_event(data)
        usage = event.get("usage") or usage
        chunks: list[LLMChunk] = []
        for choice in event.get("choices") or ():
            finish = choice.get("finish_reason") or finish
            chunks.extend(_delta_chunks(choice.get("delta") or {}))
        watch.on_event(produced_output=bool(chunks) or finish is not None)
        for chunk in chunks:
            yield chunk
    if finish is None:
        # A clean close (or a proxy's) in mid-answer: what arrived stays in the
        # transcript, but the response must not claim to be complete.
        raise BackendError(
            f"LLM stream from {watch.base_url} ended without [DONE] or finish_reason "
            f"after {watch.events} data events",
            code="llm_stream_truncated",
        )
    yield _finished(finish, usage)  # a finish_reason without [DONE]: complete enough


def _parse_event(data: str) -> dict[str, Any]:
    try:
        event = json.loads(data)
    except ValueError as exc:
        raise BackendError(
            f"LLM endpoint sent invalid JSON: {data[:200]}", code="llm_bad_response"
        ) from exc
    if not isinstance(event, dict):
        raise BackendError(
            f"LLM endpoint sent a non-object event: {data[:200]}", code="llm_bad_response"
        )
    if event.get("error"):
        message = _error_message(data.encode()) or str(event["error"])
        raise BackendError(f"LLM endpoint error: {message}", code="llm_error")
    return event


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
