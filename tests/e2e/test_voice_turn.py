"""A spoken question through the real server with the real local models."""

from __future__ import annotations

import numpy as np
import pytest

from openrealtime.backends.base import Backends
from openrealtime.client.ask import ask_url
from openrealtime.server.app import create_app
from openrealtime.server.run import running_server
from openrealtime.server.settings import Settings

pytestmark = pytest.mark.e2e


async def test_spoken_question_gets_spoken_answer(local_backends: Backends,
                                                  question_audio: np.ndarray) -> None:
    app = create_app(Settings(), backends=local_backends)
    async with running_server(app) as url:
        result = await ask_url(url, question_audio, realtime=True)
    # An unseeded answer may be ended by the output guard (incomplete); never failed.
    assert result.status in ("completed", "incomplete")
    assert "capital" in result.question.lower() and "japan" in result.question.lower()
    assert result.answer.strip()
    assert len(result.audio) > 24000 * 0.3  # pcm16 at 24 kHz, at least 0.3 s
    rms = float(np.sqrt(np.mean((result.audio.astype(np.float32) / 32768) ** 2)))
    assert rms > 0.01, "the reply is silent"
    assert result.speech_stopped is not None and result.first_audio is not None
