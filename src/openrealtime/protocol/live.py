"""GPT-Live (``client.live`` of the openai SDK, WebSocket ``/v1/live/sessions``) as a
third dialect at the edge, over the same core as the Realtime API.

Live has no turn events: the model decides when the user has finished and when it is
interrupted. Here that is the core's ``semantic_vad`` (end-of-turn model) with
interruption on; the user's and the assistant's words come as timestamped transcript
deltas, audio as ``session.output_audio.delta``. Function tools are Live's *Responses
delegation* (``delegation.responses.tools``): a call reaches the client as a
``session.delegation.created`` plus ``response.event`` wrapping the Responses
``response.output_item.done``; the client answers with ``response.item.create``
(``function_call_output``) and ``response.create``.

*Client delegation*: with ``delegation: {"type": "client"}`` given in ``session.start``,
the model has one tool, ``delegate_to_application(task)``; when it uses it the client gets
``session.delegation.created`` (target ``client``), the model is told the application is
on it and says so briefly (the automatic acknowledgement; its delay is not waited), and
the application answers with ``session.commentary.append`` (spoken) or
``.thinking.append`` (silent) naming the ``delegation_id``. Without an explicit
``delegation`` (the default client mode) the model gets no such tool and never delegates:
a small local model calls tools it does not need. Context from the application
(``session.instructions.append``, ``.thinking.append``, ``.commentary.append``) becomes a
system item of the conversation; commentary is also spoken at once when the assistant is
not already speaking (then the next answer uses it), as the reference's "context the model
can communicate".

Not supported, refused with an ``error`` naming them: the Decisions API (``decision.*``,
``delegation.type: "decisions"``, ``triggers``), output audio fixtures, initial ``input``
history, forks and sideband connections (other paths), WebRTC (``client``), ``store``.

Timestamps (``start_ms``/``end_ms``) are on the input timeline: milliseconds of input
audio received. The user's transcript spans the turn's speech; the assistant's deltas
carry the moment they were produced.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from .errors import ProtocolError, unknown_parameter
from .ids import event_id, new_id
from .server_events import ServerEvent

LIVE_MODELS = ("gpt-live-1", "gpt-live-1.1")
DEFAULT_VOICE = "marin"
_REFUSED_EVENTS = {
    "session.output_audio.fixture.play": "Output audio fixtures are not supported by "
    "this server.",
    "decision.create": "The Decisions API is not supported by this server.",
    "decision.item.create": "The Decisions API is not supported by this server.",
    "decision.item.delete": "The Decisions API is not supported by this server.",
}
# Context appends: how each reaches the model (a system item's text).
_APPENDS = {
    "session.instructions.append": "{}",
    "session.thinking.append": "Context for you only, not to be read out: {}",
    "session.commentary.append": "Tell the user this, briefly and in your own words: {}",
}
MAX_APPEND_TOKENS = 500
DELEGATE = "delegate_to_application"
_DELEGATE_TOOL = {
    "type": "function", "name": DELEGATE,
    "description": "Hand a task you cannot do yourself (looking something up, an action on "
                   "the user's account, anything that needs the application's data) to the "
                   "application. It will tell you the result; until then say briefly that "
                   "you are on it.",
    "parameters": {"type": "object", "properties": {"task": {
        "type": "string", "description": "What the application should do, in one sentence."}},
        "required": ["task"]}}
_SUPPORTED = ("session.start", "session.update", "session.input_audio.append",
              "session.input_audio.mute", "session.input_audio.unmute", *_APPENDS,
              "response.item.create", "response.create", "session.close")


def _object(value: Any, param: str) -> dict[str, Any]:
    """``value`` as an object (absent: empty), or the reference's invalid_type error."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ProtocolError(f"Invalid type for '{param}': expected an object.",
                            code="invalid_type", param=param)
    return value


class DialectEvent(ServerEvent):
    """An event a dialect codec made itself, already in its wire shape."""

    type: str = "dialect"
    payload: dict[str, Any]


