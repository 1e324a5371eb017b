"""G.711 μ-law and A-law sessions: 8 kHz audio in, 8 kHz audio out, same turn events."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
import websockets

from openrealtime.audio import alaw_decode, alaw_encode, float32_to_pcm16, ulaw_decode, ulaw_encode

CODECS = {"audio/pcmu": (ulaw_encode, ulaw_decode), "audio/pcma": (alaw_encode, alaw_decode)}


@pytest.mark.parametrize("fmt", list(CODECS))
async def test_g711_voice_turn(server_url: str, fmt: str) -> None:
    encode, decode = CODECS[fmt]
    url = server_url.replace("http", "ws") + "/v1/realtime?model=gpt-realtime"
    async with websockets.connect(url) as ws:
        await ws.recv()
        await ws.send(json.dumps({"type": "session.update", "session": {
            "type": "realtime", "audio": {"input": {"format": {"type": fmt}},
                                          "output": {"format": {"type": fmt}}}}}))
        t = np.arange(8000) / 8000
        x = np.concatenate([np.zeros(2400), 0.3 * np.sin(2 * np.pi * 300 * t),
                            np.zeros(8000)]).astype(np.float32)
        data = encode(float32_to_pcm16(x))
        for i in range(0, len(data), 160):  # 20 ms frames at 8 kHz
            await ws.send(json.dumps({"type": "input_audio_buffer.append",
                                      "audio": base64.b64encode(data[i:i + 160]).decode()}))
        reply = bytearray()
        marks: dict[str, int] = {}
        async for message in ws:
            event = json.loads(message)
            if event["type"] == "session.updated":
                assert event["session"]["audio"]["output"]["format"] == {"type": fmt}
            elif event["type"] == "input_audio_buffer.speech_started":
                marks["start"] = event["audio_start_ms"]
            elif event["type"] == "input_audio_buffer.speech_stopped":
                marks["end"] = event["audio_end_ms"]
            elif event["type"] == "response.output_audio.delta":
                reply.extend(base64.b64decode(event["delta"]))
            elif event["type"] == "response.done":
                break
    assert marks["start"] == 0  # 300 ms of lead silence minus 300 ms of prefix padding
    assert 1500 <= marks["end"] <= 1560  # 1.3 s end of speech + 200 ms silence window
    # one byte per sample at 8 kHz; the fake TTS speaks 120 ms per word
    samples = decode(bytes(reply))
    assert len(samples) == len(reply)
    assert abs(len(reply) / 8000 - 11 * 0.12) < 0.05
    assert np.abs(samples).max() > 3000
