"""The two wire dialects. GA is the internal form; beta is a codec at the edge.

A connection is beta when it sends ``OpenAI-Beta: realtime=v1`` or offers the
``openai-beta.realtime-v1`` subprotocol (the real service keyed the shape on that, not
on the model name).
"""

from __future__ import annotations

import json
from typing import Any

from .errors import ProtocolError, invalid_type, quote_list
from .server_events import ServerEvent

BETA_FORMATS: dict[str, dict[str, Any]] = {"pcm16": {"type": "audio/pcm", "rate": 24000},
                "g711_ulaw": {"type": "audio/pcmu"}, "g711_alaw": {"type": "audio/pcma"}}
_GA_TO_BETA_FORMAT = {"audio/pcm": "pcm16", "audio/pcmu": "g711_ulaw", "audio/pcma": "g711_alaw"}

BETA_TYPES = [
    "session.update", "transcription_session.update", "input_audio_buffer.append",
    "input_audio_buffer.commit", "input_audio_buffer.clear", "conversation.item.create",
    "conversation.item.retrieve", "conversation.item.truncate", "conversation.item.delete",
    "response.create", "response.cancel", "output_audio_buffer.clear",
]

_BETA_EVENT_NAMES = {
    "response.output_text.delta": "response.text.delta",
    "response.output_text.done": "response.text.done",
    "response.output_audio.delta": "response.audio.delta",
    "response.output_audio.done": "response.audio.done",
    "response.output_audio_transcript.delta": "response.audio_transcript.delta",
    "response.output_audio_transcript.done": "response.audio_transcript.done",
    "conversation.item.added": "conversation.item.created",
}
_BETA_CONTENT = {"output_text": "text", "output_audio": "audio"}
_GA_CONTENT = {"text": "output_text", "audio": "output_audio"}
# GA field paths (what validation reports) → the beta wire paths they came from.
_BETA_PARAMS = [
    ("session.audio.input.format", "session.input_audio_format"),
    ("session.audio.input.transcription", "session.input_audio_transcription"),
    ("session.audio.input.noise_reduction", "session.input_audio_noise_reduction"),
    ("session.audio.input.turn_detection", "session.turn_detection"),
    ("session.audio.output.format", "session.output_audio_format"),
    ("session.audio.output.voice", "session.voice"),
    ("session.audio.output.speed", "session.speed"),
    ("session.max_output_tokens", "session.max_response_output_tokens"),
    ("response.audio.output.format", "response.output_audio_format"),
    ("response.audio.output.voice", "response.voice"),
]
# Early-preview response.create fields that rtclient may still send: ignored.
_LEGACY_RESPONSE_FIELDS = {"commit", "cancel_previous", "append_input_items", "input_items"}


def is_beta(headers: dict[str, str], subprotocols: list[str], path: str = "/v1/realtime",
            query: dict[str, str] | None = None) -> bool:
    """Whether a connection speaks the beta (preview) protocol.

    The ``OpenAI-Beta: realtime=v1`` header or subprotocol says so wherever present.
    Otherwise the endpoint decides, as Azure defines it: ``/openai/realtime`` with a
    preview ``api-version`` (``…-preview``, rtclient's default ``2024-10-01-preview``)
    is the preview protocol, ``/openai/v1/realtime`` is GA, as is OpenAI's path.
    """
    beta = headers.get("openai-beta", "")
    if "realtime=v1" in beta.replace(" ", "") or "openai-beta.realtime-v1" in subprotocols:
        return True
    version = (query or {}).get("api-version", "")
    return path.rstrip("/") == "/openai/realtime" and version.endswith("-preview")


