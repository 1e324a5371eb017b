"""Live captions with the real Whisper: a transcription session through the openai SDK
hears a 4-second sentence spoken at real-time pace; its words arrive as deltas while
it is still being spoken, then the final transcript; no response is made."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from openrealtime.backends.base import Backends
from openrealtime.server.app import create_app
from openrealtime.server.run import running_server
from openrealtime.server.settings import Settings
from tests.integration.test_transcription_session import speak
from tests.sdk import client, until
from tests.voices import piper

pytestmark = pytest.mark.e2e

SENTENCE = "I would like to book a flight to Paris next Friday, and a hotel room for two nights."


async def test_live_captions_with_whisper(local_backends: Backends) -> None:
    speech = await asyncio.to_thread(piper, SENTENCE)
    audio = np.concatenate([speech, np.zeros(24000 * 2, np.float32)])
    async with running_server(create_app(Settings(), backends=local_backends)) as url:
        async with client(url).realtime.connect(
                extra_query={"intent": "transcription"}) as conn:
            await until(conn, "session.created")
            await conn.session.update(session={"type": "transcription", "audio": {"input": {
                "transcription": {"model": "whisper-1"},
                "turn_detection": {"type": "server_vad", "silence_duration_ms": 600}}}})
            await until(conn, "session.updated")
            events: list[Any] = []
            talk = asyncio.create_task(speak(conn, audio))
            completed = await until(
                conn, "conversation.item.input_audio_transcription.completed", events,
                within=30)
            await talk
    kinds = [e.type for e in events]
    stopped = kinds.index("input_audio_buffer.speech_stopped")
    during = [e for e in events[:stopped]
              if e.type == "conversation.item.input_audio_transcription.delta"]
    assert len(during) >= 2, kinds  # words while the sentence was still being spoken
    text = completed.transcript.lower()
    assert "flight" in text and "paris" in text
    assert not any(k.startswith("response.") for k in kinds)
