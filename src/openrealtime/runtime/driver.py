"""The asyncio driver of one realtime session.

It parses frames, hands events to the sans-I/O core, sends the core's server events
through the :class:`Outbox` and executes its effects: VAD scoring inline (a fraction
of a millisecond per 32 ms window), transcriptions and responses as child tasks of
the session's TaskGroup. When the connection ends, the group cancels and awaits
every child: nothing outlives the session.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..backends.base import BackendError, Backends
from ..core import Session
from ..core import effects as fx
from ..protocol import server_events as ev
from ..protocol.client_events import event_id_of, parse_json, validate_event
from ..protocol.dialect import BetaCodec, GaCodec
from ..protocol.errors import ProtocolError
from ..protocol.session import RealtimeSession
from .context import image_key
from .outbox import Outbox
from .pipeline import Timing, run_response

log = logging.getLogger(__name__)

MAX_FRAME_BYTES = 16 * 1024 * 1024  # append payloads may be up to 15 MiB
Receive = Callable[[], Awaitable[str | bytes | None]]  # None: the client went away
Send = Callable[[str], Awaitable[None]]
Observer = Callable[[str, dict[str, Any]], None]


class _Closed(Exception):
    pass


class SessionDriver:
    def __init__(self, backends: Backends, config: RealtimeSession, *, beta: bool = False,
                 observer: Observer | None = None, max_session_s: float = 3600.0) -> None:
        self.backends = backends
        self.codec = BetaCodec() if beta else GaCodec()
        self.core = Session(config, beta=beta)
        self.vad = backends.vad.stream()
        self.outbox = Outbox()
        self.transcripts: dict[str, asyncio.Future[str]] = {}
        self._stt_tasks: dict[str, asyncio.Task[None]] = {}
        self._responses: dict[str, asyncio.Task[None]] = {}
        self.timings: dict[str, Timing] = {}
        self._group: asyncio.TaskGroup | None = None
        self._close: tuple[int, str] | None = None
        self.observer = observer  # sees (event type, details) for metrics and benchmarks
        self.max_session_s = max_session_s

    # ------------------------------------------------------------------ running

    async def run(self, receive: Receive, send: Send) -> tuple[int, str] | None:
        """Serve until the client goes away or the session closes; return a close code."""
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                group.create_task(self._write(send))
                group.create_task(self._expire())
                await self.execute(self.core.created())
                await self._read(receive)
                raise _Closed
        except* _Closed:
            pass
        return self._close

    async def _read(self, receive: Receive) -> None:
        while self._close is None:
            frame = await receive()
            if frame is None:
                return
            await self.handle_frame(frame)
        await self._drain()

    async def _expire(self) -> None:
        """The reference's session cap: an ``error`` then close 1001 with the same text."""
        await asyncio.sleep(self.max_session_s)
        minutes = self.max_session_s / 60
        message = f"Your session hit the maximum duration of {minutes:g} minutes."
        self.outbox.put_nowait(ev.error_event({"type": "invalid_request_error",
                                               "code": "session_expired", "message": message,
                                               "param": None, "event_id": None}))
        self._close = (1001, message)
        await self._drain()
        raise _Closed

    async def _drain(self, timeout_s: float = 2.0) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.outbox) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    async def _write(self, send: Send) -> None:
        codec, temperature = self.codec, self.core
        while True:
            event = await self.outbox.get()
            for text in codec.encode(event, temperature.config.temperature):
                try:
                    await send(text)
                except Exception:  # the socket is gone: end the session
                    raise _Closed from None

    # ------------------------------------------------------------------- input

    async def handle_frame(self, frame: str | bytes) -> None:
        data: dict[str, Any] | None = None
        try:
            if isinstance(frame, bytes):
                raise ProtocolError(
                    "Expected a text WebSocket message; binary frames are not supported.",
                    code="invalid_event")
            if len(frame) > MAX_FRAME_BYTES:
                raise ProtocolError(
                    f"Message too large: {len(frame)} bytes; the maximum is "
                    f"{MAX_FRAME_BYTES} bytes.", code="invalid_event")
            data = parse_json(frame)
            event = validate_event(self.codec.decode(data), self.codec.supported_types)
            outputs = self.core.handle(event)
        except ProtocolError as exc:
            self.outbox.put_nowait(ev.error_event(exc.to_error(event_id_of(data or {}))))
            return
        await self.execute(outputs)

    # ----------------------------------------------------------------- effects

    async def execute(self, outputs: list[Any]) -> None:
        for out in outputs:
            if isinstance(out, ev.ServerEvent):
                if isinstance(out, ev.ResponseOutputAudioDelta):
                    await self.outbox.wait_for_space()
                self.outbox.put_nowait(out)
                if self.observer is not None:
                    self.observer(out.type, {"event": out})
            elif isinstance(out, fx.ScoreSpeech):
                probabilities = [self.vad.probability(w) for w in out.windows]
                await self.execute(self.core.on_fact(fx.SpeechScored(probabilities)))
            elif isinstance(out, fx.DescribeImage):
                self._describe_image(out)
            elif isinstance(out, fx.StartTranscription):
                self._start_transcription(out)
            elif isinstance(out, fx.CancelTranscription):
                task = self._stt_tasks.pop(out.item_id, None)
                if task is not None:
                    task.cancel()
            elif isinstance(out, fx.StartResponse):
                self._start_response(out)
            elif isinstance(out, fx.CancelResponse):
                self.outbox.purge_audio(out.response_id)
                task = self._responses.pop(out.response_id, None)
                if task is not None:
                    task.cancel()
            elif isinstance(out, fx.CloseSession):
                self._close = (out.code, out.reason)

    async def feed(self, fact: fx.Fact) -> None:
        await self.execute(self.core.on_fact(fact))

    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        assert self._group is not None
        return self._group.create_task(coro)

    def _start_transcription(self, effect: fx.StartTranscription) -> None:
        old = self._stt_tasks.pop(effect.item_id, None)
        if old is not None:
            old.cancel()
        future = self.transcripts.get(effect.item_id)
        if future is None or future.done():
            future = self.transcripts[effect.item_id] = asyncio.get_running_loop().create_future()
        task = self._spawn(self._transcribe(effect, future))
        self._stt_tasks[effect.item_id] = task

    async def _transcribe(self, effect: fx.StartTranscription,
                          future: asyncio.Future[str]) -> None:
        started = time.perf_counter()
        try:
            result = await self.backends.stt.transcribe(
                effect.audio, language=effect.language, prompt=effect.prompt)
        except BackendError as exc:
            if not future.done():
                future.set_result("")
            await self.feed(fx.TranscriptionFailed(effect.item_id, exc.message))
            return
        finally:
            if self._stt_tasks.get(effect.item_id) is asyncio.current_task():
                del self._stt_tasks[effect.item_id]
        if self.observer is not None:
            self.observer("stt", {"item_id": effect.item_id,
                                  "seconds": time.perf_counter() - started})
        if not future.done():
            future.set_result(result.text)
        await self.feed(fx.TranscriptionCompleted(effect.item_id, result.text,
                                                  len(effect.audio) / 16000))

    def _describe_image(self, effect: fx.DescribeImage) -> None:
        future = asyncio.get_running_loop().create_future()
        self.transcripts[image_key(effect.item_id, effect.content_index)] = future
        self._spawn(self._describe(effect, future))

    async def _describe(self, effect: fx.DescribeImage, future: asyncio.Future[str]) -> None:
        vision = self.backends.vision
        if vision is None:
            future.set_result("[The user shared an image; no image model is configured.]")
            return
        started = time.perf_counter()
        try:
            text = await vision.describe(effect.data, effect.mime, detail=effect.detail)
        except BackendError as exc:
            text = f"[The user shared an image that could not be read: {exc.message}]"
        if not future.done():
            future.set_result(text)
        if self.observer is not None:
            self.observer("vision", {"item_id": effect.item_id, "text": text,
                                     "seconds": time.perf_counter() - started})

    def _start_response(self, effect: fx.StartResponse) -> None:
        timing = self.timings[effect.response_id] = Timing()
        self._responses[effect.response_id] = self._spawn(self._respond(effect, timing))

    async def _respond(self, effect: fx.StartResponse, timing: Timing) -> None:
        try:
            await run_response(effect.response_id, effect.plan, llm=self.backends.llm,
                               tts=self.backends.tts, transcripts=self.transcripts,
                               feed=self.feed, timing=timing)
        finally:
            self._responses.pop(effect.response_id, None)
            if self.observer is not None:
                self.observer("timing", {"response_id": effect.response_id, "timing": timing})
