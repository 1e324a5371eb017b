"""WebRTC calls, the OpenAI way: a transport at the edge over the same sessions.

``POST /v1/realtime/calls`` (GA: a raw ``application/sdp`` offer with an API key or an
ephemeral secret, or ``multipart/form-data`` with parts ``sdp`` and ``session``) and the
beta ``POST /v1/realtime?model=…`` answer ``201`` with the SDP answer (and a ``Location``
naming the call, ``rtc_…``). aiortc terminates ICE/DTLS/SRTP: the caller's Opus track
becomes ``input_audio_buffer.append`` events for the session (24 kHz PCM), the data
channel ``oai-events`` carries the same client and server events as the WebSocket, and
the session's audio goes back on an Opus track that the server paces itself.

Because the server plays the audio here, it knows what the caller has heard: it sends
``output_audio_buffer.started`` when a response's first sample leaves,
``output_audio_buffer.stopped`` when its last has played after ``response.done``, and on
barge-in (``speech_started`` while playing) it drops what is still queued, sends
``output_audio_buffer.cleared`` and truncates the assistant item to what was played
(``conversation.item.truncated``), as the reference does on WebRTC. Audio deltas are not
sent on the data channel (the reference does not either).

A backend can attach to a call with a WebSocket at ``/v1/realtime?call_id=rtc_…``
("sideband"): it sees every server event and may send client events (tool outputs,
``session.update``). ``POST /v1/realtime/calls/{call_id}/hangup`` ends the call.

ICE: host candidates only unless ``webrtc_ice_servers`` lists STUN/TURN servers (for
clients behind NAT); a call on localhost or a LAN needs none.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fractions
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import numpy as np

from ..audio import StreamResampler
from ..protocol.ids import new_id
from ..protocol.session import RealtimeSession

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.websockets import WebSocket

    from .app import RealtimeServer

log = logging.getLogger(__name__)

PLAY_RATE = 48_000  # Opus's clock
FRAME_SAMPLES = 960  # 20 ms
SESSION_RATE = 24_000  # the session's pcm16 audio
MAX_INBOX = 4096  # client frames waiting for the session (data channel + microphone)
MAX_SDP_BYTES = 64 * 1024
MAX_PENDING = 256


class SdpError(ValueError):
    """An offer that cannot be answered (the message is for the client)."""


def ice_servers(spec: str) -> list[Any]:
    """``stun:host:port,turn:user:pass@host:port`` → aiortc's RTCIceServer list."""
    from aiortc import RTCIceServer

    servers = []
    for url in (u.strip() for u in spec.split(",") if u.strip()):
        scheme, _, rest = url.partition(":")
        if "@" in rest:
            credentials, host = rest.rsplit("@", 1)
            user, _, password = credentials.partition(":")
            servers.append(RTCIceServer(urls=f"{scheme}:{host}", username=unquote(user),
                                        credential=unquote(password)))
        else:
            servers.append(RTCIceServer(urls=url))
    return servers


@dataclass
class _Segment:
    """Queued reply audio of one item (48 kHz int16)."""

    response_id: str
    item_id: str
    content_index: int
    samples: np.ndarray


@dataclass
class _Played:
    """What the caller has heard of one item, in samples at 48 kHz."""

    response_id: str
    content_index: int
    samples: int = 0


