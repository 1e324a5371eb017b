"""Phone calls through Twilio Media Streams: the WebSocket ``/twilio/media-stream``.

Twilio opens the socket for a ``<Connect><Stream url="wss://…/twilio/media-stream">``
and cannot send an ``Authorization`` header, so a stream is authenticated in one of
two ways, checked before any session is built:

* with ``twilio_auth_token`` set, by its ``X-Twilio-Signature`` header: base64
  HMAC-SHA1, keyed with the account's auth token, of the stream's full ``wss://`` URL
  (:func:`twilio_signature`). The URL is rebuilt from ``X-Forwarded-Host`` or ``Host``
  (a tunnel must pass the public host on), with and without a port. A valid signature
  is enough;
* otherwise, on a server with API keys, by a ``<Parameter name="api_key" …/>`` of the
  stream (it arrives in ``start.customParameters``): one of the server's keys, or an
  ephemeral ``ek_`` client secret, whose session configuration the call then starts
  from. An ``api_key`` that is present is checked in every case.

A missing or bad credential closes the stream (3000, like a bad key on
``/v1/realtime``, with the reason). So does a stream that does not begin with
``connected``/``start`` or sends no ``start`` within :data:`START_TIMEOUT_S` (1008).
The call's session is configured from ``start`` (protocol/twilio.py) and served by the
same driver as every other session, with :class:`TwilioCodec` at its edge.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket, WebSocketState

from ..protocol.errors import ProtocolError
from ..protocol.frame import decode_frame
from ..protocol.session import RealtimeSession, apply_update
from ..protocol.twilio import TwilioCodec
from . import secrets as sec

if TYPE_CHECKING:
    from .app import RealtimeServer

log = logging.getLogger(__name__)

START_TIMEOUT_S = 10.0  # Twilio sends connected and start at once
SIGNATURE_HEADER = "x-twilio-signature"
Receive = Callable[[], Awaitable[str | bytes | None]]


def twilio_signature(token: str, url: str) -> str:
    """Twilio's request signature of ``url`` (a WebSocket upgrade has no POST
    parameters to append): base64 of HMAC-SHA1 keyed with the auth token."""
    digest = hmac.new(token.encode(), url.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def signed_urls(headers: dict[str, str], path: str, query: str) -> list[str]:
    """The URLs Twilio may have signed for this request: ``wss://`` and the public host
    (``X-Forwarded-Host``, else ``Host``), as given, without its port and with :443."""
    urls: list[str] = []
    tail = path + (f"?{query}" if query else "")
    for value in (headers.get("x-forwarded-host"), headers.get("host")):
        if not value:
            continue
        host = value.split(",")[0].strip()
        bare = host.rsplit(":", 1)[0] if host.rsplit(":", 1)[-1].isdigit() else host
        for name in (host, bare, f"{bare}:443"):
            url = f"wss://{name}{tail}"
            if url not in urls:
                urls.append(url)
    return urls


def signature_valid(token: str, signature: str, urls: list[str]) -> bool:
    return any(hmac.compare_digest(twilio_signature(token, url), signature) for url in urls)


async def serve_twilio(server: RealtimeServer, ws: WebSocket, headers: dict[str, str],
                       receive: Receive) -> None:
    """Serve one Twilio Media Stream (the caller was admitted by the guard)."""
    await ws.accept()
    token = server.settings.twilio_auth_token
    if token:
        signature = headers.get(SIGNATURE_HEADER)
        urls = signed_urls(headers, ws.scope.get("path", ""),
                           ws.scope.get("query_string", b"").decode("latin-1"))
        if not signature or not signature_valid(token, signature, urls):
            await _refuse(ws, 3000, "invalid X-Twilio-Signature" if signature
                          else "missing X-Twilio-Signature")
            return
    start = await _read_start(receive)
    if start is None:
        return  # Twilio went away
    if isinstance(start, tuple):
        await _refuse(ws, *start)
        return
    codec = TwilioCodec()
    try:
        update = codec.begin(start)
    except ProtocolError as exc:
        await _refuse(ws, 1008, f"bad start: {exc.message}")
        return
    config = await _session(server, ws, codec, signed=bool(token))
    if config is None:
        return
    try:
        config = apply_update(config, update["session"], voice_locked=False)
    except ProtocolError as exc:
        await _refuse(ws, 1008, f"bad stream parameter: {exc.message}")
        return
    driver = server.new_driver(config, beta=False, transcription=False, kind="twilio",
                               codec=codec)
    stream = codec.stream
    assert stream is not None
    log.info("Twilio stream %s (call %s) started: session %s", stream.stream_sid,
             stream.call_sid or "-", config.id)
    server.sessions.add(driver)
    try:
        close = await driver.run(receive, ws.send_text)
    finally:
        server.sessions.discard(driver)
        log.info("Twilio stream %s ended", stream.stream_sid)
    if close is not None and ws.client_state == WebSocketState.CONNECTED:
        with contextlib.suppress(Exception):
            await ws.close(close[0], _reason(close[1]))


async def _session(server: RealtimeServer, ws: WebSocket, codec: TwilioCodec,
                   signed: bool) -> RealtimeSession | None:
    """The session the call starts from, or None once the stream is refused: checks the
    ``api_key`` parameter when present, or when it is the only credential the server
    can ask for (API keys, no signature)."""
    assert codec.stream is not None
    key = codec.stream.parameters.get("api_key")
    if key is None and (signed or not server.settings.keys):
        return RealtimeSession(model="gpt-realtime")
    problem, secret = await server._check_key(key)
    if problem is not None:
        server.metrics.error(problem)
        reason = ("missing api_key parameter" if key is None
                  else "the client secret store is unavailable"
                  if problem["type"] == "server_error" else "invalid api_key parameter")
        await _refuse(ws, 1011 if problem["type"] == "server_error" else 3000, reason)
        return None
    if secret is None:
        return RealtimeSession(model="gpt-realtime")
    if secret.transcription:
        await _refuse(ws, 1008, "a transcription session's client secret cannot take a call")
        return None
    return sec.session_for_connection(secret)


async def _read_start(receive: Receive) -> dict[str, Any] | tuple[int, str] | None:
    """The ``start`` message; (close code, reason) when the stream begins otherwise;
    None when it went away first."""
    try:
        async with asyncio.timeout(START_TIMEOUT_S):
            while True:
                frame = await receive()
                if frame is None:
                    return None
                if isinstance(frame, bytes):
                    return 1003, "binary frames are not Twilio Media Streams messages"
                try:
                    data = decode_frame(frame)
                except ProtocolError:
                    return 1008, "not a Twilio Media Streams message (invalid JSON)"
                event = data.get("event")
                if not isinstance(event, str):
                    return 1008, "not a Twilio Media Streams message (no 'event')"
                if event == "start":
                    return data
                if event != "connected":
                    return 1008, f"expected 'start' first, not {event[:32]!r}"
    except TimeoutError:
        return 1008, f"no 'start' message within {START_TIMEOUT_S:g} s"
    except Exception:  # a broken connection reads like a client that went away
        log.debug("Twilio stream: receive failed before start", exc_info=True)
        return None


def _reason(text: str) -> str:
    """A close reason fits in 123 bytes of UTF-8."""
    return text.encode()[:123].decode(errors="ignore")


async def _refuse(ws: WebSocket, code: int, reason: str) -> None:
    log.warning("Twilio stream refused (%d): %s", code, reason)
    if ws.client_state == WebSocketState.CONNECTED:
        with contextlib.suppress(Exception):
            await ws.close(code, _reason(reason))
