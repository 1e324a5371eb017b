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
from ..backends.priority import BACKGROUND, NORMAL, PRIORITY, URGENT
from ..core import Session, SessionLimits
from ..core import effects as fx
from ..protocol import server_events as ev
from ..protocol.client_events import event_id_of, validate_event
from ..protocol.dialect import BetaCodec, GaCodec
from ..protocol.errors import ProtocolError
from ..protocol.frame import check_frame, decode_frame
from ..protocol.live import DialectEvent, LiveCodec
from ..protocol.session import RealtimeSession
from ..protocol.twilio import TwilioCodec
from .bucket import TokenBucket
from .context import image_key
from .draft import Hold
from .outbox import Outbox
from .pipeline import Timing, run_response

log = logging.getLogger(__name__)

# One client message: an append may carry 15 MiB of audio, 20 MiB of base64, plus JSON.
# uvicorn refuses longer frames from their header (Settings.max_frame_bytes).
MAX_FRAME_BYTES = 21 * 1024 * 1024
# Client events per second per session, and how many seconds of them may come at once.
# Audio appends count: 20 ms frames are 50/s, and a browser sending each AudioWorklet
# block (128 samples at 48 kHz) unbuffered sends 375/s. A burst of 2 s absorbs the flush
# after a network stall (20 s of 20 ms frames). What the cap stops is a client making
# the server validate thousands of events a second on one session's behalf.
MAX_EVENTS_PER_S = 500.0
EVENT_BURST_S = 2.0
SERVER_ERROR = "The server had an error while processing your request. Sorry about that!"
Receive = Callable[[], Awaitable[str | bytes | None]]  # None: the client went away
Send = Callable[[str], Awaitable[None]]
Observer = Callable[[str, dict[str, Any]], None]


class _Closed(Exception):
    pass


def _peek(frame: str | bytes) -> dict[str, Any] | None:
    """The frame's JSON object if it has one, else None; never raises ProtocolError."""
    if isinstance(frame, bytes) or len(frame) > MAX_FRAME_BYTES:
        return None
    try:
        return decode_frame(frame)
    except ProtocolError:
        return None


