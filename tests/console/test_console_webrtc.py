"""The console on WebRTC, its default transport: Chromium's fake microphone goes out as
an Opus track, the reply comes back on the server's track into an <audio> element, the
events on the data channel; talking over the answer makes the server stop it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from openrealtime.backends.base import Backends
from openrealtime.backends.fake import FakeLLM, fake_backends
from openrealtime.server.app import create_app
from openrealtime.server.run import running_server
from openrealtime.server.settings import Settings
from tests.console.conftest import console_page, hook, screenshot, wait_until, write_mic_wav
from tests.console.test_console_bargein import LONG_REPLY
from tests.sound import RATE, silence, tone

pytest.importorskip("aiortc")


async def test_the_console_calls_over_webrtc_by_default(tmp_path: Path) -> None:
    mic = write_mic_wav(tmp_path / "mic.wav",
                        np.concatenate([silence(0.3), tone(1.0), silence(8.0)]), RATE)
    app = create_app(Settings(backend="fake"), backends=fake_backends())
    async with running_server(app) as url, console_page(url, mic, transport="") as page:
        await page.uncheck("#echo-cancellation")  # (a tone, no speakers)
        await page.click("#connect")
        await wait_until(page, "c.transport === 'webrtc' && c.session !== null", timeout_s=15)
        await wait_until(page, "c.eventCounts['output_audio_buffer.stopped'] > 0",
                         timeout_s=20)
        counts = await hook(page, "c.eventCounts")
        latencies = await hook(page, "c.latencies")
        remote = await hook(page, "c.remoteAudio")
        transcripts = await hook(page, "c.transcripts")
        await screenshot(page, "webrtc-turn.png")
    assert counts.get("input_audio_buffer.speech_started", 0) >= 1
    assert counts.get("output_audio_buffer.started", 0) >= 1
    assert "response.output_audio.delta" not in counts  # the voice came on the track
    assert remote["attached"] and remote["time"] > 0.5  # and the page played it
    assert latencies and latencies[0]["kind"] == "speech" and latencies[0]["ms"] > 0
    assert any(t["role"] == "assistant" and t["text"] for t in transcripts)


async def test_talking_over_the_answer_stops_it_on_webrtc(tmp_path: Path) -> None:
    mic = write_mic_wav(tmp_path / "mic.wav",
                        np.concatenate([silence(0.3), tone(1.0), silence(4.5)]), RATE)
    backends = fake_backends(llm=FakeLLM(reply=LONG_REPLY))
    app = create_app(Settings(backend="fake"), backends=backends)
    async with running_server(app) as url, console_page(url, mic, transport="") as page:
        await page.uncheck("#echo-cancellation")
        await page.click("#connect")
        await wait_until(page, "c.eventCounts['output_audio_buffer.cleared'] > 0",
                         timeout_s=25)
        await wait_until(page, "c.eventCounts['conversation.item.truncated'] > 0",
                         timeout_s=5)
        await wait_until(page, "c.transcripts.some(t => 'heard' in t)", timeout_s=5)
        state = await hook(page, "c.state")
        entry = next(t for t in await hook(page, "c.transcripts") if "heard" in t)
    assert state in ("interrupted", "listening", "thinking", "speaking")
    assert entry["text"].startswith(entry["heard"]) and len(entry["heard"]) < len(entry["text"])


async def test_the_websocket_switch_still_works(tmp_path: Path,
                                                backends: Backends) -> None:
    mic = write_mic_wav(tmp_path / "mic.wav",
                        np.concatenate([silence(0.3), tone(1.0), silence(6.0)]), RATE)
    app = create_app(Settings(backend="fake"), backends=backends)
    async with running_server(app) as url, console_page(url, mic, transport="") as page:
        await page.select_option("#transport", "websocket")
        await page.uncheck("#echo-cancellation")
        await page.click("#connect")
        await wait_until(page, "c.transport === 'websocket' && c.playedSamples > 12000",
                         timeout_s=20)
