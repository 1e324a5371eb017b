"""The OpenAI audio REST endpoints through the official openai SDK (fake models), and the
remote STT/TTS backends against this server on loopback.

``audio.transcriptions.create`` in every response format and streamed;
``audio.speech.create`` in every format, streamed as it is synthesized, and as SSE; bad
input gets OpenAI's error bodies. ``RemoteSTT``/``RemoteTTS`` use the same endpoints
of a second server, as ``--stt-url``/``--tts-url`` do.
"""

from __future__ import annotations

import io
import wave
from typing import Any

import httpx
import numpy as np
import openai
import pytest

from openrealtime.audio.media import decode_audio
from openrealtime.backends.base import BackendError, Backends
from openrealtime.backends.remote.openai_audio import RemoteSTT, RemoteTTS, wav_bytes
from openrealtime.server.app import create_app
from openrealtime.server.run import running_server
from openrealtime.server.settings import Settings
from tests.sdk import client

SAID = "What is the capital of France?"  # FakeSTT's transcript


def _tone(seconds: float, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate), dtype=np.float32) / rate
    return (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


@pytest.fixture
async def keyed_url(backends: Backends) -> Any:
    async with running_server(create_app(Settings(backend="fake", api_keys="sk-test"),
                                         backends=backends)) as url:
        yield url


async def test_transcriptions_in_every_format(keyed_url: str) -> None:
    async with client(keyed_url) as sdk:
        await _every_format(sdk)


async def _every_format(sdk: Any) -> None:
    audio = ("question.wav", wav_bytes(_tone(2.5)), "audio/wav")
    plain = await sdk.audio.transcriptions.create(file=audio, model="whisper-1")
    assert plain.text == SAID
    assert plain.usage is not None and plain.usage.type == "duration"
    assert plain.usage.seconds == 3
    text = await sdk.audio.transcriptions.create(file=audio, model="gpt-4o-transcribe",
                                                 response_format="text")
    assert text.strip() == SAID
    verbose = await sdk.audio.transcriptions.create(file=audio, model="whisper-1",
                                                    response_format="verbose_json",
                                                    timestamp_granularities=["segment"])
    assert verbose.language == "english" and verbose.duration == pytest.approx(2.5)
    assert verbose.segments and verbose.segments[0].end == pytest.approx(2.5)
    srt = await sdk.audio.transcriptions.create(file=audio, model="whisper-1",
                                                response_format="srt")
    assert srt.startswith("1\n00:00:00,000 --> 00:00:02,500\n" + SAID)
    vtt = await sdk.audio.transcriptions.create(file=audio, model="whisper-1",
                                                response_format="vtt")
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:02.500\n" + SAID)
    stream = await sdk.audio.transcriptions.create(file=audio, model="gpt-4o-transcribe",
                                                   stream=True)
    events = [e async for e in stream]
    assert [e.type for e in events] == ["transcript.text.delta", "transcript.text.done"]
    assert events[-1].text == SAID


async def test_transcription_reads_other_containers(keyed_url: str) -> None:
    """An MP3 (any file FFmpeg reads) is decoded to 16 kHz for the model."""
    from openrealtime.audio.media import SpeechEncoder

    encoder = SpeechEncoder("mp3", 16000)
    mp3 = encoder.push((_tone(1.5) * 32767).astype(np.int16)) + encoder.finish()
    async with client(keyed_url) as sdk:
        result = await sdk.audio.transcriptions.create(file=("q.mp3", mp3, "audio/mpeg"),
                                                       model="whisper-1")
    assert result.text == SAID


async def test_transcription_errors_are_openai_errors(keyed_url: str) -> None:
    async with client(keyed_url) as sdk:
        await _transcription_errors(sdk, keyed_url)


async def _transcription_errors(sdk: Any, keyed_url: str) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        await sdk.audio.transcriptions.create(file=("x.wav", b"not audio at all",
                                                    "audio/wav"), model="whisper-1")
    assert bad.value.body["param"] == "file"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as bad:
        await sdk.audio.transcriptions.create(
            file=("q.wav", wav_bytes(_tone(1.0)), "audio/wav"), model="whisper-1",
            response_format="diarized_json")
    assert bad.value.body["param"] == "response_format"  # type: ignore[index]
    async with httpx.AsyncClient() as http:
        missing = await http.post(f"{keyed_url}/v1/audio/transcriptions",
                                  headers={"Authorization": "Bearer sk-test"},
                                  data={"model": "whisper-1"})
        assert missing.status_code == 400
        assert missing.json()["error"]["param"] == "file"
        unauthorized = await http.post(f"{keyed_url}/v1/audio/transcriptions",
                                       data={"model": "whisper-1"})
        assert unauthorized.status_code == 401


@pytest.mark.parametrize("fmt", ["pcm", "wav", "mp3", "opus", "aac", "flac"])
async def test_speech_in_every_format(keyed_url: str, fmt: str) -> None:
    words = "One two three four five. Six seven eight nine ten."
    async with client(keyed_url) as sdk:
        response = await sdk.audio.speech.create(
            model="tts-1", voice="alloy", input=words,
            response_format=fmt)  # type: ignore[arg-type]
        data = response.read()
    if fmt == "pcm":
        audio = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768
        rate = 24000
    else:
        audio, rate = decode_audio(data, 24000), 24000
    seconds = len(audio) / rate
    assert seconds == pytest.approx(10 * 0.12, abs=0.15)  # FakeTTS: 120 ms a word
    assert float(np.sqrt(np.mean(audio ** 2))) > 0.1  # the tone, not silence
    if fmt == "wav":
        with wave.open(io.BytesIO(data)) as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (24000, 1, 2)


async def test_speech_streams_as_it_is_synthesized(backends: Backends) -> None:
    """The first bytes arrive while later clauses are still being synthesized."""
    tts: Any = backends.tts
    tts.delay_s = 0.05  # 50 ms per 100 ms chunk
    async with (running_server(create_app(Settings(backend="fake"), backends=backends))
                as url, client(url) as sdk):
        text = " ".join(["This sentence has exactly eight words in it."] * 6)
        async with sdk.audio.speech.with_streaming_response.create(
                model="tts-1", voice="marin", input=text, response_format="pcm") as response:
            first_at, total, chunks = None, 0, 0
            import time

            started = time.perf_counter()
            async for chunk in response.iter_bytes():
                if first_at is None:
                    first_at = time.perf_counter() - started
                total += len(chunk)
                chunks += 1
            elapsed = time.perf_counter() - started
    assert first_at is not None and chunks > 1
    assert first_at < elapsed / 3  # (about 0.5 s of 2.5 s of synthesis)
    assert total == 2 * 24000 * 48 * 120 // 1000


async def test_speech_as_server_sent_events(server_url: str) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{server_url}/v1/audio/speech", json={
            "model": "gpt-4o-mini-tts", "voice": {"id": "marin"}, "input": "Hello there.",
            "response_format": "pcm", "stream_format": "sse"})
    assert response.headers["content-type"].startswith("text/event-stream")
    import base64
    import json

    events = [json.loads(line[6:]) for line in response.text.splitlines()
              if line.startswith("data: ")]
    assert events[-1]["type"] == "speech.audio.done"
    audio = b"".join(base64.b64decode(e["audio"]) for e in events[:-1])
    assert len(audio) == 2 * 24000 * 2 * 120 // 1000


