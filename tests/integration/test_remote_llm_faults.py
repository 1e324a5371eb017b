"""RemoteLLM against a real misbehaving HTTP server on loopback: every fault ends in a
BackendError that says what happened, deadlines are kept, cancellation closes the socket,
and through the realtime server a failed response leaves the session usable."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from openrealtime.backends.base import BackendError, Finished, LLMRequest, TextDelta
from openrealtime.backends.fake import fake_backends
from openrealtime.backends.remote.openai_llm import RemoteLLM
from openrealtime.backends.remote.openai_vlm import RemoteVision
from openrealtime.server.app import create_app
from openrealtime.server.run import running_server
from openrealtime.server.settings import Settings
from tests.integration.test_errors import connect, next_event

Writer = asyncio.StreamWriter
TOKENS = ["Paris", " is", " lovely."]


def event(obj: dict[str, Any] | str) -> bytes:
    return f"data: {obj if isinstance(obj, str) else json.dumps(obj)}\n\n".encode()


def token(text: str, finish: str | None = None) -> bytes:
    delta = {"content": text} if text else {}
    return event({"object": "chat.completion.chunk",
                  "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})


def head(status: int = 200, content_type: str = "text/event-stream",
         length: int | None = None) -> bytes:
    framing = f"content-length: {length}" if length is not None else "transfer-encoding: chunked"
    return (f"HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\n{framing}\r\n"
            "connection: close\r\n\r\n").encode()


async def send(writer: Writer, *pieces: bytes) -> None:
    """Each piece as one HTTP chunk, flushed (so the client sees them one by one)."""
    for piece in pieces:
        writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        await writer.drain()


async def whole(writer: Writer, status: int, content_type: str, body: bytes) -> None:
    writer.write(head(status, content_type, len(body)) + body)
    await writer.drain()


async def good(writer: Writer, arg: float) -> None:
    usage = {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3}}
    writer.write(head())
    await send(writer, b": keep-alive\n\n", *(token(t) for t in TOKENS), token("", "stop"),
               event(usage), event("[DONE]"), b"")


async def cut(writer: Writer, arg: float) -> None:  # a clean end of body, mid-answer
    writer.write(head())
    await send(writer, token("Paris"), token(" is"), b"")


async def drop(writer: Writer, arg: float) -> None:  # the socket closes mid-body
    writer.write(head())
    await send(writer, token("Paris"), token(" is"))


async def finish_only(writer: Writer, arg: float) -> None:  # finish_reason, no [DONE]
    writer.write(head())
    await send(writer, token("Paris"), token("", "length"), b"")


async def drip(writer: Writer, arg: float) -> None:  # a token every `arg` s, forever
    writer.write(head())
    while True:
        await send(writer, token(" la"))
        await asyncio.sleep(arg)


async def slow(writer: Writer, arg: float) -> None:  # three tokens `arg` s apart, then done
    writer.write(head())
    for text in TOKENS:
        await send(writer, token(text))
        await asyncio.sleep(arg)
    await send(writer, token("", "stop"), event("[DONE]"), b"")


async def keepalive(writer: Writer, arg: float) -> None:  # one token, then comments only
    writer.write(head())
    await send(writer, token("Paris"))
    while True:
        await send(writer, b": keep-alive\n\n")
        await asyncio.sleep(0.02)


async def comments(writer: Writer, arg: float) -> None:  # comments only, never a token
    writer.write(head())
    while True:
        await send(writer, b": keep-alive\n\n")
        await asyncio.sleep(0.02)


async def html(writer: Writer, arg: float) -> None:
    await whole(writer, 200, "text/html; charset=utf-8",
                b"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>")


async def json_error(writer: Writer, arg: float) -> None:
    body = {"error": {"message": "model is overloaded", "type": "server_error"}}
    await whole(writer, 200, "application/json", json.dumps(body, indent=2).encode())


async def status_500(writer: Writer, arg: float) -> None:
    await whole(writer, 500, "application/json", b'{"error": {"message": "the model crashed"}}')


async def status_429(writer: Writer, arg: float) -> None:
    await whole(writer, 429, "application/json", b'{"error": {"message": "rate limit hit"}}')


async def malformed(writer: Writer, arg: float) -> None:
    writer.write(head())
    await send(writer, token("Paris"), b"data: {not json\n\n", b"")


Fault = Callable[[Writer, float], Awaitable[None]]
FAULTS: dict[str, Fault] = {f.__name__.replace("_", "-"): f for f in (
    good, cut, drop, finish_only, drip, slow, keepalive, comments, html, json_error,
    status_500, status_429, malformed)}


class FaultEndpoint:
    """An OpenAI-compatible endpoint that misbehaves as its URL says:
    ``{url}/{fault}[~{arg}]/v1/chat/completions``; the fault ``next`` takes the next one
    from ``script``. ``hang`` accepts the request and never answers."""

    def __init__(self) -> None:
        self.url = ""
        self.script: list[str] = []
        self.requests: list[dict[str, Any]] = []
        self.open_connections = 0
        self._handlers: set[asyncio.Task[Any]] = set()
        self._stopping = asyncio.Event()
        self.received = asyncio.Event()  # a request arrived
        self._idle = asyncio.Event()  # no connection open
        self._idle.set()
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> FaultEndpoint:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        self._stopping.set()
        await asyncio.gather(*self._handlers)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: Writer) -> None:
        # The answer runs in a task of our own, so that stopping cancels that one and
        # asyncio's per-connection task still ends normally (3.11 logs cancelled ones).
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        self.open_connections += 1
        self._idle.clear()
        answer = asyncio.create_task(self._answer(reader, writer))
        stop = asyncio.create_task(self._stopping.wait())
        try:
            await asyncio.wait({answer, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (answer, stop):
                task.cancel()
            await asyncio.gather(answer, stop, return_exceptions=True)
            writer.close()
            self.open_connections -= 1
            if not self.open_connections:
                self._idle.set()
            self._handlers.discard(handler)

    async def _answer(self, reader: asyncio.StreamReader, writer: Writer) -> None:
        try:
            lines = (await reader.readuntil(b"\r\n\r\n")).decode().split("\r\n")
            headers = dict(line.lower().split(": ", 1) for line in lines[1:] if line)
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append(json.loads(body))
            self.received.set()
            name = lines[0].split()[1].strip("/").split("/")[0]
            if name == "next":
                name = self.script.pop(0)
            name, _, arg = name.partition("~")
            if name == "hang":
                await reader.read()  # until the client closes its end
            else:
                await FAULTS[name](writer, float(arg or 0))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away: exactly what some tests wait for

    async def all_closed(self) -> None:
        """Return once every connection ended (generous limit: only against hangs)."""
        async with asyncio.timeout(5):
            await self._idle.wait()


@pytest.fixture
async def endpoint() -> AsyncIterator[FaultEndpoint]:
    async with FaultEndpoint() as server:
        yield server


@contextlib.asynccontextmanager
async def remote(endpoint: FaultEndpoint, fault: str, **limits: float
                 ) -> AsyncIterator[RemoteLLM]:
    deadlines = {"first_token_timeout_s": 2.0, "idle_timeout_s": 2.0, "total_timeout_s": 4.0,
                 **limits}
    llm = RemoteLLM(f"{endpoint.url}/{fault}/v1", "m", **deadlines)  # type: ignore[arg-type]
    try:
        yield llm
    finally:
        await llm.aclose()


REQUEST = LLMRequest([{"role": "user", "content": "What is the capital of France?"}])


async def collect(llm: RemoteLLM, into: list[Any] | None = None) -> list[Any]:
    items = [] if into is None else into
    async for item in llm.stream(REQUEST):
        items.append(item)
    return items


async def failure(endpoint: FaultEndpoint, fault: str, into: list[Any] | None = None,
                  **limits: float) -> BackendError:
    async with remote(endpoint, fault, **limits) as llm:
        with pytest.raises(BackendError) as info:
            await collect(llm, into)
    await endpoint.all_closed()  # whatever failed, the HTTP connection was closed
    return info.value


async def test_a_good_stream_still_streams(endpoint: FaultEndpoint) -> None:
    async with remote(endpoint, "good") as llm:
        items = await collect(llm)
    assert items == [*(TextDelta(t) for t in TOKENS), Finished("stop", 7, 3)]
    assert endpoint.requests[0]["stream"] is True


async def test_finish_reason_without_done_is_complete_enough(endpoint: FaultEndpoint) -> None:
    async with remote(endpoint, "finish-only") as llm:
        assert await collect(llm) == [TextDelta("Paris"), Finished("length")]


@pytest.mark.parametrize(("fault", "code", "message"), [
    ("cut", "llm_stream_truncated", r"ended without \[DONE\] or finish_reason after 2 data"),
    ("drop", "llm_stream_truncated", r"broke after 2 data events: RemoteProtocolError"),
    ("malformed", "llm_bad_response", r"invalid JSON: \{not json"),
])
async def test_a_broken_stream_fails_and_keeps_what_arrived(
        endpoint: FaultEndpoint, fault: str, code: str, message: str) -> None:
    items: list[Any] = []
    error = await failure(endpoint, fault, items)
    assert error.code == code
    assert error.message.startswith(("LLM stream from http://127.0.0.1", "LLM endpoint"))
    assert items[:1] == [TextDelta("Paris")]
    assert not any(isinstance(i, Finished) for i in items)
    assert re.search(message, error.message)


@pytest.mark.parametrize(("fault", "code", "fragments"), [
    ("html", "llm_bad_response",
     ["HTTP 200", "'text/html; charset=utf-8'", "not an event stream", "<!DOCTYPE html>"]),
    ("json-error", "llm_error", ["answered with an error: model is overloaded"]),
    ("status-500", "llm_http_error", ["HTTP 500", "the model crashed"]),
    ("status-429", "llm_rate_limited", ["HTTP 429", "rate limit hit"]),
])
async def test_a_body_that_is_not_a_stream_fails_clearly(
        endpoint: FaultEndpoint, fault: str, code: str, fragments: list[str]) -> None:
    items: list[Any] = []
    error = await failure(endpoint, fault, items)
    assert (error.code, items) == (code, [])
    for fragment in fragments:
        assert fragment in error.message


@pytest.mark.parametrize(("fault", "limits", "code", "fragments"), [
    ("hang", {"first_token_timeout_s": 0.3}, "llm_timeout_first_token",
     ["first_token_timeout_s=0.3 s", "waiting for response headers"]),
    ("comments", {"first_token_timeout_s": 0.3}, "llm_timeout_first_token",
     ["first_token_timeout_s=0.3 s", "0 data events"]),
    ("keepalive", {"idle_timeout_s": 0.3}, "llm_timeout_idle",
     ["idle_timeout_s=0.3 s", "keep-alive comments do not count", "1 data events"]),
    ("drip~0.6", {"idle_timeout_s": 0.2}, "llm_timeout_idle", ["idle_timeout_s=0.2 s"]),
    ("drip~0.02", {"total_timeout_s": 0.4}, "llm_timeout_total", ["total_timeout_s=0.4 s"]),
])
async def test_every_deadline_is_kept(endpoint: FaultEndpoint, fault: str,
                                      limits: dict[str, float], code: str,
                                      fragments: list[str]) -> None:
    error = await failure(endpoint, fault, **limits)
    assert error.code == code
    assert error.message.startswith(f"LLM endpoint {endpoint.url}/{fault}/v1 ")
    for fragment in fragments:
        assert fragment in error.message


async def test_time_the_consumer_holds_the_stream_is_not_charged(
        endpoint: FaultEndpoint) -> None:
    # A spoken answer pauses the LLM (backpressure) while TTS and the client catch up;
    # the endpoint is not late meanwhile. The tokens come 0.1 s apart, the consumer
    # takes 0.3 s per token: far past both deadlines in wall-clock time.
    async with remote(endpoint, "slow~0.1", idle_timeout_s=0.25, total_timeout_s=0.6) as llm:
        items = []
        async for item in llm.stream(REQUEST):
            items.append(item)
            await asyncio.sleep(0.3)
    assert items == [*(TextDelta(t) for t in TOKENS), Finished("stop")]


async def test_a_connect_timeout_is_its_own_error() -> None:
    # A listener whose accept queue is full: the kernel drops further SYNs, so connect
    # hangs the way it does towards a black-holed address.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        address = listener.getsockname()
        fillers = [socket.socket() for _ in range(3)]
        try:
            for filler in fillers:
                filler.setblocking(False)
                filler.connect_ex(address)
            llm = RemoteLLM(f"http://127.0.0.1:{address[1]}/v1", "m", connect_timeout_s=0.2)
            with pytest.raises(BackendError) as info:
                await collect(llm)
            await llm.aclose()
        finally:
            for filler in fillers:
                filler.close()
    assert info.value.code == "llm_timeout_connect"
    assert "connect_timeout_s=0.2 s" in info.value.message


@pytest.mark.parametrize("fault", ["hang", "keepalive"])
async def test_cancelling_the_response_closes_the_http_stream(
        endpoint: FaultEndpoint, fault: str) -> None:
    items: list[Any] = []
    async with remote(endpoint, fault, first_token_timeout_s=30, idle_timeout_s=30,
                      total_timeout_s=30) as llm:
        first = asyncio.Event()

        async def consume() -> None:
            async for item in llm.stream(REQUEST):
                items.append(item)
                first.set()

        task = asyncio.create_task(consume())
        async with asyncio.timeout(5):
            await (first if fault == "keepalive" else endpoint.received).wait()
        task.cancel()  # what barge-in does to the response task
        with pytest.raises(asyncio.CancelledError):
            await task
        await endpoint.all_closed()
    assert items == ([TextDelta("Paris")] if fault == "keepalive" else [])


async def test_a_failed_remote_response_leaves_the_session_usable(
        endpoint: FaultEndpoint) -> None:
    endpoint.script = ["cut", "html", "hang", "good"]
    backends = fake_backends()
    backends.llm = RemoteLLM(f"{endpoint.url}/next/v1", "m", first_token_timeout_s=0.5)
    create = json.dumps({"type": "response.create",
                         "response": {"output_modalities": ["text"]}})
    done: list[dict[str, Any]] = []
    try:
        async with running_server(create_app(Settings(backend="fake"),
                                             backends=backends)) as url:
            ws = await connect(url)
            try:
                for _ in endpoint.script[:]:
                    await ws.send(create)
                    done.append((await next_event(ws, "response.done"))["response"])
            finally:
                await ws.close()
    finally:
        await backends.llm.aclose()
    codes = [(r["status_details"] or {}).get("error", {}).get("code") for r in done]
    assert [r["status"] for r in done] == ["failed", "failed", "failed", "completed"]
    assert codes == ["llm_stream_truncated", "llm_bad_response", "llm_timeout_first_token",
                     None]
    for response in done[:3]:
        assert f"{endpoint.url}/next/v1" in response["status_details"]["error"]["message"]
    assert text_of(done[0]) == "Paris is"  # what arrived before the cut stays
    assert text_of(done[3]) == "Paris is lovely."


def text_of(response: dict[str, Any]) -> str:
    return "".join(part.get("text", "") for item in response["output"]
                   for part in item.get("content", ()))


@pytest.mark.parametrize(("fault", "code", "fragment"), [
    ("hang", "vision_timeout_total", "did not answer within total_timeout_s=0.3 s"),
    ("json-error", "vision_error", "vision endpoint error: model is overloaded"),
    ("html", "vision_error", "unexpected vision response (text/html; charset=utf-8)"),
    ("status-500", "vision_error", "answered HTTP 500"),
])
async def test_remote_vision_keeps_its_deadline_and_names_bad_answers(
        endpoint: FaultEndpoint, fault: str, code: str, fragment: str) -> None:
    vision = RemoteVision(f"{endpoint.url}/{fault}/v1", "m", total_timeout_s=0.3)
    try:
        with pytest.raises(BackendError) as info:
            await vision.describe(b"\x89PNG", "image/png")
    finally:
        await vision.aclose()
    await endpoint.all_closed()
    assert info.value.code == code
    assert fragment in info.value.message
