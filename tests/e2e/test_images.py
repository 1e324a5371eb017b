"""Seeing while talking, with the real models: the on-screen error text of a shared
screenshot reaches the LLM, through the official openai SDK."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import pytest
from openai import AsyncOpenAI

from openrealtime.backends.base import Backends
from openrealtime.server.app import create_app
from openrealtime.server.run import running_server
from openrealtime.server.settings import Settings
from tests.e2e.conftest import RecordingLLM
from tests.images import ERROR_TEXT, data_url, error_dialog_png

pytestmark = pytest.mark.e2e


async def test_local_vision_reads_the_error_dialog(local_backends: Backends) -> None:
    assert local_backends.vision is not None
    text = await local_backends.vision.describe(error_dialog_png(), "image/png")
    assert "disk quota exceeded" in text.lower()
    assert "report" in text.lower()
    assert "error" in text.lower()
    assert "screenshot" in text


async def test_spoken_question_about_a_shared_screenshot(
        local_backends: Backends, question_audio: Any) -> None:
    from openrealtime.audio import resample
    from openrealtime.backends.local.piper import PiperTTS

    tts = PiperTTS(deterministic=True)
    speech = np.concatenate([c async for c in tts.synthesize("Why does it fail?")])
    speech = resample(speech.astype(np.float32) / 32768, tts.sample_rate, 24000)
    audio = np.concatenate([np.zeros(9600, np.float32), speech, np.zeros(48000, np.float32)])
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()

    llm = RecordingLLM(local_backends.llm)
    backends = Backends(vad=local_backends.vad, stt=local_backends.stt, llm=llm,
                        tts=local_backends.tts, names=local_backends.names,
                        vision=local_backends.vision)
    async with running_server(create_app(Settings(), backends=backends)) as url:
        client = AsyncOpenAI(api_key="x", base_url=url + "/v1",
                             websocket_base_url=url.replace("http", "ws") + "/v1")
        async with client.realtime.connect(model="gpt-realtime") as conn:
            await conn.session.update(session={
                "type": "realtime", "instructions": "You are a support agent. Read the "
                "user's screen and explain errors.",
                "audio": {"input": {"transcription": {"model": "whisper-1"}}}})
            await conn.conversation.item.create(item={
                "type": "message", "role": "user",
                "content": [{"type": "input_image", "image_url": data_url(error_dialog_png())}]})
            for start in range(0, len(pcm), 960):
                await conn.input_audio_buffer.append(
                    audio=base64.b64encode(pcm[start:start + 960]).decode())
            answer = ""
            async for event in conn:
                if event.type == "response.output_audio_transcript.done":
                    answer = event.transcript
                if event.type == "response.done":
                    # unseeded: the output guard may end a looping answer (incomplete)
                    assert event.response.status in ("completed", "incomplete")
                    break
    context = " ".join(str(m.get("content")) for m in llm.requests[-1].messages)
    assert "disk quota exceeded" in context.lower()
    assert "why does it fail" in context.lower()
    assert answer.strip()
    print(f"answer: {answer!r}")
    assert ERROR_TEXT  # the dialog's text, for the reader
