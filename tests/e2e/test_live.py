"""GPT-Live with the real local models, through the openai SDK's ``client.live``: a
spoken question gets a spoken answer; the user's words come back as a timestamped
transcript."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import pytest

from openrealtime.backends.base import Backends
from openrealtime.server.app import create_app
from openrealtime.server.run import running_server
from openrealtime.server.settings import Settings
from tests.integration.test_live import events_until, start_event, talk
from tests.sdk import client

pytestmark = pytest.mark.e2e


async def test_live_spoken_question_gets_a_spoken_answer(local_backends: Backends,
                                                         question_audio: np.ndarray) -> None:
    audio = np.concatenate([question_audio, np.zeros(24000 * 2, np.float32)])
    seen: list[Any] = []
    async with running_server(create_app(Settings(), backends=local_backends)) as url:
        async with client(url).live.connect() as conn:
            await conn.send(start_event(instructions="Answer in one short sentence."))
            await events_until(conn, "session.started", seen)
            await talk(conn, audio)
            await events_until(conn, "session.usage.updated", seen, within=60)
    heard = " ".join(e.delta for e in seen if e.type == "session.input_transcript.delta")
    assert "japan" in heard.lower()
    spoken = b"".join(base64.b64decode(e.delta) for e in seen
                      if e.type == "session.output_audio.delta")
    assert len(spoken) > 2 * 24000 * 0.3  # pcm16 at 24 kHz: at least 0.3 s
    assert "".join(e.delta for e in seen if e.type == "session.output_transcript.delta")
    assert "error" not in [e.type for e in seen]