def _modalities_to_ga(modalities: Any, param: str) -> list[str]:
    if not isinstance(modalities, list) or not modalities:
        raise ProtocolError(f"Invalid type for '{param}': expected a non-empty array.",
                            code="invalid_type", param=param)
    for i, m in enumerate(modalities):
        if not isinstance(m, str):
            raise invalid_type(f"{param}[{i}]", "a string", m)
        if m not in ("audio", "text"):
            raise ProtocolError(
                f"Invalid value: '{m}'. Supported values are: {quote_list(['text', 'audio'])}.",
                code="invalid_value", param=param)
    return ["audio"] if "audio" in modalities else ["text"]


def _format_to_ga(value: Any, param: str) -> dict[str, Any]:
    # Checked first: a list or object is unhashable, so ``in`` would raise TypeError.
    if not isinstance(value, str):
        raise invalid_type(param, "a string", value)
    if value not in BETA_FORMATS:
        raise ProtocolError(
            f"Invalid value: '{value}'. Supported values are: {quote_list(list(BETA_FORMATS))}.",
            code="invalid_value", param=param)
    return dict(BETA_FORMATS[value])


def beta_session_to_ga(session: dict[str, Any]) -> dict[str, Any]:
    """Map a flat beta session (partial) to a GA session update."""
    if not isinstance(session, dict):
        raise ProtocolError("Invalid type for 'session': expected an object.",
                            code="invalid_type", param="session")
    ga: dict[str, Any] = {"type": "realtime"}
    audio_in: dict[str, Any] = {}
    audio_out: dict[str, Any] = {}
    for key, value in session.items():
        param = f"session.{key}"
        if key == "modalities":
            ga["output_modalities"] = _modalities_to_ga(value, param)
        elif key == "voice":
            audio_out["voice"] = value
        elif key == "speed":
            audio_out["speed"] = value
        elif key == "input_audio_format":
            audio_in["format"] = _format_to_ga(value, param)
        elif key == "output_audio_format":
            audio_out["format"] = _format_to_ga(value, param)
        elif key == "input_audio_transcription":
            audio_in["transcription"] = value
        elif key == "input_audio_noise_reduction":
            audio_in["noise_reduction"] = value
        elif key == "turn_detection":
            audio_in["turn_detection"] = value
        elif key == "max_response_output_tokens":
            ga["max_output_tokens"] = value
        elif key in {"client_secret"}:
            continue
        else:
            ga[key] = value
    if audio_in or audio_out:
        ga["audio"] = {}
        if audio_in:
            ga["audio"]["input"] = audio_in
        if audio_out:
            ga["audio"]["output"] = audio_out
    return ga


def _item_to_ga(item: Any) -> Any:
    if isinstance(item, dict) and isinstance(item.get("content"), list):
        item = dict(item)
        item["content"] = [
            {**part, "type": _GA_CONTENT.get(str(part.get("type")), part.get("type"))}
            if isinstance(part, dict) and item.get("role") == "assistant" else part
            for part in item["content"]
        ]
    return item