class OutboundAudio:
    """The session's voice as an aiortc audio track, paced at 20 ms a frame.

    Reply audio is queued per item; each frame takes what is due (silence when nothing
    is). ``on_event`` hears ``output_audio_buffer.started``/``stopped`` as they happen."""

    kind = "audio"

    def __init__(self, on_event: Callable[[dict[str, Any]], None]) -> None:
        from aiortc.mediastreams import MediaStreamTrack

        class _Track(MediaStreamTrack):  # aiortc's base wires the track into the sender
            kind = "audio"

            def __init__(self, outer: OutboundAudio) -> None:
                super().__init__()
                self.outer = outer

            async def recv(self) -> Any:
                return await self.outer.next_frame()

        self.track = _Track(self)
        self.on_event = on_event
        self.queue: deque[_Segment] = deque()
        self.played: dict[str, _Played] = {}  # item id -> heard so far
        self.started: set[str] = set()  # responses whose audio began to play
        self.done: set[str] = set()  # responses that ended (response.done seen)
        self._resampler = StreamResampler(SESSION_RATE, PLAY_RATE)
        self._start: float | None = None
        self._pts = 0

    def push(self, pcm16: bytes, response_id: str, item_id: str, content_index: int) -> None:
        x = np.frombuffer(pcm16, dtype="<i2").astype(np.float32) / 32768.0
        up = self._resampler.process(x)
        samples = (np.clip(up, -1.0, 1.0) * 32767.0).astype(np.int16)
        if len(samples):
            self.queue.append(_Segment(response_id, item_id, content_index, samples))
            self.played.setdefault(item_id, _Played(response_id, content_index))

    def playing(self) -> bool:
        return bool(self.queue)

    def finish(self, response_id: str) -> None:
        """``response.done``: stopped follows once its audio has played (now if none)."""
        self.done.add(response_id)
        if response_id in self.started and not any(s.response_id == response_id
                                                   for s in self.queue):
            self._stopped(response_id)

    def clear(self) -> list[tuple[str, str, int, int]]:
        """Drop what is queued; (response, item, content index, heard ms) of each item
        cut short."""
        cut = {s.item_id for s in self.queue}
        self.queue.clear()
        self._resampler.reset()
        out = []
        for item_id in cut:
            heard = self.played.get(item_id)
            if heard is not None:
                out.append((heard.response_id, item_id, heard.content_index,
                            heard.samples * 1000 // PLAY_RATE))
        for response_id in {r for r, *_ in out}:
            self.started.discard(response_id)
        return out

    async def next_frame(self) -> Any:
        import av

        now = time.monotonic()
        if self._start is None:
            self._start = now
        else:
            due = self._start + self._pts / PLAY_RATE
            if due > now:
                await asyncio.sleep(due - now)
        frame_data = np.zeros(FRAME_SAMPLES, dtype=np.int16)
        filled = 0
        while filled < FRAME_SAMPLES and self.queue:
            segment = self.queue[0]
            if segment.response_id not in self.started:
                self.started.add(segment.response_id)
                self.on_event({"type": "output_audio_buffer.started",
                               "response_id": segment.response_id})
            take = min(FRAME_SAMPLES - filled, len(segment.samples))
            frame_data[filled:filled + take] = segment.samples[:take]
            filled += take
            self.played[segment.item_id].samples += take
            segment.samples = segment.samples[take:]
            if not len(segment.samples):
                self.queue.popleft()
                rid = segment.response_id
                if rid in self.done and not any(s.response_id == rid for s in self.queue):
                    self._stopped(rid)
        frame = av.AudioFrame.from_ndarray(frame_data.reshape(1, -1), format="s16",
                                           layout="mono")
        frame.sample_rate = PLAY_RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, PLAY_RATE)
        self._pts += FRAME_SAMPLES
        return frame

    def _stopped(self, response_id: str) -> None:
        if response_id in self.started:
            self.started.discard(response_id)
            self.on_event({"type": "output_audio_buffer.stopped", "response_id": response_id})
        if len(self.played) > 64:  # (keep only recent items' counts)
            for key in list(self.played)[:-16]:
                del self.played[key]


@dataclass
class Call:
    """One WebRTC call: its peer connection, its session's inbox and its listeners."""

    id: str
    pc: Any
    inbox: asyncio.Queue[str | None] = field(default_factory=lambda: asyncio.Queue(MAX_INBOX))
    channel: Any = None
    # server events before the channel opens (a call without one keeps only the latest)
    pending: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_PENDING))
    sidebands: set[Callable[[str], Awaitable[None]]] = field(default_factory=set)
    audio: OutboundAudio | None = None
    task: asyncio.Task[None] | None = None
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def offer(self, frame: str) -> None:
        """A client frame for the session (dropped, with a log line, when it is full)."""
        try:
            self.inbox.put_nowait(frame)
        except asyncio.QueueFull:
            log.warning("call %s: client events arrive faster than the session takes "
                        "them; one dropped", self.id)

    def end(self) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self.inbox.put_nowait(None)

    async def deliver(self, text: str) -> None:
        """A server event to the data channel (queued until it opens) and sidebands."""
        if self.channel is not None and self.channel.readyState == "open":
            self._send(text)
        else:
            self.pending.append(text)
        for send in list(self.sidebands):
            try:
                await send(text)
            except Exception:
                self.sidebands.discard(send)

    def flush(self) -> None:
        if self.channel is not None and self.channel.readyState == "open":
            for text in self.pending:
                self._send(text)
            self.pending.clear()

    def _send(self, text: str) -> None:
        """One event on the channel. A data channel message has a size limit (the peer's
        ``max-message-size``, 64 KiB to 256 KiB): an event over it (an item retrieved with
        its audio) goes without its audio payloads, which the audio track carried."""
        try:
            self.channel.send(text)
        except ValueError:
            slim = json.dumps(_without_audio(json.loads(text)), separators=(",", ":"))
            try:
                self.channel.send(slim)
            except ValueError:
                log.warning("call %s: a %d-byte event does not fit the data channel; "
                            "dropped", self.id, len(slim))


