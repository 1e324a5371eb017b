"""Twilio Media Streams (``<Connect><Stream>``, a bidirectional stream) as a dialect at
the edge, over the same core as the Realtime API.

Twilio's messages carry an ``event`` field: ``connected``, then ``start`` (the stream's
``streamSid``, ``callSid``, ``customParameters`` and ``mediaFormat``: μ-law, 8000 Hz,
mono), then a ``media`` message every 20 ms (``media.payload``: base64 μ-law without
headers), ``mark`` (a mark we sent, echoed once the audio before it has played),
``dtmf`` and finally ``stop``. We send ``media``, ``mark`` and ``clear`` (drop what
Twilio has buffered), each naming the ``streamSid``.

The core speaks G.711 itself (``audio/pcmu`` in and out), so caller audio passes
through as ``input_audio_buffer.append`` and ``response.output_audio.delta`` becomes
``media``: no transcoding here. What this codec adds is playback tracking: outbound
audio goes out in chunks of at most :data:`MARK_CHUNK_MS`, each followed by a mark
naming the assistant item and the milliseconds of it sent so far; an echoed mark says
how much of that item the caller has heard. On barge-in (``speech_started`` while
marks are outstanding) it sends ``clear`` at once, and hands the core an
``output_audio_buffer.clear`` and a ``conversation.item.truncate`` at the heard
position, so the conversation holds only what the caller heard.

Those two client events are made on the output side (the writer task) but must reach
the core on the input side: they ride along with the next Twilio frames, one per frame
(a call sends ``media`` every 20 ms, so that is at most 20 ms later). One per frame,
after the frame's own audio, so a truncation the core refuses can lose nothing else.

Twilio ignores messages it does not know and has no error message of its own, so the
core's ``error`` events are logged, not sent. After ``start``, a malformed or unknown
Twilio message is logged and ignored: one odd message never drops a phone call.

``dtmf``: each key press becomes a user text item (``[The caller pressed 5 on the
keypad.]``) in the conversation; it does not start an answer by itself, the next turn
sees it. ``stop`` ends the session (``session.close``).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from .errors import ProtocolError
from .live import DialectEvent
from .server_events import ResponseOutputAudioDelta, ServerEvent

log = logging.getLogger(__name__)

BYTES_PER_MS = 8  # μ-law at 8 kHz: one byte a sample
# Outbound audio is cut into chunks of at most this, each followed by a mark: the
# precision of the heard position on barge-in (plus the echo's network delay).
MARK_CHUNK_MS = 100
TURN_DETECTION = ("server_vad", "semantic_vad")
MEDIA_FORMAT = {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}
MAX_LOGGED = 10  # per kind and stream; then one in a hundred (a broken peer floods)
_KEPT_ITEMS = 8  # items whose sent and heard positions are remembered


def _bounded(store: dict[str, int], key: str, value: int) -> None:
    """``store[key] = value``, forgetting the oldest keys past :data:`_KEPT_ITEMS`."""
    store[key] = value
    while len(store) > _KEPT_ITEMS:
        del store[next(iter(store))]


@dataclass
class StreamStart:
    """What ``start`` says about the stream."""

    stream_sid: str
    call_sid: str = ""
    account_sid: str = ""
    parameters: dict[str, str] = field(default_factory=dict)


def parse_start(data: dict[str, Any]) -> StreamStart:
    """The ``start`` message's stream, or ProtocolError (code ``invalid_start``)."""
    start = data.get("start")
    if not isinstance(start, dict):
        raise ProtocolError("'start' must be an object.", code="invalid_start", param="start")
    sid = start.get("streamSid") or data.get("streamSid")
    if not isinstance(sid, str) or not sid:
        raise ProtocolError("'start.streamSid' is missing.", code="invalid_start",
                            param="start.streamSid")
    media = start.get("mediaFormat", MEDIA_FORMAT)
    if not isinstance(media, dict) or any(
            str(media.get(k)).lower() != str(v).lower() for k, v in MEDIA_FORMAT.items()):
        raise ProtocolError("Unsupported 'start.mediaFormat': only audio/x-mulaw at 8000 Hz, "
                            "mono.", code="invalid_start", param="start.mediaFormat")
    custom = start.get("customParameters") or {}
    if not isinstance(custom, dict):
        raise ProtocolError("'start.customParameters' must be an object.",
                            code="invalid_start", param="start.customParameters")
    parameters = {str(k): v for k, v in custom.items() if isinstance(v, str)}
    return StreamStart(sid, _text(start.get("callSid")), _text(start.get("accountSid")),
                       parameters)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def session_for_start(stream: StreamStart) -> dict[str, Any]:
    """The GA ``session.update`` session for a phone call: μ-law in and out, voice
    answers, transcription, turn detection that answers and can be interrupted;
    ``instructions``, ``voice``, ``turn_detection`` and ``language`` from the stream's
    custom parameters, else the server's defaults."""
    params = stream.parameters
    kind = params.get("turn_detection", "server_vad")
    if kind not in TURN_DETECTION:
        raise ProtocolError(f"Unsupported turn_detection parameter '{kind[:32]}': use "
                            "server_vad or semantic_vad.", code="invalid_start",
                            param="turn_detection")
    transcription: dict[str, Any] = {"model": "whisper-1"}
    if params.get("language"):
        transcription["language"] = params["language"]
    session: dict[str, Any] = {
        "type": "realtime", "output_modalities": ["audio"],
        "audio": {"input": {"format": {"type": "audio/pcmu"}, "transcription": transcription,
                            "turn_detection": {"type": kind, "create_response": True,
                                               "interrupt_response": True}},
                  "output": {"format": {"type": "audio/pcmu"}}}}
    if params.get("voice"):
        session["audio"]["output"]["voice"] = params["voice"]
    if params.get("instructions"):
        session["instructions"] = params["instructions"]
    return session


