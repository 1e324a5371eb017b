"""Barge-in with the real models: interrupt the answer, truncate to what was heard,
and check what the LLM is given for the follow-up."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import websockets

from openrealtime.audio import resample
from openrealtime.backends.base import Backends
from openrealtime.client.ask import configure, ws_url
from openrealtime.client.interrupt import interrupt
from openrealtime.server.app import create_app
from openrealtime.server.run import running_server
from openrealtime.server.settings import Settings
from tests.e2e.conftest import RecordingLLM

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def voices() -> tuple[np.ndarray, np.ndarray]:
    from openrealtime.backends.local.piper import PiperTTS

    async def synth(text: str, lead_s: float) -> np.ndarray:
        tts = PiperTTS(deterministic=True)
        x = np.concatenate([c async for c in tts.synthesize(text)]).astype(np.float32) / 32768
        lead = np.zeros(int(lead_s * 24000), dtype=np.float32)
        return np.concatenate([lead, resample(x, tts.sample_rate, 24000)])

    async def both() -> tuple[np.ndarray, np.ndarray]:
        return (await synth("Tell me five interesting places to visit in London.", 0.4),
                await synth("Where is that?", 0.1))

    return asyncio.run(both())


async def test_barge_in_truncates_to_what_was_heard(
        local_backends: Backends, voices: tuple[np.ndarray, np.ndarray]) -> None:
    llm = RecordingLLM(local_backends.llm)
    backends = Backends(vad=local_backends.vad, stt=local_backends.stt, llm=llm,
                        tts=local_backends.tts, names=local_backends.names)
    question, follow_up = voices
    async with running_server(create_app(Settings(), backends=backends)) as url, \
            websockets.connect(ws_url(url), max_size=None) as ws:
        await configure(ws, "You are a travel guide. Answer with a numbered list and one "
                                "full sentence about each place.")
        result = await interrupt(ws, question, follow_up, play_before_s=0.5)

    # the first answer was cut: no audio of it after speech_started, status cancelled
    assert result.speech_started_at is not None
    assert result.first_response_deltas_after_interrupt() == 0
    first_done = [(t, e) for t, e in result.events if e["type"] == "response.done"
                  and e["response"]["id"] == result.first_response]
    done_at, done = first_done[0]
    if done_at >= result.speech_started_at:  # still generating when the user spoke
        assert done["response"]["status"] == "cancelled"
        assert done["response"]["status_details"]["reason"] == "turn_detected"
    else:  # generation (16x faster than playback) had finished: only truncation applies
        # (incomplete: the output guard may end an unseeded answer that loops)
        assert done["response"]["status"] in ("completed", "incomplete")
    truncated = result.of_type("conversation.item.truncated")
    assert truncated and truncated[0]["audio_end_ms"] == result.played_ms

    # the follow-up's context holds only the heard part of the first answer
    transcripts = {e["item_id"]: e["transcript"] for e in result.of_type(
        "conversation.item.input_audio_transcription.completed")}
    assert any("london" in t.lower() for t in transcripts.values())
    assert any("where" in t.lower() for t in transcripts.values())
    follow_up_request = llm.requests[-1]
    assistant = [m["content"] for m in follow_up_request.messages if m["role"] == "assistant"]
    assert len(assistant) == 1
    heard = assistant[0]
    spoken_before_cut = result.full_transcript.strip()
    assert len(heard.split()) < len(spoken_before_cut.split())
    assert spoken_before_cut.startswith(heard)
    print(f"played {result.played_ms} ms; heard {heard!r}; generated before the cut {spoken_before_cut!r}")