class WebRTCCalls:
    """The calls of one server."""

    def __init__(self, server: RealtimeServer) -> None:
        self.server = server
        self.calls: dict[str, Call] = {}

    # ------------------------------------------------------------------ HTTP

    async def create(self, request: Request) -> Response:
        """GA ``POST /v1/realtime/calls``."""
        return await self._answer(request, beta=False)

    async def beta_offer(self, request: Request) -> Response:
        """Beta ``POST /v1/realtime?model=…`` with an SDP body."""
        return await self._answer(request, beta=True)

    async def hangup(self, request: Request) -> Response:
        from starlette.responses import Response

        from .app import _rest_error

        problem = await self._auth(request)
        if isinstance(problem, Response):
            return problem
        call = self.calls.get(request.path_params["call_id"])
        if call is None:
            return _rest_error({"type": "invalid_request_error", "code": "call_not_found",
                                "message": "No such call.", "param": "call_id"}, 404)
        call.end()
        return Response(status_code=200)

    async def _auth(self, request: Request) -> Any:
        """The ephemeral secret presented (None for an API key), or the error response."""
        from .app import _rest_error
        from .auth import rest_key

        headers = {k.lower(): v for k, v in request.headers.items()}
        refusal = self.server.guard.check_origin(headers.get("origin"), headers.get("host"))
        if refusal is not None:
            return _rest_error(refusal.error(), refusal.status)
        problem, secret = await self.server._check_key(rest_key(headers))
        if problem is not None:
            return _rest_error(problem, 503 if problem["type"] == "server_error" else 401)
        return secret

    async def _answer(self, request: Request, beta: bool) -> Response:
        from starlette.responses import Response

        from .app import _rest_error

        secret = await self._auth(request)
        if isinstance(secret, Response):
            return secret
        client = request.client.host if request.client is not None else "unknown"
        refusal = self.server._draining_refusal() or self.server.guard.admit(client)
        if refusal is not None:
            return _rest_error(refusal.error(), refusal.status)
        opened = False
        try:  # (the place is given back when the call ends, or here if none starts)
            response = await self._offer(request, secret, beta, client)
            opened = response.status_code == 201
            return response
        finally:
            if not opened:
                self.server.guard.release(client)

    async def _offer(self, request: Request, secret: Any, beta: bool,
                     client: str) -> Response:
        from starlette.responses import Response

        from ..protocol.errors import ProtocolError
        from . import secrets as sec
        from .app import _rest_error
        from .guard import BodyTooLarge, read_body

        try:
            body = await read_body(request, MAX_SDP_BYTES * 4,
                                   self.server.settings.body_timeout_s)
            offer, session = await _parse_offer(request, body)
            config = (sec.session_for_connection(secret) if secret is not None
                      else RealtimeSession(model=request.query_params.get("model")
                                           or "gpt-realtime"))
            if session is not None:
                if secret is not None:
                    raise ProtocolError("A session configuration cannot come with an "
                                        "ephemeral secret: the secret carries it.",
                                        code="invalid_request_error", param="session")
                config, _, _ = sec.parse_client_secret_request({"session": session})
            call, answer = await self._open(offer, config, beta, client)
        except ProtocolError as exc:
            return _rest_error(exc.to_error(None), 400)
        except (BodyTooLarge, TimeoutError):
            return _rest_error({"type": "invalid_request_error", "code": "invalid_sdp",
                                "message": "The SDP offer is too large or too slow.",
                                "param": None}, 400)
        except SdpError as exc:
            return _rest_error({"type": "invalid_request_error", "code": "invalid_sdp",
                                "message": str(exc), "param": "sdp"}, 400)
        return Response(answer, status_code=201, media_type="application/sdp",
                        headers={"Location": f"/v1/realtime/calls/{call.id}"})

    # ------------------------------------------------------------------ calls

    async def _open(self, offer: str, config: RealtimeSession, beta: bool,
                    client: str) -> tuple[Call, str]:
        from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

        pc = RTCPeerConnection(RTCConfiguration(
            iceServers=ice_servers(self.server.settings.webrtc_ice_servers)))
        call = Call(new_id("rtc"), pc)

        def event(payload: dict[str, Any]) -> None:
            from ..protocol.ids import event_id

            text = json.dumps({"type": payload["type"], "event_id": event_id(),
                               **{k: v for k, v in payload.items() if k != "type"}})
            self._spawn(call, call.deliver(text))

        call.audio = OutboundAudio(event)
        pc.addTrack(call.audio.track)

        @pc.on("track")
        def on_track(track: Any) -> None:
            if track.kind == "audio":
                self._spawn(call, self._microphone(call, track))

        @pc.on("datachannel")
        def on_channel(channel: Any) -> None:
            if channel.label != "oai-events":
                return
            call.channel = channel
            channel.on("open", call.flush)
            channel.on("message", lambda message: call.offer(message)
                       if isinstance(message, str) else None)
            call.flush()

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                call.end()

        try:
            await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
            if not any(t.kind == "audio" for t in pc.getTransceivers()):
                raise SdpError("The offer has no audio media section.")
            await pc.setLocalDescription(await pc.createAnswer())
        except SdpError:
            await pc.close()
            raise
        except Exception as exc:  # aiortc's parse and negotiation errors
            await pc.close()
            raise SdpError(f"The SDP offer could not be answered: {exc}") from None
        self.calls[call.id] = call
        call.task = asyncio.get_running_loop().create_task(
            self._run(call, config, beta, client))
        return call, pc.localDescription.sdp

    async def _run(self, call: Call, config: RealtimeSession, beta: bool,
                   client: str) -> None:
        server = self.server
        driver = server.new_driver(config, beta=beta, transcription=False,
                                   kind="webrtc")
        server.sessions.add(driver)
        try:
            await driver.run(call.inbox.get, lambda text: self._from_session(call, text))
        except Exception:
            log.exception("call %s failed", call.id)
        finally:
            server.sessions.discard(driver)
            server.guard.release(client)
            self.calls.pop(call.id, None)
            for task in list(call.tasks):
                task.cancel()
            with contextlib.suppress(Exception):
                await call.pc.close()

    async def _from_session(self, call: Call, text: str) -> None:
        """A server event: audio to the track, the rest to the data channel."""
        audio = call.audio
        assert audio is not None
        data = json.loads(text)
        kind = data.get("type")
        if kind in ("response.output_audio.delta", "response.audio.delta"):
            audio.push(base64.b64decode(data["delta"]), data["response_id"], data["item_id"],
                       data.get("content_index", 0))
            return
        if kind == "input_audio_buffer.speech_started" and audio.playing():
            await call.deliver(text)
            self._barge_in(call)
            return
        if kind == "output_audio_buffer.cleared":  # the client's output_audio_buffer.clear
            audio.clear()
        if kind == "response.done":
            await call.deliver(text)
            audio.finish(data["response"]["id"])
            return
        await call.deliver(text)

    def _barge_in(self, call: Call) -> None:
        """The caller talks over the answer: stop it where it is and keep in the
        conversation only what was heard."""
        assert call.audio is not None
        for response_id, item_id, content_index, heard_ms in call.audio.clear():
            from ..protocol.ids import event_id

            self._spawn(call, call.deliver(json.dumps({
                "type": "output_audio_buffer.cleared", "event_id": event_id(),
                "response_id": response_id})))
            call.offer(json.dumps({"type": "conversation.item.truncate", "item_id": item_id,
                                   "content_index": content_index,
                                   "audio_end_ms": heard_ms}))

    async def _microphone(self, call: Call, track: Any) -> None:
        """The caller's Opus track → 24 kHz pcm16 appends for the session."""
        import av
        from aiortc.mediastreams import MediaStreamError

        resampler = av.AudioResampler(format="s16", layout="mono", rate=SESSION_RATE)
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            for out in resampler.resample(frame):
                pcm = out.to_ndarray().tobytes()
                call.offer(json.dumps({"type": "input_audio_buffer.append",
                                       "audio": base64.b64encode(pcm).decode()}))

    def _spawn(self, call: Call, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        call.tasks.add(task)
        task.add_done_callback(call.tasks.discard)

    # ------------------------------------------------------------------ sideband

    async def attach(self, ws: WebSocket, call_id: str) -> None:
        """A backend's WebSocket on a call: it hears the session, and may speak to it."""
        call = self.calls.get(call_id)
        if call is None:
            await ws.send_text(json.dumps({"type": "error", "event_id": new_id("event"),
                                           "error": {"type": "invalid_request_error",
                                                     "code": "call_not_found",
                                                     "message": f"No call '{call_id}'.",
                                                     "param": "call_id", "event_id": None}}))
            await ws.close(4000, "call_not_found")
            return
        call.sidebands.add(ws.send_text)
        try:
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    return
                if message.get("text") is not None:
                    call.offer(message["text"])
        finally:
            call.sidebands.discard(ws.send_text)

    async def aclose(self) -> None:
        for call in list(self.calls.values()):
            call.end()
        tasks = [c.task for c in self.calls.values() if c.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=5)


def _without_audio(value: Any) -> Any:
    """``value`` with every base64 ``audio`` field set to null."""
    if isinstance(value, dict):
        return {k: None if k == "audio" and isinstance(v, str) else _without_audio(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_without_audio(v) for v in value]
    return value


async def _parse_offer(request: Request, body: bytes) -> tuple[str, Any]:
    """(SDP offer, session config or None) from a raw or multipart body."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    session: Any = None
    if content_type == "multipart/form-data":
        from .audio_api import RequestError, _form

        try:
            form = await _form(request, body)
        except RequestError as exc:
            raise SdpError(exc.message) from None
        try:
            sdp_part, session_part = form.get("sdp"), form.get("session")
            sdp = (await sdp_part.read()).decode() if hasattr(sdp_part, "read") else sdp_part
            if session_part is not None:
                raw = (await session_part.read() if hasattr(session_part, "read")
                       else session_part)
                try:
                    session = json.loads(raw)
                except ValueError:
                    raise SdpError("The 'session' part is not valid JSON.") from None
        finally:
            await form.close()
    else:
        sdp = body.decode("utf-8", "replace")
    if not isinstance(sdp, str) or not sdp.strip().startswith("v=0"):
        raise SdpError("Expected an SDP offer (starting with 'v=0') as the body, or as the "
                       "'sdp' part of a multipart form.")
    if len(sdp) > MAX_SDP_BYTES:
        raise SdpError("The SDP offer is too large.")
    return sdp, session