class TwilioCodec:
    """One call's translation between Twilio Media Streams and the core (stateful)."""

    beta = False
    supported_types = ["session.update", "input_audio_buffer.append",
                       "conversation.item.create", "conversation.item.truncate",
                       "output_audio_buffer.clear", "session.close"]

    def __init__(self) -> None:
        self.stream: StreamStart | None = None
        # mark name -> (item id, ms of that item sent up to the mark), in sending order:
        # audio sent and not yet heard
        self.pending: OrderedDict[str, tuple[str, int]] = OrderedDict()
        self.heard: dict[str, int] = {}  # item id -> ms heard (its last echoed mark)
        self.sent: dict[str, int] = {}  # item id -> bytes of it sent
        self.interrupts: list[dict[str, Any]] = []  # for the core, with the next frames
        self._logged: dict[str, int] = {}

    @property
    def stream_sid(self) -> str:
        return self.stream.stream_sid if self.stream is not None else ""

    def begin(self, data: dict[str, Any]) -> dict[str, Any]:
        """Take the ``start`` message; return the GA ``session.update`` for the call."""
        stream = parse_start(data)
        update = {"type": "session.update", "session": session_for_start(stream)}
        self.stream = stream
        return update

    # ------------------------------------------------------------------ Twilio → core

    def intercept(self, data: dict[str, Any]) -> tuple[list[dict[str, Any]],
                                                       list[dict[str, Any]]]:
        """(the GA events to hand the core, messages to send back: none for Twilio)."""
        kind = data.get("event")
        if not isinstance(kind, str):
            raise ProtocolError("Not a Twilio Media Streams message: no 'event' field.",
                                code="invalid_event", param="event")
        if kind == "connected":
            return [], []
        if kind == "start":
            if self.stream is not None:
                raise ProtocolError("The stream has already started.", code="invalid_event",
                                    param="event")
            return [self.begin(data)], []
        if self.stream is None:
            raise ProtocolError(f"'{kind[:32]}' before 'start'.", code="invalid_event",
                                param="event")
        ga: list[dict[str, Any]] = []
        if kind == "media":
            ga = self._media(data)
        elif kind == "mark":
            self._echoed(data)
        elif kind == "dtmf":
            ga = self._dtmf(data)
        elif kind == "stop":
            return [{"type": "session.close"}], []
        else:
            self._log("unknown", "Twilio stream %s: ignored an unknown '%s' message",
                      self.stream_sid, kind[:32])
        if self.interrupts:  # (one a frame: a refused one takes nothing else with it)
            ga.append(self.interrupts.pop(0))
        return ga, []

    def wire_error(self, exc: ProtocolError) -> ProtocolError:
        return exc

    def _media(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        media = data.get("media")
        if not isinstance(media, dict) or not isinstance(media.get("payload"), str):
            raise ProtocolError("'media.payload' must be a base64 string.",
                                code="invalid_value", param="media.payload")
        if media.get("track", "inbound") not in ("inbound", "inbound_track"):
            return []  # (the call's other direction, in a both-tracks stream)
        try:  # checked here: an append the core refused would take an interrupt with it
            base64.b64decode(media["payload"], validate=True)
        except (binascii.Error, ValueError):
            raise ProtocolError("'media.payload' is not valid base64.", code="invalid_value",
                                param="media.payload") from None
        return [{"type": "input_audio_buffer.append", "audio": media["payload"]}]

    def _echoed(self, data: dict[str, Any]) -> None:
        """A mark came back: the audio sent before it has been played."""
        mark = data.get("mark")
        name = mark.get("name") if isinstance(mark, dict) else None
        if not isinstance(name, str) or name not in self.pending:
            # unknown, or dropped by our clear (Twilio echoes those marks too): not heard
            return
        while self.pending:  # marks come back in order; one lost means it played too
            key, (item_id, sent_ms) = self.pending.popitem(last=False)
            _bounded(self.heard, item_id, sent_ms)
            if key == name:
                break

    def _dtmf(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        dtmf = data.get("dtmf")
        digit = dtmf.get("digit") if isinstance(dtmf, dict) else None
        if not isinstance(digit, str) or not digit or len(digit) > 8:
            raise ProtocolError("'dtmf.digit' must be a key.", code="invalid_value",
                                param="dtmf.digit")
        log.info("Twilio stream %s: the caller pressed %s", self.stream_sid, digit)
        return [{"type": "conversation.item.create", "item": {
            "type": "message", "role": "user", "content": [
                {"type": "input_text",
                 "text": f"[The caller pressed {digit} on the keypad.]"}]}}]

    # ------------------------------------------------------------------ core → Twilio

    def take_asks(self) -> list[dict[str, Any]]:
        return []  # (its requests ride along with the next incoming message: intercept)

    def encode(self, event: ServerEvent, temperature: float) -> list[str]:
        if isinstance(event, DialectEvent):
            return [json.dumps(event.payload)]
        kind = event.type
        if isinstance(event, ResponseOutputAudioDelta):
            return self._outbound(event.item_id, event.delta)
        if kind == "input_audio_buffer.speech_started":
            return self._barge_in()
        if kind == "error":
            error = event.model_dump(mode="json")["error"]
            self._log("error", "Twilio stream %s: %s (%s)", self.stream_sid or "-",
                      error.get("message"), error.get("code"))
        elif kind == "conversation.item.truncated":
            log.debug("Twilio stream %s: truncated %s", self.stream_sid, event.model_dump())
        return []

    def _outbound(self, item_id: str, delta: str) -> list[str]:
        """``media`` messages of at most :data:`MARK_CHUNK_MS`, each followed by a mark."""
        if self.stream is None:
            return []
        try:
            audio = base64.b64decode(delta)
        except (binascii.Error, ValueError):  # (the core encoded it: not expected)
            log.warning("Twilio stream %s: undecodable audio delta dropped", self.stream_sid)
            return []
        out: list[str] = []
        step = MARK_CHUNK_MS * BYTES_PER_MS
        for start in range(0, len(audio), step):
            chunk = audio[start:start + step]
            sent = self.sent.get(item_id, 0) + len(chunk)
            _bounded(self.sent, item_id, sent)
            name = f"{item_id}:{sent // BYTES_PER_MS}"
            self.pending[name] = (item_id, sent // BYTES_PER_MS)
            out.append(self._message("media", media={
                "payload": base64.b64encode(chunk).decode()}))
            out.append(self._message("mark", mark={"name": name}))
        return out

    def _barge_in(self) -> list[str]:
        """The caller speaks over audio not yet heard: drop it from Twilio's buffer now,
        and truncate each item it belonged to at what was heard of it."""
        if not self.pending or self.stream is None:
            return []
        items = list(dict.fromkeys(item_id for item_id, _ in self.pending.values()))
        self.pending.clear()  # their echoes (Twilio echoes cleared marks) are not heard
        self.interrupts.append({"type": "output_audio_buffer.clear"})
        for item_id in items:
            heard = self.heard.get(item_id, 0)
            log.info("Twilio stream %s: barge-in; %s heard up to %d ms", self.stream_sid,
                     item_id, heard)
            self.interrupts.append({"type": "conversation.item.truncate", "item_id": item_id,
                                    "content_index": 0, "audio_end_ms": heard})
        return [self._message("clear")]

    def _message(self, event: str, **fields: Any) -> str:
        return json.dumps({"event": event, "streamSid": self.stream_sid, **fields},
                          separators=(",", ":"))

    def _log(self, kind: str, message: str, *args: Any) -> None:
        """Warn about the first few of a kind, then one in a hundred (a flood stays
        readable); the rest go to debug."""
        count = self._logged[kind] = self._logged.get(kind, 0) + 1
        level = logging.WARNING if count <= MAX_LOGGED or count % 100 == 0 else logging.DEBUG
        log.log(level, message, *args)
