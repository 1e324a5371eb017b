"""A spoken question over WebRTC with the real local models: an aiortc caller's Opus
microphone, the answer's voice on the server's track, events on ``oai-events``."""

from __future__ import annotations

import numpy as np
import pytest

from openrealtime.backends.base import Backends
from openrealtime.server.app import create_app
from openrealtime.server.run import running_server
from openrealtime.server.settings import Settings
from tests.webrtc_client import calling

pytestmark = pytest.mark.e2e
pytest.importorskip("aiortc")


async def test_spoken_question_over_webrtc(local_backends: Backends,
                                           question_audio: np.ndarray) -> None:
    async with (running_server(create_app(Settings(), backends=local_backends)) as url,
                calling() as caller):
        assert (await caller.dial(url)).status_code == 201
        await caller.until("session.created")
        caller.send({"type": "session.update", "session": {"type": "realtime", "audio": {
            "input": {"transcription": {"model": "whisper-1"}}}}})
        await caller.until("session.updated")
        caller.mic.say(question_audio)
        heard = await caller.until(
            "conversation.item.input_audio_transcription.completed", within=30)
        stopped = await caller.until("output_audio_buffer.stopped", within=60)
    assert "japan" in heard["transcript"].lower()
    done = next(e for e in caller.seen if e["type"] == "response.done")
    assert done["response"]["status"] in ("completed", "incomplete")
    assert stopped["response_id"] == done["response"]["id"]
    audio = caller.audio()
    loud = np.abs(audio) > 0.02
    assert loud.sum() > 48000 * 0.3  # over 0.3 s of voice came through Opus