def _response_to_ga(params: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    audio_out: dict[str, Any] = {}
    for key, value in params.items():
        param = f"response.{key}"
        if key == "modalities":
            out["output_modalities"] = _modalities_to_ga(value, param)
        elif key == "voice":
            audio_out["voice"] = value
        elif key == "output_audio_format":
            audio_out["format"] = _format_to_ga(value, param)
        elif key in {"max_response_output_tokens", "max_output_tokens"}:
            out["max_output_tokens"] = value
        elif key == "input" and isinstance(value, list):
            out["input"] = [_item_to_ga(i) for i in value]
        elif key in _LEGACY_RESPONSE_FIELDS:
            continue
        else:
            out[key] = value
    if audio_out:
        out["audio"] = {"output": audio_out}
    return out


def beta_event_to_ga(data: dict[str, Any]) -> dict[str, Any]:
    kind = data.get("type")
    if kind == "session.update" and "session" in data:
        return {**data, "session": beta_session_to_ga(data["session"])}
    if kind == "conversation.item.create" and "item" in data:
        return {**data, "item": _item_to_ga(data["item"])}
    if kind == "response.create" and isinstance(data.get("response"), dict):
        return {**data, "response": _response_to_ga(data["response"])}
    return data


def ga_session_to_beta(s: dict[str, Any], temperature: float) -> dict[str, Any]:
    audio_in, audio_out = s["audio"]["input"], s["audio"]["output"]
    return {
        "id": s["id"], "object": "realtime.session", "model": s["model"],
        "expires_at": s["expires_at"],
        "modalities": ["audio", "text"] if s["output_modalities"] == ["audio"] else ["text"],
        "instructions": s["instructions"], "voice": _voice_name(audio_out["voice"]),
        "input_audio_format": _GA_TO_BETA_FORMAT[audio_in["format"]["type"]],
        "output_audio_format": _GA_TO_BETA_FORMAT[audio_out["format"]["type"]],
        "input_audio_transcription": audio_in["transcription"],
        "input_audio_noise_reduction": audio_in["noise_reduction"],
        "turn_detection": audio_in["turn_detection"],
        "tools": s["tools"], "tool_choice": s["tool_choice"], "temperature": temperature,
        "max_response_output_tokens": s["max_output_tokens"], "speed": audio_out["speed"],
        "tracing": s["tracing"], "truncation": s["truncation"], "prompt": s["prompt"],
        "include": s["include"], "client_secret": None,
    }


def beta_transcription_to_ga(session: Any) -> dict[str, Any]:
    """A beta ``transcription_session.update``'s session as a GA transcription update."""
    if not isinstance(session, dict):
        raise ProtocolError("Invalid type for 'session': expected an object.",
                            code="invalid_type", param="session")
    flat = {k: v for k, v in session.items() if k not in ("modalities", "client_secret")}
    ga = beta_session_to_ga(flat)
    ga["type"] = "transcription"
    return ga


def ga_transcription_to_beta(s: dict[str, Any]) -> dict[str, Any]:
    """A GA transcription session in the beta's flat shape (``client_secret`` is null
    on the WebSocket, as the reference sends it)."""
    audio_in = s["audio"]["input"]
    return {
        "id": s["id"], "object": "realtime.transcription_session",
        "expires_at": s["expires_at"], "modalities": ["text"],
        "input_audio_format": _GA_TO_BETA_FORMAT[audio_in["format"]["type"]],
        "input_audio_transcription": audio_in["transcription"],
        "input_audio_noise_reduction": audio_in["noise_reduction"],
        "turn_detection": audio_in["turn_detection"],
        "include": s.get("include"), "client_secret": None,
    }


def _voice_name(voice: Any) -> Any:
    """Beta voices are names: a GA voice object ({"id": ...}) goes by its id."""
    return voice["id"] if isinstance(voice, dict) and "id" in voice else voice


def _item_to_beta(item: dict[str, Any]) -> dict[str, Any]:
    if "content" in item:
        item["content"] = [{**p, "type": _BETA_CONTENT.get(p["type"], p["type"])}
                           for p in item["content"]]
    return item


def _response_to_beta(r: dict[str, Any], temperature: float) -> dict[str, Any]:
    r["output"] = [_item_to_beta(i) for i in r["output"]]
    r["modalities"] = ["audio", "text"] if r.pop("output_modalities") == ["audio"] else ["text"]
    audio = r.pop("audio", None)
    if audio:
        r["voice"] = _voice_name(audio["output"]["voice"])
        r["output_audio_format"] = _GA_TO_BETA_FORMAT[audio["output"]["format"]["type"]]
    r["temperature"] = temperature
    r["max_output_tokens"] = r.get("max_output_tokens", "inf")
    return r


class GaCodec:
    beta = False
    supported_types = [t for t in BETA_TYPES if t != "transcription_session.update"] + [
        "session.close"]

    def decode(self, data: dict[str, Any]) -> dict[str, Any]:
        return data

    def intercept(self, data: dict[str, Any]) -> tuple[list[dict[str, Any]],
                                                       list[dict[str, Any]]]:
        """The GA event for the core; GA answers nothing itself."""
        return [self.decode(data)], []

    def take_asks(self) -> list[dict[str, Any]]:
        return []  # (GA asks nothing of the core on its own)

    def encode(self, event: ServerEvent, temperature: float) -> list[str]:
        return [event.model_dump_json()]

    def wire_error(self, exc: ProtocolError) -> ProtocolError:
        return exc


class BetaCodec:
    """The beta wire. ``transcription``: a beta transcription session (``?intent=
    transcription``): ``transcription_session.update``/``.created``/``.updated`` with the
    flat beta transcription session, no ``conversation.created``."""

    beta = True
    supported_types = BETA_TYPES

    def __init__(self, transcription: bool = False) -> None:
        self.transcription = transcription

    def decode(self, data: dict[str, Any]) -> dict[str, Any]:
        if data.get("type") == "transcription_session.update":
            if not self.transcription:
                raise ProtocolError(
                    "transcription_session.update is only valid in a transcription session "
                    "(connect with ?intent=transcription).", code="invalid_value", param="type")
            return {**data, "type": "session.update",
                    "session": beta_transcription_to_ga(data.get("session"))}
        return beta_event_to_ga(data)

    def intercept(self, data: dict[str, Any]) -> tuple[list[dict[str, Any]],
                                                       list[dict[str, Any]]]:
        """The GA event for the core; beta answers nothing itself."""
        return [self.decode(data)], []

    def take_asks(self) -> list[dict[str, Any]]:
        return []

    def wire_error(self, exc: ProtocolError) -> ProtocolError:
        """``exc`` with its GA ``param`` path renamed to the beta field the client sent."""
        param = exc.param
        for ga, beta in _BETA_PARAMS:
            if param is not None and (param == ga or param.startswith((ga + ".", ga + "["))):
                exc.param = beta + param[len(ga):]
                exc.message = exc.message.replace(f"'{param}'", f"'{exc.param}'")
                break
        return exc

    def encode(self, event: ServerEvent, temperature: float) -> list[str]:
        kind = event.type
        if kind == "conversation.item.done" or kind == "rate_limits.updated":
            return []  # beta has no item.done; its rate limits follow response.created
        data = event.model_dump(mode="json")
        data["type"] = _BETA_EVENT_NAMES.get(kind, kind)
        if "session" in data and data["session"].get("type") == "transcription":
            data["type"] = "transcription_" + kind  # transcription_session.created/updated
            data["session"] = ga_transcription_to_beta(data["session"])
            return [json.dumps(data, separators=(",", ":"))]
        if "session" in data:
            data["session"] = ga_session_to_beta(data["session"], temperature)
        if "item" in data:
            data["item"] = _item_to_beta(data["item"])
        if "response" in data:
            data["response"] = _response_to_beta(data["response"], temperature)
        frames = [json.dumps(data, separators=(",", ":"))]
        if kind == "response.created":
            frames.append(json.dumps(beta_rate_limits(), separators=(",", ":")))
        elif kind == "session.created":  # the beta reference announces the conversation
            frames.append(json.dumps(beta_conversation_created(), separators=(",", ":")))
        return frames


def beta_conversation_created() -> dict[str, Any]:
    from .ids import event_id

    # The one default conversation (GA responses name it "conv_default" too).
    return {"type": "conversation.created", "event_id": event_id(),
            "conversation": {"id": "conv_default", "object": "realtime.conversation"}}


def beta_rate_limits() -> dict[str, Any]:
    from .ids import event_id

    return {"type": "rate_limits.updated", "event_id": event_id(), "rate_limits": [
        {"name": "requests", "limit": 1_000_000, "remaining": 999_999, "reset_seconds": 0.0},
        {"name": "tokens", "limit": 1_000_000_000, "remaining": 999_999_999,
         "reset_seconds": 0.0}]}


Codec = GaCodec | BetaCodec
