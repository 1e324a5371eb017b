"""Transcription sessions (live captions) through the official openai SDK: connect with
``?intent=transcription``, ``session.update`` with ``session.type: "transcription"``;
each turn's transcript streams as deltas while the user is still speaking, then comes
``.completed``; never a response."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import pytest

from openrealtime.backends.base import Backends, Transcript
from openrealtime.protocol.session import TranscriptionSession
from openrealtime.server.app import create_app
from openrealtime.server.run import running_server
from openrealtime.server.settings import Settings
from tests.sdk import client, until
from tests.sound import frames_b64, utterance

SAID = "I would like to book a room in Zermatt for two nights in March please"


@dataclass
class GrowingSTT:
    """A speaker at three words a second: the transcript of the audio so far."""

    calls: int = 0

    async def transcribe(self, audio: Any, *, language: str | None = None,
                         prompt: str | None = None) -> Transcript:
        self.calls += 1
        words = SAID.split()[:int(len(audio) / 16000 * 3)]
        return Transcript(" ".join(words), language or "en", len(audio) / 16000)


@pytest.fixture
async def captions_url(backends: Backends) -> Any:
    backends.stt = GrowingSTT()
    async with running_server(create_app(Settings(backend="fake"), backends=backends)) as url:
        yield url


async def speak(conn: Any, audio: Any) -> None:
    """At real-time pace, as a microphone does (20 ms frames)."""
    for frame in frames_b64(audio):
        await conn.input_audio_buffer.append(audio=frame)
        await asyncio.sleep(0.02)


async def test_captions_stream_while_speaking(captions_url: str) -> None:
    async with client(captions_url).realtime.connect(
            extra_query={"intent": "transcription"}) as conn:
        created = await until(conn, "session.created")
        assert created.session.type == "transcription"
        await conn.session.update(session={"type": "transcription", "audio": {"input": {
            "transcription": {"model": "whisper-1", "language": "en"},
            "turn_detection": {"type": "server_vad", "silence_duration_ms": 500}}}})
        updated = await until(conn, "session.updated")
        assert updated.session.type == "transcription"
        events: list[Any] = []
        talk = asyncio.create_task(speak(conn, utterance(speech_s=4.0, tail_s=1.5)))
        completed = await until(conn, "conversation.item.input_audio_transcription.completed",
                                events, within=15)
        await talk
        with pytest.raises(TimeoutError):  # nothing else comes: no response
            await until(conn, "response.created", events, within=1.0)
    kinds = [e.type for e in events]
    stopped = kinds.index("input_audio_buffer.speech_stopped")
    deltas = [e for e in events if e.type.endswith("input_audio_transcription.delta")]
    during = [e for e in events[:stopped] if e in deltas]
    assert len(during) >= 2, kinds  # captions while the user was still speaking
    assert "".join(d.delta for d in deltas) == completed.transcript
    assert completed.transcript == " ".join(SAID.split()[:len(completed.transcript.split())])
    assert not any(k.startswith("response.") for k in kinds)
    assert kinds.index("input_audio_buffer.committed") > stopped


async def test_a_transcription_session_refuses_responses_and_realtime_updates(
        captions_url: str) -> None:
    async with client(captions_url).realtime.connect(
            extra_query={"intent": "transcription"}) as conn:
        await until(conn, "session.created")
        await conn.response.create()
        error = await until(conn, "error")
        assert "transcription session" in error.error.message
        await conn.session.update(session={"type": "realtime", "instructions": "Hi"})
        error = await until(conn, "error")
        assert error.error.param == "session.type"
        await conn.session.update(session={"type": "transcription", "instructions": "Hi"})
        error = await until(conn, "error")
        assert error.error.param == "session.instructions"


def test_the_wire_shape_is_the_sdks() -> None:
    from openai.types.realtime import RealtimeTranscriptionSessionCreateRequest

    from openrealtime.protocol.session import RealtimeSession, transcription_view

    shown = transcription_view(RealtimeSession())
    assert isinstance(shown, TranscriptionSession)
    RealtimeTranscriptionSessionCreateRequest.model_validate(shown.model_dump(mode="json"))


async def test_a_beta_transcription_session(captions_url: str) -> None:
    """The beta flow (``client.beta.realtime``, OpenAI-Beta header, ``?intent=
    transcription``): ``transcription_session.created``, ``transcription_session.update``
    with the flat beta fields, ``.updated``; captions; no ``conversation.created``."""
    from openai.types.beta.realtime import TranscriptionSession as BetaTranscription

    events: list[Any] = []
    async with client(captions_url).beta.realtime.connect(
            model="gpt-4o-transcribe", extra_query={"intent": "transcription"}) as conn:
        raw = json.loads(await conn.recv_bytes())
        assert raw["type"] == "transcription_session.created"
        assert raw["session"]["object"] == "realtime.transcription_session"
        assert raw["session"]["client_secret"] is None
        # (the SDK's model requires client_secret, which the reference sends only from
        # REST; every other field validates)
        BetaTranscription.model_validate({**raw["session"], "client_secret": {
            "expires_at": 0, "value": ""}})
        await conn.transcription_session.update(session={
            "input_audio_format": "pcm16",
            "input_audio_transcription": {"model": "whisper-1", "language": "en"},
            "turn_detection": {"type": "server_vad", "silence_duration_ms": 500}})
        updated = await until(conn, "transcription_session.updated", events)
        assert updated.session.input_audio_transcription.language == "en"
        assert updated.session.turn_detection.silence_duration_ms == 500
        # a realtime update is refused, under the beta names
        await conn.send({"type": "session.update", "event_id": "evt_rt",
                         "session": {"instructions": "Hi"}})
        error = await until(conn, "error", events)
        assert error.error.event_id == "evt_rt" and error.error.param == "session.type"
        talk = asyncio.create_task(speak(conn, utterance(speech_s=3.0, tail_s=1.5)))
        completed = await until(conn, "conversation.item.input_audio_transcription.completed",
                                events, within=15)
        await talk
    kinds = [e.type for e in events]
    assert "conversation.created" not in kinds
    assert not any(k.startswith("response.") for k in kinds)
    deltas = [e for e in events if e.type.endswith("input_audio_transcription.delta")]
    assert deltas and "".join(d.delta for d in deltas) == completed.transcript
    assert completed.transcript.startswith("I would like")


async def test_transcription_session_update_outside_a_transcription_session(
        captions_url: str) -> None:
    async with client(captions_url).beta.realtime.connect(model="gpt-realtime") as conn:
        await until(conn, "session.created")
        await conn.send({"type": "transcription_session.update", "event_id": "evt_ts",
                         "session": {"input_audio_format": "pcm16"}})
        error = await until(conn, "error")
        assert error.error.event_id == "evt_ts" and "intent=transcription" in error.error.message