class SessionDriver:
    def __init__(self, backends: Backends, config: RealtimeSession, *, beta: bool = False,
                 observer: Observer | None = None, max_session_s: float = 3600.0,
                 idle_timeout_s: float | None = None,
                 max_events_per_s: float = MAX_EVENTS_PER_S,
                 limits: SessionLimits | None = None, echo_cancellation: bool = True,
                 backchannel_ms: int = 0, transcription: bool = False,
                 codec: LiveCodec | BetaCodec | TwilioCodec | None = None) -> None:
        self.backends = backends
        # (``codec``: another dialect's, e.g. GPT-Live's LiveCodec)
        self.codec = codec if codec is not None else BetaCodec() if beta else GaCodec()
        self.echo = (backends.echo.stream()
                     if echo_cancellation and backends.echo is not None else None)
        self.core = Session(config, beta=beta, limits=limits or SessionLimits(),
                            transcription=transcription,
                            echo_latency=None if self.echo is None
                            else getattr(backends.echo, "latency_samples", 0),
                            backchannel_ms=backchannel_ms)
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
        self.idle_timeout_s = idle_timeout_s  # no client frame this long: close (None: never)
        self._events = TokenBucket(max_events_per_s, max(1.0, max_events_per_s * EVENT_BURST_S))
        self._vad_down = False  # the VAD worker failed and has not answered since
        self._echo_down = False  # likewise the echo canceller
        self._drafts: dict[str, Hold] = {}  # running drafts, their output held back
        # adopted drafts whose held output is being fed to the core (off the reader:
        # their audio waits for the outbox, that is for the client to read it)
        self._releases: dict[str, asyncio.Task[None]] = {}

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
                if self._close is not None:  # a close the session chose: say all first
                    await self._drain()
                raise _Closed
        except* _Closed:
            pass
        finally:
            for stream in (self.vad, self.echo):
                close = getattr(stream, "aclose", None)
                if close is not None:
                    await asyncio.shield(close())
        return self._close

    async def _score(self, windows: list[Any]) -> list[float]:
        """VAD probabilities: one round trip to a VAD worker, or inline in-process.

        If the VAD worker is down (it restarts within about a second), the audio counts
        as silence instead of failing the session.
        """
        score = getattr(self.vad, "score", None)
        if score is None:
            return [self.vad.probability(w) for w in windows]
        try:
            result: list[float] = await score(windows)
        except BackendError as exc:
            if not self._vad_down:
                log.warning("VAD unavailable, treating input as silence: %s", exc.message)
            self._vad_down = True
            return [0.0] * len(windows)
        self._vad_down = False
        return result

    async def _cancel_echo(self, effect: fx.CancelEcho) -> fx.EchoCancelled:
        """The microphone without the echo; unchanged while the canceller is down."""
        assert self.echo is not None
        try:
            out = await self.echo.process(effect.mic, effect.far, effect.lead,
                                          effect.denoise)
        except BackendError as exc:
            if not self._echo_down:
                log.warning("echo canceller unavailable, input passes as is: %s", exc.message)
            self._echo_down = True
            return fx.EchoCancelled(effect.mic)
        self._echo_down = False
        return fx.EchoCancelled(out.cleaned, out.near_db)

    async def _read(self, receive: Receive) -> None:
        while self._close is None:
            try:
                async with asyncio.timeout(self.idle_timeout_s):
                    frame = await receive()
            except TimeoutError:
                self._idle()
                break
            except Exception:  # a broken connection reads like a client that went away
                log.debug("receive failed; ending the session", exc_info=True)
                return
            if frame is None:
                return
            await self.handle_frame(frame)  # never raises, except CancelledError
            if self.outbox.overflowed:
                # The client sends but does not read: its events pile up unread. Close
                # rather than hold them all (audio deltas are bounded separately).
                log.warning("session %s: client not reading events; closing", self.core.config.id)
                self._close = (1008, "too many unread server events: the client is not "
                               "reading")
                return
        await self._drain()

    def _idle(self) -> None:
        """No frame for ``idle_timeout_s``: say so, then close (a held socket costs a slot)."""
        message = (f"The session was idle for {self.idle_timeout_s:g} seconds (no client "
                   "events) and is closed.")
        self.outbox.put_nowait(ev.error_event({"type": "invalid_request_error",
                                               "code": "session_idle_timeout",
                                               "message": message, "param": None,
                                               "event_id": None}))
        self._close = (1000, "idle timeout")

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

    def shut_down(self, message: str) -> None:
        """The server is going away (its SIGTERM drain ran out of time): an ``error``
        (``server_shutting_down``), then close 1001, like the session cap."""
        if self._group is None or self._close is not None:
            return
        self.outbox.put_nowait(ev.error_event({"type": "server_error",
                                               "code": "server_shutting_down",
                                               "message": message, "param": None,
                                               "event_id": None}))
        self._close = (1001, "server shutting down")
        try:
            self._group.create_task(self._end())
        except RuntimeError:  # the session is ending already
            pass

    async def _end(self) -> None:
        await self._drain()
        raise _Closed

    async def _drain(self, timeout_s: float = 2.0) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.outbox) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    async def _write(self, send: Send) -> None:
        while True:
            event = await self.outbox.get()
            if self.observer is not None and isinstance(event, ev.Error):
                self.observer("error_sent", {"event": event})  # all of them: metrics
            for text in self._encode(event):
                try:
                    await send(text)
                except Exception:  # the socket is gone: end the session
                    raise _Closed from None

    def _encode(self, event: ev.ServerEvent) -> list[str]:
        """The frames of ``event``; an ``error`` in its place if it cannot be encoded."""
        temperature = self.core.config.temperature
        try:
            frames = self.codec.encode(event, temperature)
            asks = self.codec.take_asks()
            if asks and self._group is not None:  # (the dialect's own requests to the core)
                self._group.create_task(self._ask(asks))
            return frames
        except Exception:
            log.exception("could not encode a %s event", event.type)
        error = ev.error_event({"type": "server_error", "code": None, "param": None,
                                "event_id": None, "message": f"{SERVER_ERROR} The server "
                                f"could not send a '{event.type}' event."})
        try:
            return self.codec.encode(error, temperature)
        except Exception:  # ErrorDetail makes every string safe: this is not expected
            log.exception("could not encode an error event")
            return []

    async def _ask(self, events: list[dict[str, Any]]) -> None:
        """GA client events a dialect asks of the core on its own, handled as the client's
        would be (a refusal becomes an ``error`` event)."""
        for data in events:
            try:
                await self.execute(self.core.handle(validate_event(data, None)))
            except ProtocolError as exc:
                self.outbox.put_nowait(ev.error_event(self.codec.wire_error(exc).to_error(None)))

    # ------------------------------------------------------------------- input

    async def handle_frame(self, frame: str | bytes) -> None:
        """Handle one client frame. Nothing it does can end the session: a rejected or
        failing event becomes one ``error`` event naming its ``event_id``."""
        data: dict[str, Any] | None = None
        try:
            if not self._events.take():
                data = _peek(frame)  # only to name the event_id in the error
                raise self._rate_limited()
            if isinstance(frame, bytes):
                raise ProtocolError(
                    "Expected a text WebSocket message; binary frames are not supported.",
                    code="invalid_event")
            if len(frame) > MAX_FRAME_BYTES:
                raise ProtocolError(
                    f"Message too large: {len(frame)} bytes; the maximum is "
                    f"{MAX_FRAME_BYTES} bytes.", code="invalid_event")
            data = decode_frame(frame)
            check_frame(data)
            # the GA events for the core (none: the dialect answered it itself), and
            # events of the dialect's own to send after them
            ga, replies = self.codec.intercept(data)
            for data in ga:
                event = validate_event(data, self.codec.supported_types)
                await self.execute(self.core.handle(event))
            for payload in replies:
                self.outbox.put_nowait(DialectEvent(payload=payload))
        except ProtocolError as exc:
            error = self.codec.wire_error(exc).to_error(event_id_of(data or {}))
            self.outbox.put_nowait(ev.error_event(error))
        except Exception:  # a bug, not the client's mistake: say so and go on
            log.exception("unexpected error handling a %r event",
                          str((data or {}).get("type"))[:64])
            self.outbox.put_nowait(ev.error_event({
                "type": "server_error", "code": None, "message": SERVER_ERROR, "param": None,
                "event_id": event_id_of(data or {})}))

    def _rate_limited(self) -> ProtocolError:
        bucket = self._events
        return ProtocolError(
            f"Rate limit exceeded: this session accepts {bucket.rate_per_s:g} events per "
            f"second (bursts of {bucket.burst:g}). The event was dropped.",
            code="rate_limit_exceeded")

    # ----------------------------------------------------------------- effects

    async def execute(self, outputs: list[Any]) -> None:
        for out in outputs:
            if isinstance(out, ev.ServerEvent):
                if isinstance(out, ev.ResponseOutputAudioDelta):
                    await self.outbox.wait_for_space()
                self.outbox.put_nowait(out)
                if self.observer is not None:
                    self.observer(out.type, {"event": out})
                if isinstance(out, ev.InputAudioTranscriptionCompleted
                              | ev.InputAudioTranscriptionFailed):
                    # The item's one result: the core wrote the transcript into the item,
                    # where the context reads it (a failure reads as no text either way);
                    # a response already waiting holds the future itself.
                    self.transcripts.pop(out.item_id, None)
            elif isinstance(out, fx.ScoreSpeech):
                probabilities = await self._score(out.windows)
                await self.execute(self.core.on_fact(fx.SpeechScored(probabilities)))
            elif isinstance(out, fx.CancelEcho):
                await self.execute(self.core.on_fact(await self._cancel_echo(out)))
            elif isinstance(out, fx.ScoreTurn):
                self._spawn(self._score_turn(out))
            elif isinstance(out, fx.DescribeImage):
                self._describe_image(out)
            elif isinstance(out, fx.StartTranscription):
                self._start_transcription(out)
            elif isinstance(out, fx.CancelTranscription):
                task = self._stt_tasks.pop(out.item_id, None)
                if task is not None:
                    task.cancel()
                # a pending turn's item: no response context waits on it yet
                self.transcripts.pop(out.item_id, None)
            elif isinstance(out, fx.ForgetItem):
                self._forget(out.item_id)
            elif isinstance(out, fx.StartResponse):
                self._start_response(out)
            elif isinstance(out, fx.AdoptDraft):
                self._adopt(out.response_id)
            elif isinstance(out, fx.DiscardDraft):
                self._discard(out.response_id)
            elif isinstance(out, fx.CancelResponse):
                self.outbox.purge_audio(out.response_id)
                for tasks in (self._responses, self._releases):
                    task = tasks.pop(out.response_id, None)
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
        if effect.partial:  # live captions: only its result matters, to the core
            self._spawn(self._transcribe(effect, asyncio.get_running_loop().create_future()))
            return
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
        PRIORITY.set(BACKGROUND if effect.partial else NORMAL if effect.speculation
                     else URGENT)
        try:
            result = await self.backends.stt.transcribe(
                effect.audio, language=effect.language, prompt=effect.prompt)
        except BackendError as exc:
            if not future.done():
                future.set_result("")
            await self.feed(fx.TranscriptionFailed(effect.item_id, exc.message,
                                                   effect.speculation))
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
                                                  len(effect.audio) / 16000, effect.speculation))

    def _forget(self, item_id: str) -> None:
        """The item left the conversation: drop its transcript and image futures. A
        transcription still running is left to finish (a response may await it)."""
        self.transcripts.pop(item_id, None)
        images = image_key(item_id, 0).removesuffix("0")  # the keys' common prefix
        for key in [k for k in self.transcripts if k.startswith(images)]:
            del self.transcripts[key]

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

    async def _score_turn(self, effect: fx.ScoreTurn) -> None:
        """The end-of-turn model's verdict on the pause (None: no model, or it failed)."""
        probability: float | None = None
        model = self.backends.turn
        if model is not None:
            started = time.perf_counter()
            try:
                probability = await model.score(effect.audio)
            except BackendError as exc:
                log.warning("end-of-turn model failed, falling back to silence: %s",
                            exc.message)
            if self.observer is not None:
                self.observer("turn", {"item_id": effect.item_id, "probability": probability,
                                       "seconds": time.perf_counter() - started})
        await self.feed(fx.TurnScored(effect.speculation, probability))

    def _start_response(self, effect: fx.StartResponse) -> None:
        timing = self.timings[effect.response_id] = Timing()
        feed = self.feed
        if effect.draft:
            hold = self._drafts[effect.response_id] = Hold(
                effect.response_id, self.feed, sample_rate=effect.plan.output_sample_rate)
            feed = hold.feed
        self._responses[effect.response_id] = self._spawn(self._respond(effect, timing, feed))

    def _adopt(self, response_id: str) -> None:
        """Let an adopted draft's output through, in a task of its own: the held audio
        waits for room in the outbox, and the reader must go on reading meanwhile (a
        client slow to read would otherwise stop its own input being heard)."""
        hold = self._drafts.pop(response_id, None)
        if hold is None:
            return
        if self.observer is not None:
            self.observer("draft_adopted", {"response_id": response_id, "work": hold.work})
        self._releases[response_id] = self._spawn(self._release(response_id, hold))

    async def _release(self, response_id: str, hold: Hold) -> None:
        try:
            await hold.release()
        finally:
            self._releases.pop(response_id, None)
        if response_id not in self._responses:  # it finished while held
            self._report_timing(response_id)

    def _discard(self, response_id: str) -> None:
        hold = self._drafts.pop(response_id, None)
        task = self._responses.pop(response_id, None)
        if task is not None:
            task.cancel()
        self.timings.pop(response_id, None)
        if hold is not None and self.observer is not None:
            self.observer("draft_discarded", {"response_id": response_id, "work": hold.work})

    async def _respond(self, effect: fx.StartResponse, timing: Timing,
                       feed: Callable[[fx.Fact], Awaitable[None]]) -> None:
        # An answer's first clause is urgent, a draft's too: most drafts are adopted (the
        # user is waiting for it then), and a draft keeps its rank once adopted, so one
        # ranked lower left its adopted rest behind another session's whole answer.
        PRIORITY.set(URGENT)
        try:
            await run_response(effect.response_id, effect.plan, llm=self.backends.llm,
                               tts=self.backends.tts, transcripts=self.transcripts,
                               feed=feed, timing=timing)
        finally:
            self._responses.pop(effect.response_id, None)
            if effect.response_id not in self._drafts:  # (a held draft reports when adopted)
                self._report_timing(effect.response_id)

    def _report_timing(self, response_id: str) -> None:
        timing = self.timings.pop(response_id, None)
        if timing is not None and self.observer is not None:
            self.observer("timing", {"response_id": response_id, "timing": timing})
