"""Azure's rtclient, as its low-level sample connects (the preview path, an ``api-key``
header, no beta header), through a full spoken turn with the real local models: every
event valid in the beta shape, the question heard, a spoken answer."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from openrealtime.backends.base import Backends
from openrealtime.server.app import create_app
from openrealtime.server.run import running_server
from openrealtime.server.settings import Settings
from tests.integration.test_azure_rtclient import (
    AZURE_HEADERS,
    AZURE_QUERY,
    check_beta,
    rtclient_turn,
)

pytestmark = pytest.mark.e2e


async def test_rtclient_spoken_turn_on_the_azure_path(local_backends: Backends,
                                                      question_audio: np.ndarray) -> None:
    audio = np.concatenate([question_audio, np.zeros(24000 * 2, np.float32)])
    async with running_server(create_app(Settings(), backends=local_backends)) as url:
        events = await rtclient_turn(url, "/openai/realtime", AZURE_QUERY, AZURE_HEADERS,
                                     audio)
    check_beta(events)
    heard = [e["transcript"] for e in events
             if e["type"] == "conversation.item.input_audio_transcription.completed"]
    assert heard and "japan" in heard[0].lower()
    spoken = b"".join(base64.b64decode(e["delta"]) for e in events
                      if e["type"] == "response.audio.delta")
    assert len(spoken) > 2 * 24000 * 0.3  # pcm16 at 24 kHz: at least 0.3 s
    assert events[-1]["type"] == "response.done"
    assert events[-1]["response"]["status"] in ("completed", "incomplete")