class LiveCodec:
    """One connection's translation between Live and the core's GA events (stateful)."""

    beta = False
    supported_types = ["session.update", "input_audio_buffer.append",
                       "conversation.item.create", "response.create", "session.close"]

    def __init__(self) -> None:
        self.started = False
        self.muted = False
        self.model = LIVE_MODELS[0]
        self.delegation: dict[str, Any] | None = None
        self.received = 0  # input audio bytes received: the session timeline
        self.bytes_per_ms = 48  # pcm16 at 24 kHz (G.711: 8)
        self.speech: dict[str, list[int]] = {}  # item id -> [start_ms, end_ms]
        self.calls: dict[str, str] = {}  # response id -> its delegation id
        self.client_event: str | None = None  # the event_id of the event being handled
        self.start_event: str | None = None  # session.start's, for session.started
        self.announced = False  # session.started was sent
        self.resource: dict[str, Any] = {}  # the session as Live shows it
        self.responding = 0  # responses created and not yet done
        self.client_delegation = False  # the model may delegate to the application
        self.delegations: dict[str, str] = {}  # client delegation id -> its call id
        self.acknowledge: set[str] = set()  # responses whose end asks for an acknowledgement
        self.asks: list[dict[str, Any]] = []  # GA events for the core, from encode

    # ------------------------------------------------------------------ client → core

    def intercept(self, data: dict[str, Any]) -> tuple[list[dict[str, Any]],
                                                       list[dict[str, Any]]]:
        """(the GA events to hand the core, Live events to send after them)."""
        kind = data.get("type")
        self.client_event = data.get("event_id") if isinstance(data.get("event_id"),
                                                                str) else None
        if not isinstance(kind, str):
            raise ProtocolError("The 'type' field must be a string.", code="invalid_type",
                                param="type")
        if kind in _REFUSED_EVENTS:
            raise ProtocolError(_REFUSED_EVENTS[kind], code="unsupported_feature",
                                param="type")
        if kind not in _SUPPORTED:
            raise ProtocolError(f"Invalid value: '{kind}'. Supported values are: "
                                + ", ".join(f"'{t}'" for t in _SUPPORTED) + ".",
                                code="invalid_value", param="type")
        if kind == "session.start":
            if self.started:
                raise ProtocolError("The session has already started.",
                                    code="session_already_started", param="type")
            return [self._start(data.get("session"))], []
        if not self.started:
            raise ProtocolError("Send session.start first.", code="session_not_started",
                                param="type")
        if kind == "session.input_audio.append":
            return [self._audio(data)], []
        if kind in _APPENDS:
            return self._append(kind, data)
        if kind in ("session.input_audio.mute", "session.input_audio.unmute"):
            self.muted = kind.endswith(".mute")
            return [], [self._event("session.input_audio.muted" if self.muted
                                      else "session.input_audio.unmuted",
                                      reply=self.client_event)]
        if kind == "session.update":
            raise ProtocolError("This server has no delegation or triggers to update.",
                                code="unsupported_feature", param="session")
        if kind == "response.item.create":
            if self.delegation is None:
                raise ProtocolError("response.item.create needs Responses delegation.",
                                    code="invalid_request_error", param="type")
            return [{"type": "conversation.item.create", "item": data.get("item"),
                     **self._id(data)}], []
        if kind == "response.create":
            if self.delegation is None:
                raise ProtocolError("response.create needs Responses delegation.",
                                    code="invalid_request_error", param="type")
            return [{"type": "response.create", **self._id(data)}], []
        # session.close: the core ends the session; session.closed is the last event
        return [{"type": "session.close", **self._id(data)}], [self._event(
            "session.closed", reply=self.client_event, reason="close_requested",
            session=self.resource, usage={"seconds": round(self._now() / 1000, 3)})]

    def wire_error(self, exc: ProtocolError) -> ProtocolError:
        return exc

    def _append(self, kind: str, data: dict[str, Any]) -> tuple[list[dict[str, Any]],
                                                                list[dict[str, Any]]]:
        """Instructions, thinking or commentary from the application, as a system item
        (commentary also asks for an answer when none is under way)."""
        content = data.get("content")
        if not isinstance(content, str) or not content.strip():
            raise ProtocolError("Invalid type for 'content': expected a non-empty string.",
                                code="invalid_type", param="content")
        if len(content) > MAX_APPEND_TOKENS * 4:  # (about four characters a token)
            raise ProtocolError(f"'content' is too long: at most {MAX_APPEND_TOKENS} "
                                "tokens.", code="string_above_max_length", param="content")
        if "delegation_id" not in data:
            raise ProtocolError("Missing required parameter: 'delegation_id' (null for "
                                "general context).", code="missing_required_parameter",
                                param="delegation_id")
        delegation = data["delegation_id"]
        if delegation is not None and delegation not in self.delegations:
            message = ("Non-null delegation IDs are not accepted with Responses delegation."
                       if self.delegation is not None
                       else f"Unknown client delegation '{delegation}'.")
            raise ProtocolError(message, code="invalid_value", param="delegation_id")
        if kind != "session.instructions.append":
            self.acknowledge.clear()  # (context from the application replaces the "on it")
        ga = [{"type": "conversation.item.create", **self._id(data), "item": {
            "type": "message", "role": "system",
            "content": [{"type": "input_text", "text": _APPENDS[kind].format(content)}]}}]
        if kind == "session.commentary.append" and not self.responding:
            ga.append({"type": "response.create", **self._id(data)})
        now = self._now()
        return ga, [self._event(kind.replace(".append", ".appended"), reply=self.client_event,
                                start_ms=now, end_ms=now)]

    @staticmethod
    def _id(data: dict[str, Any]) -> dict[str, Any]:
        return {"event_id": data["event_id"]} if isinstance(data.get("event_id"), str) else {}

    def _audio(self, data: dict[str, Any]) -> dict[str, Any]:
        audio = data.get("audio")
        if not isinstance(audio, str):
            raise ProtocolError("Invalid type for 'audio': expected a base64 string.",
                                code="invalid_type", param="audio")
        if self.muted:  # the model hears silence while muted (G.711's silence is not 0,
            # but a constant level is silence to the VAD)
            try:
                raw = base64.b64decode(audio, validate=True)
            except ValueError:  # (binascii.Error)
                raise ProtocolError("Invalid 'audio'. Expected base64-encoded audio bytes.",
                                    code="invalid_value", param="audio") from None
            audio = base64.b64encode(bytes(len(raw))).decode()
        self.received += len(audio) * 3 // 4  # (base64 characters -> bytes)
        return {"type": "input_audio_buffer.append", "audio": audio, **self._id(data)}

    def _start(self, session: Any) -> dict[str, Any]:
        if not isinstance(session, dict):
            raise ProtocolError("Invalid type for 'session': expected an object.",
                                code="invalid_type", param="session")
        for key in ("input", "triggers", "client", "safety_identifier"):
            if session.get(key):
                raise ProtocolError(f"'session.{key}' is not supported by this server.",
                                    code="unsupported_feature", param=f"session.{key}")
        if session.get("store"):
            raise ProtocolError("Stored sessions (store) are not supported by this server.",
                                code="unsupported_feature", param="session.store")
        known = {"model", "audio", "instructions", "delegation", "input", "triggers",
                 "client", "safety_identifier", "store"}
        for key in session:
            if key not in known:
                raise unknown_parameter(f"session.{key}")
        model = session.get("model")
        if not isinstance(model, str) or not model:
            raise ProtocolError("Missing required parameter: 'session.model'.",
                                code="missing_required_parameter", param="session.model")
        ga: dict[str, Any] = {
            "type": "realtime", "output_modalities": ["audio"],
            "audio": {"input": {"transcription": {"model": "whisper-1"},
                                "turn_detection": {"type": "semantic_vad",
                                                   "eagerness": "auto",
                                                   "interrupt_response": True,
                                                   "create_response": True}},
                      "output": {"voice": DEFAULT_VOICE}}}
        audio = _object(session.get("audio"), "session.audio")
        if "format" in audio:
            ga["audio"]["input"]["format"] = ga["audio"]["output"]["format"] = audio["format"]
            pcm = isinstance(audio["format"], dict) and audio["format"].get("type") == "audio/pcm"
            self.bytes_per_ms = 48 if pcm else 8
        voice = _object(audio.get("output"), "session.audio.output").get("voice")
        if voice is not None:
            ga["audio"]["output"]["voice"] = voice
        if session.get("instructions"):
            ga["instructions"] = session["instructions"]
        ga.update(self._delegation(session.get("delegation")))
        self.model = model
        self.started = True
        self.start_event = self.client_event
        return {"type": "session.update", "session": ga}

    def _delegation(self, delegation: Any) -> dict[str, Any]:
        if delegation is None:
            self.delegation = None
            return {}
        if isinstance(delegation, dict) and delegation.get("type") == "client":
            self.delegation = None
            self.client_delegation = True
            return {"tools": [_DELEGATE_TOOL], "tool_choice": "auto"}
        if not isinstance(delegation, dict) or delegation.get("type") != "responses":
            kind = delegation.get("type") if isinstance(delegation, dict) else delegation
            raise ProtocolError(f"Delegation '{kind}' is not supported by this server; "
                                "use 'client' or 'responses'.", code="unsupported_feature",
                                param="session.delegation.type")
        responses = _object(delegation.get("responses"), "session.delegation.responses")
        listed = responses.get("tools") or []
        if not isinstance(listed, list):
            raise ProtocolError("Invalid type for 'session.delegation.responses.tools': "
                                "expected an array.", code="invalid_type",
                                param="session.delegation.responses.tools")
        tools = []
        for i, tool in enumerate(listed):
            if not isinstance(tool, dict) or tool.get("type") != "function":
                raise ProtocolError("Only function tools are supported by this server.",
                                    code="unsupported_feature",
                                    param=f"session.delegation.responses.tools[{i}]")
            tools.append({"type": "function", "name": tool.get("name"),
                          "description": tool.get("description") or "",
                          "parameters": tool.get("parameters") or {}})
        self.delegation = delegation
        out: dict[str, Any] = {"tools": tools}
        choice = responses.get("tool_choice")
        if isinstance(choice, str):
            out["tool_choice"] = choice
        if responses.get("instructions"):
            out["instructions"] = responses["instructions"]
        return out

    # ------------------------------------------------------------------ core → client

    def encode(self, event: ServerEvent, temperature: float) -> list[str]:
        if isinstance(event, DialectEvent):
            return [json.dumps(event.payload)]
        data = event.model_dump(mode="json")
        return [json.dumps(e, separators=(",", ":")) for e in self._translate(data)]

    @staticmethod
    def _event(kind: str, reply: str | None = None, **fields: Any) -> dict[str, Any]:
        """A Live server event; ``reply``: the client event it answers."""
        out = {"type": kind, "event_id": event_id(), **fields}
        if reply:
            out["client_event_id"] = reply
        return out

    def _now(self) -> int:
        return self.received // self.bytes_per_ms

    def _resource(self, session: dict[str, Any]) -> dict[str, Any]:
        audio_out = session["audio"]["output"]
        return {"id": session["id"], "expires_at": session["expires_at"], "model": self.model,
                "status": "active", "instructions": session["instructions"],
                "audio": {"format": audio_out["format"], "output": {"voice": audio_out["voice"]}},
                "delegation": self.delegation or {"type": "client"}}

    def _translate(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        kind = data["type"]
        if kind == "session.updated":
            self.resource = self._resource(data["session"])
            first, self.announced = not self.announced, True
            return [self._event("session.started" if first else "session.updated",
                                reply=self.start_event if first else None,
                                session=self.resource)]
        if kind == "error":
            error = dict(data["error"])
            client_id = error.pop("event_id", None)
            error = {k: v for k, v in error.items() if v is not None}
            error.setdefault("code", "invalid_request_error")
            if client_id:
                error["client_event_id"] = client_id
            return [{"type": "error", "event_id": event_id(), "error": error}]
        if kind == "input_audio_buffer.speech_started":
            self.speech[data["item_id"]] = [data["audio_start_ms"], data["audio_start_ms"]]
        elif kind == "input_audio_buffer.speech_stopped":
            span = self.speech.setdefault(data["item_id"], [data["audio_end_ms"]] * 2)
            span[1] = data["audio_end_ms"]
        elif kind == "conversation.item.input_audio_transcription.failed":
            self.speech.pop(data["item_id"], None)  # (no transcript will need its span)
        elif kind == "conversation.item.input_audio_transcription.delta" and data["delta"]:
            start, end = self.speech.pop(data["item_id"], [self._now(), self._now()])
            return [self._event("session.input_transcript.delta", delta=data["delta"],
                                start_ms=start, end_ms=max(start, end))]
        elif kind == "response.output_audio.delta":
            return [{"type": "session.output_audio.delta", "delta": data["delta"]}]
        elif kind == "response.output_audio_transcript.delta" and data["delta"]:
            now = self._now()
            return [self._event("session.output_transcript.delta", delta=data["delta"],
                                start_ms=now, end_ms=now)]
        elif kind == "response.output_item.done" and data["item"]["type"] == "function_call":
            if self.client_delegation and data["item"]["name"] == DELEGATE:
                return self._delegate(data)
            return self._call(data)
        elif kind == "response.created":
            self.responding += 1
        elif kind == "response.done":
            self.responding = max(0, self.responding - 1)
            if data["response"]["id"] in self.acknowledge:
                self.acknowledge.discard(data["response"]["id"])
                self.asks.append({"type": "response.create"})  # "one moment, checking"
            out = []
            delegation = self.calls.pop(data["response"]["id"], None)
            if delegation is not None:
                response = data["response"]
                out.append(self._event("response.event", delegation_id=delegation, event={
                    "type": "response.completed" if response["status"] == "completed"
                    else f"response.{response['status']}",
                    "response": {"id": response["id"], "object": "response",
                                 "status": response["status"]}}))
            out.append(self._event("session.usage.updated",
                                   usage={"seconds": round(self._now() / 1000, 3)}))
            return out
        return []

    def _delegate(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        """The model hands a task to the application: a client delegation."""
        item = data["item"]
        delegation = new_id("del")
        self.delegations[delegation] = item["call_id"]
        self.asks.append({"type": "conversation.item.create", "item": {
            "type": "function_call_output", "call_id": item["call_id"],
            "output": json.dumps({"status": "delegated", "delegation_id": delegation,
                                  "note": "The application is on it and will tell you the "
                                          "result. Tell the user briefly you are checking."})}})
        self.acknowledge.add(data["response_id"])
        return [self._event("session.delegation.created", offset_ms=self._now(),
                            delegation={"id": delegation, "target": "client",
                                        "type": "delegation"})]

    def take_asks(self) -> list[dict[str, Any]]:
        """GA client events the dialect asks of the core on its own (after encoding)."""
        asks, self.asks = self.asks, []
        return asks

    def _call(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        """A function call: a Responses delegation, and its item as a Responses event."""
        response_id = data["response_id"]
        out = []
        delegation = self.calls.get(response_id)
        if delegation is None:
            delegation = self.calls[response_id] = new_id("del")
            out.append(self._event("session.delegation.created", offset_ms=self._now(),
                                   delegation={"id": delegation, "target": "responses",
                                               "type": "delegation",
                                               "response_id": response_id}))
        item = data["item"]
        out.append(self._event("response.event", delegation_id=delegation, event={
            "type": "response.output_item.done", "output_index": data.get("output_index", 0),
            "item": {"type": "function_call", "id": item["id"], "call_id": item["call_id"],
                     "name": item["name"], "arguments": item["arguments"],
                     "status": "completed"}}))
        return out
