"""Every field of the openai SDK's current GA session and ``response.create`` types,
found by walking the SDK's own pydantic models, either works (``session.updated`` gives
it back; a response is created with it) or is refused with the reference's error naming
it — none is silently dropped. A field the SDK adds later fails here until it is
given a sample below and a decision.
"""

from __future__ import annotations

import json
import types
import typing
from typing import Any

import pytest
import websockets
from pydantic import BaseModel

realtime_types = pytest.importorskip("openai.types.realtime")

# Fields the session and response.create share, with the same sample.
SHARED: dict[str, Any] = {
    "prompt.id": "pmpt_123",
    "prompt.variables": {"city": "Paris"},
    "prompt.version": "2",
    "tools": [{"type": "function", "name": "lookup", "description": "Look up.",
               "parameters": {"type": "object", "properties": {}}}],
}
# One valid value per leaf field path (what a client of the SDK would send).
SESSION_SAMPLES: dict[str, Any] = {
    **{f"session.{name}": value for name, value in SHARED.items()},
    "session.type": "realtime",
    "session.audio.input.format": {"type": "audio/pcmu"},
    "session.audio.input.noise_reduction.strength": 0.5,
    "session.audio.input.noise_reduction.type": "near_field",
    "session.audio.input.transcription.delay": "low",
    "session.audio.input.transcription.keywords": ["Anna", "Zermatt"],
    "session.audio.input.transcription.language": "en",
    "session.audio.input.transcription.languages": ["en"],
    "session.audio.input.transcription.model": "whisper-1",
    "session.audio.input.transcription.prompt": "A call about a hotel booking.",
    "session.audio.input.turn_detection": {"type": "semantic_vad", "eagerness": "high"},
    "session.audio.output.format": {"type": "audio/pcma"},
    "session.audio.output.speed": 1.25,
    "session.audio.output.voice": {"id": "voice_1234"},
    "session.include": ["item.input_audio_transcription.logprobs"],
    "session.instructions": "Be brief.",
    "session.max_output_tokens": 200,
    "session.model": "gpt-realtime",
    "session.output_modalities": ["text"],
    "session.parallel_tool_calls": False,
    "session.reasoning.effort": "low",
    "session.tool_choice": "required",
    "session.tracing": "auto",
    "session.truncation": "disabled",
}
# Read-only on the reference: sending them back is tolerated, they do not change.
SESSION_READ_ONLY = {"session.model"}

RESPONSE_SAMPLES: dict[str, Any] = {
    **{f"response.{name}": value for name, value in SHARED.items()},
    "response.audio.output.format": {"type": "audio/pcmu"},
    "response.audio.output.voice": "cedar",
    "response.conversation": "none",
    "response.input": [{"type": "message", "role": "user",
                        "content": [{"type": "input_text", "text": "Hi"}]}],
    "response.instructions": "Answer in one word.",
    "response.max_output_tokens": 50,
    "response.metadata": {"topic": "greeting"},
    "response.output_modalities": ["text"],
    "response.parallel_tool_calls": True,
    "response.reasoning.effort": "minimal",
    "response.tool_choice": "none",
}


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The one pydantic model an (optional) annotation holds, else None (a leaf)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = args[0] if len(args) == 1 else None
    return annotation if isinstance(annotation, type) and issubclass(annotation,
                                                                      BaseModel) else None


def leaf_paths(model: type[BaseModel], prefix: str) -> list[str]:
    paths = []
    for name, field in model.model_fields.items():
        inner = _model_of(field.annotation)
        paths += leaf_paths(inner, f"{prefix}{name}.") if inner else [prefix + name]
    return paths


def nested(path: str, value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    node = out
    keys = path.split(".")[1:]
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value
    return out


def dig(obj: Any, path: str) -> Any:
    for key in path.split(".")[1:]:
        obj = obj[key]
    return obj


def test_the_samples_cover_every_field_of_the_sdk_types() -> None:
    assert sorted(leaf_paths(realtime_types.RealtimeSessionCreateRequest, "session.")) == \
        sorted(SESSION_SAMPLES)
    assert sorted(leaf_paths(realtime_types.RealtimeResponseCreateParams, "response.")) == \
        sorted(RESPONSE_SAMPLES)


async def _exchange(ws: Any, event: dict[str, Any], until: set[str]) -> dict[str, Any]:
    await ws.send(json.dumps(event))
    async for message in ws:
        reply = json.loads(message)
        if reply["type"] in until | {"error"}:
            return dict(reply)
    raise AssertionError("connection closed")


@pytest.mark.parametrize("path", sorted(SESSION_SAMPLES))
async def test_session_field_is_kept(server_url: str, path: str) -> None:
    url = server_url.replace("http", "ws") + "/v1/realtime?model=gpt-realtime"
    async with websockets.connect(url) as ws:
        await ws.recv()  # session.created
        session = {"type": "realtime", **nested(path, SESSION_SAMPLES[path])}
        reply = await _exchange(ws, {"type": "session.update", "event_id": "evt_walk",
                                     "session": session}, {"session.updated"})
    assert reply["type"] == "session.updated", reply
    if path not in SESSION_READ_ONLY:
        kept, sent = dig(reply["session"], path), SESSION_SAMPLES[path]
        if isinstance(sent, dict):  # the rest of the object gets its defaults
            kept = {key: kept[key] for key in sent}
        assert kept == sent


@pytest.mark.parametrize("path", sorted(RESPONSE_SAMPLES))
async def test_response_field_is_taken(server_url: str, path: str) -> None:
    url = server_url.replace("http", "ws") + "/v1/realtime?model=gpt-realtime"
    async with websockets.connect(url) as ws:
        await ws.recv()
        response = nested(path, RESPONSE_SAMPLES[path])
        reply = await _exchange(ws, {"type": "response.create", "event_id": "evt_walk",
                                     "response": response}, {"response.created"})
        assert reply["type"] == "response.created", reply
        async for message in ws:  # (the fake backends answer at once)
            done = json.loads(message)
            if done["type"] in ("response.done", "error"):
                break
    assert done["type"] == "response.done", done
    assert done["response"]["status"] == "completed"
    created = reply["response"]
    if path == "response.audio.output.format":  # the response speaks in its own format
        assert created["audio"]["output"]["format"] == RESPONSE_SAMPLES[path]
    if path == "response.audio.output.voice":
        assert created["audio"]["output"]["voice"] == "cedar"
    if path == "response.metadata":
        assert created["metadata"] == RESPONSE_SAMPLES[path]
    if path == "response.conversation":
        assert created["conversation_id"] is None
