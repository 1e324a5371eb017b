"""A plain `websockets` client written like the 2024 tutorial code (beta dialect):
Authorization + OpenAI-Beta headers, session.update with modalities/voice/pcm16/
server_vad, appended audio, reading response.audio.delta / text.delta / audio.done."""

from __future__ import annotations

import base64
import json

import websockets

from tests.sound import frames_b64, utterance


async def test_tutorial_style_client(server_url: str) -> None:
    url = server_url.replace("http", "ws") + "/v1/realtime?model=gpt-4o-realtime-preview-2024-10-01"
    headers = {"Authorization": "Bearer sk-anything", "OpenAI-Beta": "realtime=v1"}
    async with websockets.connect(url, additional_headers=headers) as ws:
        await ws.send(json.dumps({"type": "session.update", "session": {
            "modalities": ["text", "audio"], "instructions": "You are a helpful assistant.",
            "voice": "alloy", "input_audio_format": "pcm16", "output_audio_format": "pcm16",
            "input_audio_transcription": {"model": "whisper-1"},
            "turn_detection": {"type": "server_vad", "threshold": 0.5,
                               "prefix_padding_ms": 300, "silence_duration_ms": 500}}}))
        for frame in frames_b64(utterance()):
            await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": frame}))
        audio = bytearray()
        seen: list[str] = []
        transcript = ""
        async for message in ws:
            event = json.loads(message)
            seen.append(event["type"])
            assert "event_id" in event
            if event["type"] == "session.updated":
                assert event["session"]["turn_detection"]["silence_duration_ms"] == 500
                assert event["session"]["voice"] == "alloy"
            elif event["type"] == "response.audio.delta":
                audio.extend(base64.b64decode(event["delta"]))
            elif event["type"] == "response.audio_transcript.delta":
                transcript += event["delta"]
            elif event["type"] == "response.audio.done":
                break
        assert seen[0] == "session.created"
        assert "conversation.item.input_audio_transcription.completed" in seen
        assert len(audio) > 24000  # over half a second of pcm16 at 24 kHz
        assert "Paris" in transcript
        # a text-only response on the same socket
        await ws.send(json.dumps({"type": "response.create",
                                  "response": {"modalities": ["text"]}}))
        text = ""
        async for message in ws:
            event = json.loads(message)
            if event["type"] == "response.text.delta":
                text += event["delta"]
            elif event["type"] == "response.done" and text:
                break
        assert text.startswith("The capital")
