"""A phone call through Twilio Media Streams with the real local models: a spoken
question as 8 kHz μ-law ``media`` in real time, a spoken answer back as ``media``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from openrealtime.audio import resample
from openrealtime.backends.base import Backends
from openrealtime.server.app import create_app
from openrealtime.server.run import running_server
from openrealtime.server.settings import Settings
from tests.phone import call, mulaw, silence

pytestmark = pytest.mark.e2e


async def test_a_phone_call_gets_a_spoken_answer(local_backends: Backends,
                                                 question_audio: np.ndarray) -> None:
    events: list[tuple[str, Any]] = []
    app = create_app(Settings(), backends=local_backends,
                     observer=lambda kind, info: events.append((kind, info.get("event"))))

    def of(kind: str) -> list[Any]:
        return [e for k, e in events if k == kind and e is not None]

    async with running_server(app) as url, call(url) as peer:
        await peer.start()
        await peer.play(mulaw(question_audio, 24000) + silence(0.6))
        await peer.until(lambda: bool(of("response.done")), within=60.0)
        # Twilio plays the answer; every mark comes back once its audio has played
        await peer.until(lambda: len(peer.echoed) == len(peer.events("mark")), within=60.0)
        await peer.stop()

    heard = of("conversation.item.input_audio_transcription.completed")
    assert heard and "japan" in heard[0].transcript.lower()  # 8 kHz μ-law in, to Whisper
    assert of("response.done")[0].response.status in ("completed", "incomplete")
    assert peer.clears == 0 and peer.events("media")
    answer = peer.outbound_samples().astype(np.float32) / 32768
    assert len(answer) > 8000 * 0.3, "less than 0.3 s of answer"
    rms = float(np.sqrt(np.mean(answer ** 2)))
    assert rms > 0.01, "the answer is silent"
    # and it is the answer, spoken: the STT hears most of its words in the phone audio
    said = await local_backends.stt.transcribe(resample(answer, 8000, 16000))
    meant = words(of("response.output_audio_transcript.done")[0].transcript)
    assert len(meant & words(said.text)) >= len(meant) / 2, (said.text, meant)


def words(text: str) -> set[str]:
    """The words of four letters or more, lower case, without punctuation."""
    cleaned = "".join(c if c.isalnum() else " " for c in text.lower())
    return {w for w in cleaned.split() if len(w) >= 4}
