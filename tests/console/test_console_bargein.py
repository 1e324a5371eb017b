"""Barge-in in the browser: the looping fake microphone speaks again while a long answer
plays; the page stops playback at once and truncates the item to what was played."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np

from openrealtime.backends.fake import FakeLLM, fake_backends
from openrealtime.server.app import create_app
from openrealtime.server.run import running_server
from openrealtime.server.settings import Settings
from tests.console.conftest import console_page, hook, screenshot, wait_until, write_mic_wav
from tests.sound import RATE, silence, tone

# ~9 s of speech, every sentence different (the runtime's guard cuts off a repeated one)
LONG_REPLY = (
    "Paris is the capital of France and its largest city. The Seine flows through the "
    "middle of it from east to west. Its most famous tower was built for a fair in 1889. "
    "The Louvre holds thousands of paintings, the Mona Lisa among them. Cafes spill onto "
    "the pavements as soon as the weather turns warm. The metro reaches almost every "
    "corner, with more than three hundred stations. Montmartre sits on a hill in the "
    "north, crowned by a white church. In summer, some river banks become sandy beaches."
)


async def test_speech_during_playback_stops_it_and_truncates(tmp_path: Path) -> None:
    # 1 s of "speech" then 4.5 s of silence, looped by Chromium: the second utterance
    # starts about 4 s into the answer's playback.
    mic = write_mic_wav(tmp_path / "mic.wav",
                        np.concatenate([silence(0.3), tone(1.0), silence(4.5)]), RATE)
    backends = fake_backends(llm=FakeLLM(reply=LONG_REPLY))
    app = create_app(Settings(backend="fake"), backends=backends)
    async with running_server(app) as url, console_page(url, mic) as page:
        await page.uncheck("#echo-cancellation")  # nothing to cancel: keep the tone as is
        await page.click("#connect")
        await wait_until(page, "c.truncates.length > 0", timeout_s=20)
        await wait_until(page, "c.eventCounts['conversation.item.truncated'] > 0", timeout_s=5)
        await wait_until(page, "c.transcripts.some(t => 'heard' in t)", timeout_s=5)
        cut = (await hook(page, "c.truncates"))[0]
        item = cut["item_id"]
        played_then = (await hook(page, "c.playedByItem"))[item]
        await asyncio.sleep(0.5)
        played_later = (await hook(page, "c.playedByItem"))[item]
        await screenshot(page, "barge-in.png")
        state_counts = await hook(page, "c.eventCounts")
        entry = next(t for t in await hook(page, "c.transcripts") if t["itemId"] == item)

    # playback stopped at once: not one more sample of the cut item
    assert played_later == played_then == cut["played_samples"]
    # a plausible audio_end_ms: some audio was heard, never more than was received...
    received_ms = cut["received_samples"] * 1000 / 24000
    assert 0 < cut["audio_end_ms"] <= received_ms
    assert cut["audio_end_ms"] < received_ms - 1000  # the answer really was cut short
    # ...and close to the time the page spent playing it
    wall_ms = cut["sent_at"] - cut["playback_started_at"]
    assert abs(cut["audio_end_ms"] - wall_ms) < 400, (cut, wall_ms)
    assert state_counts["input_audio_buffer.speech_started"] >= 2
    # the server kept only the words played; the page shows them (the rest struck out)
    assert entry["text"].startswith(entry["heard"]) and len(entry["heard"]) < len(entry["text"])
