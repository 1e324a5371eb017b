"""Real models behind the audio REST endpoints, and a server whose speech models are
another server's (``--stt-url``/``--tts-url`` on loopback) with its LLM from a GGUF given
by path (``--llm-model PATH.gguf``)."""

from __future__ import annotations

import numpy as np
import pytest

from openrealtime.audio import resample
from openrealtime.audio.media import decode_audio
from openrealtime.backends.base import Backends
from openrealtime.backends.local.llama import bundled_model_path
from openrealtime.backends.models import SpeechModels
from openrealtime.backends.remote.openai_audio import wav_bytes
from openrealtime.backends.stack import load_local_backends
from openrealtime.client.ask import ask_url
from openrealtime.server.app import create_app
from openrealtime.server.run import running_server
from openrealtime.server.settings import Settings
from tests.sdk import client

pytestmark = pytest.mark.e2e


async def test_sdk_transcribes_and_speaks_with_the_local_models(
        local_backends: Backends, question_audio: np.ndarray) -> None:
    """Whisper hears Piper's question from a WAV file; Piper's MP3 of an answer is heard
    back by Whisper (a round trip through both endpoints)."""
    question = wav_bytes(resample(question_audio, 24000, 16000))
    async with (running_server(create_app(Settings(), backends=local_backends)) as url,
                client(url) as sdk):
        heard = await sdk.audio.transcriptions.create(
            file=("question.wav", question, "audio/wav"), model="whisper-1",
            response_format="verbose_json", timestamp_granularities=["segment"])
        spoken = await sdk.audio.speech.create(model="tts-1", voice="alloy",
                                               input="The capital of Japan is Tokyo.",
                                               response_format="mp3")
        mp3 = spoken.read()
        back = await sdk.audio.transcriptions.create(file=("answer.mp3", mp3, "audio/mpeg"),
                                                     model="whisper-1")
    assert "japan" in heard.text.lower()
    assert heard.segments and 0.0 <= heard.segments[0].start < heard.segments[-1].end
    assert heard.segments[-1].end <= heard.duration + 0.5
    assert len(decode_audio(mp3)) > 16000  # over a second of speech
    assert "tokyo" in back.text.lower()


async def test_spoken_turn_with_remote_speech_models_and_a_gguf_by_path(
        local_backends: Backends, question_audio: np.ndarray) -> None:
    """Server B (the local models) is the speech model server of server A, whose LLM is
    SmolLM2 loaded from its file path in A's own worker."""
    async with running_server(create_app(Settings(), backends=local_backends)) as model_url:
        backends = load_local_backends(
            llm_model=str(bundled_model_path()), end_of_turn=False, echo_cancellation=False,
            speech=SpeechModels(stt_url=model_url + "/v1", tts_url=model_url + "/v1",
                                tts_voice="alloy"))
        try:
            assert backends.names["stt"].startswith("remote whisper-1 at")
            assert backends.names["tts"].startswith("remote tts-1 at")
            assert "SmolLM2" in backends.names["llm"]
            async with running_server(create_app(Settings(), backends=backends)) as url:
                result = await ask_url(url, question_audio, realtime=False)
        finally:
            await backends.aclose()
    assert result.status in ("completed", "incomplete")
    assert "japan" in result.question.lower()
    assert result.answer.strip()
    assert len(result.audio) > 24000 * 0.3
    rms = float(np.sqrt(np.mean((result.audio.astype(np.float32) / 32768) ** 2)))
    assert rms > 0.01, "the reply is silent"