async def test_speech_errors_are_openai_errors(server_url: str) -> None:
    async with client(server_url) as sdk:
        await _speech_errors(sdk)


async def _speech_errors(sdk: Any) -> None:
    for params, param in [({"input": "x" * 4097}, "input"), ({"voice": ""}, "voice"),
                          ({"response_format": "ogg"}, "response_format"),
                          ({"speed": 9}, "speed"), ({"input": ""}, "input")]:
        args: dict[str, Any] = {"model": "tts-1", "voice": "alloy", "input": "Hi.", **params}
        with pytest.raises(openai.BadRequestError) as bad:
            await sdk.audio.speech.create(**args)
        assert bad.value.body["param"] == param, params  # type: ignore[index]


async def test_remote_backends_use_another_server(server_url: str) -> None:
    """What --stt-url/--tts-url do, against this server's endpoints on loopback."""
    stt = RemoteSTT(server_url + "/v1", "whisper-1", api_key="sk-test")
    tts = RemoteTTS(server_url + "/v1/", "tts-1", voices={"marin": "alloy"})
    try:
        result = await stt.transcribe(_tone(2.0), language="en")
        assert result.text == SAID and result.duration_s == pytest.approx(2.0)
        timed = await stt.transcribe(_tone(2.0), timestamps=True)
        assert timed.segments and timed.segments[0].end == pytest.approx(2.0)
        chunks = [c async for c in tts.synthesize("One two three.", voice="marin")]
        assert sum(len(c) for c in chunks) == 24000 * 3 * 120 // 1000
        assert all(c.dtype == np.int16 for c in chunks)
        assert tts.voice_for("marin") == "alloy" and tts.voice_for("cedar") == "cedar"
    finally:
        await stt.aclose()
        await tts.aclose()


async def test_remote_backend_failures_are_backend_errors(server_url: str) -> None:
    stt = RemoteSTT("http://127.0.0.1:9/v1", connect_timeout_s=1.0)  # (nothing listens)
    tts = RemoteTTS(server_url + "/v1", voices={})
    try:
        with pytest.raises(BackendError) as failed:
            await stt.transcribe(_tone(0.5))
        assert failed.value.code == "stt_unavailable"
        with pytest.raises(BackendError) as failed:  # the server refuses 5000 characters
            _ = [c async for c in tts.synthesize("x" * 5000)]
        assert failed.value.code == "tts_http_error" and "maximum" in failed.value.message
    finally:
        await stt.aclose()
        await tts.aclose()
