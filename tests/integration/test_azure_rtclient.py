"""Azure's rtclient (Azure-Samples/aoai-realtime-audio-sdk, ``low_level_sample.py``)
connects as Azure defines it: ``/openai/realtime?api-version=…-preview&deployment=…``
with an ``api-key`` header and *no* beta header, and speaks the preview (beta) protocol.
The path and api-version pick the dialect; the beta header still wins where present.

Every server event is validated against the beta models of the ``openai`` package and
against what rtclient's own pydantic models require (read from its source, not
vendored): a session with all its fields, a voice from its eight, ``pcm16``, a
temperature in [0.6, 1.2], ``whisper-1`` as the transcription model.
"""

from __future__ import annotations

import json
import typing
from typing import Any

import pytest
import websockets
from pydantic import TypeAdapter

from tests.sound import frames_b64, utterance

beta_types = pytest.importorskip("openai.types.beta.realtime")


def _beta_models() -> dict[str, Any]:
    """The beta server event models by their ``type`` (the union is not discriminated:
    validating against it reports every member's complaint)."""
    union = typing.get_args(beta_types.RealtimeServerEvent)[0]
    models = {}
    for model in typing.get_args(union):
        literal = model.model_fields["type"].annotation
        models[typing.get_args(literal)[0]] = TypeAdapter(model)
    return models


BETA_MODELS = _beta_models()

RTCLIENT_VOICES = {"alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse"}
PREVIEW = "2024-10-01-preview"  # rtclient's default AZURE_OPENAI_API_VERSION


def rtclient_session_ok(session: dict[str, Any]) -> None:
    """What rtclient's ``Session`` model requires of session.created/updated."""
    for field in ("id", "model", "modalities", "instructions", "voice", "input_audio_format",
                  "output_audio_format", "input_audio_transcription", "turn_detection",
                  "tools", "tool_choice", "temperature", "max_response_output_tokens"):
        assert field in session, f"rtclient needs session.{field}"
    assert set(session["modalities"]) <= {"text", "audio"}
    assert session["voice"] in RTCLIENT_VOICES
    assert session["input_audio_format"] == session["output_audio_format"] == "pcm16"
    assert 0.6 <= session["temperature"] <= 1.2
    transcription = session["input_audio_transcription"]
    assert transcription is None or transcription["model"] == "whisper-1"  # (extra: ignored)
    assert session["turn_detection"] is None or session["turn_detection"]["type"] in (
        "server_vad", "none")
    assert session["max_response_output_tokens"] is None or session[
        "max_response_output_tokens"] == "inf" or isinstance(
        session["max_response_output_tokens"], int)


def rtclient_item_ok(item: dict[str, Any]) -> None:
    """rtclient's ``ResponseItem`` union: a message has status, role and typed parts."""
    if item["type"] == "message":
        assert item["status"] in ("in_progress", "completed", "incomplete")
        assert item["role"] in ("system", "user", "assistant")
        for part in item["content"]:
            assert part["type"] in ("input_text", "input_audio", "text", "audio")
            if part["type"] in ("input_audio", "audio"):
                assert "transcript" in part
    elif item["type"] == "function_call":
        assert {"status", "name", "call_id", "arguments"} <= item.keys()


AZURE_HEADERS = {"api-key": "any-key",
                 "x-ms-client-request-id": "7b0c0d0e-0000-4000-8000-000000000000"}
AZURE_QUERY = f"api-version={PREVIEW}&deployment=gpt-4o-realtime-preview"


async def rtclient_turn(server_url: str, path: str, query: str, headers: dict[str, str],
                        audio: Any = None) -> list[dict[str, Any]]:
    """One turn as rtclient's low-level sample makes it: session.update, then the audio
    (24 kHz float32; a tone burst the fake VAD hears if None), then events until
    ``response.done``."""
    url = server_url.replace("http", "ws") + path + "?" + query
    events: list[dict[str, Any]] = []
    async with websockets.connect(url, additional_headers=headers) as ws:
        # rtclient: SessionUpdateMessage(session=SessionUpdateParams(turn_detection=
        # ServerVAD(type="server_vad"), input_audio_transcription=...)) dumped with
        # exclude_unset=True
        await ws.send(json.dumps({"type": "session.update", "session": {
            "turn_detection": {"type": "server_vad"},
            "input_audio_transcription": {"model": "whisper-1"}}}))
        for frame in frames_b64(utterance() if audio is None else audio):
            await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": frame}))
        async for message in ws:
            event = json.loads(message)
            events.append(event)
            if event["type"] in ("response.done", "error"):
                break
    return events


def check_beta(events: list[dict[str, Any]]) -> None:
    for event in events:
        assert event["type"] in BETA_MODELS, f"not a beta event: {event['type']}"
        BETA_MODELS[event["type"]].validate_python(event)  # raises on a shape it rejects
        assert event["type"] != "error", event
        if event["type"] in ("session.created", "session.updated"):
            rtclient_session_ok(event["session"])
        if "item" in event:
            rtclient_item_ok(event["item"])
        if event["type"] == "response.done":
            for item in event["response"]["output"]:
                rtclient_item_ok(item)


async def test_rtclient_on_the_azure_preview_path_speaks_beta(server_url: str) -> None:
    events = await rtclient_turn(server_url, "/openai/realtime", AZURE_QUERY, AZURE_HEADERS)
    check_beta(events)
    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["session.created", "conversation.created"]
    # the deployment names the model (a name the beta models list: they check it)
    assert events[0]["session"]["model"] == "gpt-4o-realtime-preview"
    updated = next(e for e in events if e["type"] == "session.updated")
    assert updated["session"]["input_audio_transcription"]["model"] == "whisper-1"
    for expected in ("input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
                     "input_audio_buffer.committed", "response.created",
                     "response.audio.delta", "response.audio_transcript.done",
                     "response.done"):
        assert expected in kinds, expected
    assert events[-1]["response"]["status"] == "completed"


@pytest.mark.parametrize(("path", "query", "beta"), [
    ("/openai/realtime", f"api-version={PREVIEW}&deployment=d", True),
    ("/openai/realtime", "api-version=2025-04-01-preview&deployment=d", True),
    ("/openai/v1/realtime", "model=gpt-realtime", False),
    ("/openai/realtime", "api-version=2025-08-28&deployment=d", False),
    ("/v1/realtime", "model=gpt-realtime", False),
])
async def test_dialect_by_endpoint(server_url: str, path: str, query: str,
                                   beta: bool) -> None:
    url = server_url.replace("http", "ws") + path + "?" + query
    async with websockets.connect(url, additional_headers={"api-key": "k"}) as ws:
        created = json.loads(await ws.recv())
    assert created["type"] == "session.created"
    assert ("modalities" in created["session"]) is beta
    assert (created["session"].get("type") == "realtime") is not beta


async def test_beta_header_wins_on_the_ga_path(server_url: str) -> None:
    url = server_url.replace("http", "ws") + "/openai/v1/realtime?model=gpt-realtime"
    headers = {"api-key": "k", "OpenAI-Beta": "realtime=v1"}
    async with websockets.connect(url, additional_headers=headers) as ws:
        created = json.loads(await ws.recv())
    assert "modalities" in created["session"]
