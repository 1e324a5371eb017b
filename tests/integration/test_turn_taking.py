"""Turn-taking over a real server with the fake backends: the speculative reply (draft)
and semantic_vad, seen from a plain WebSocket client.

The fake VAD hears the tone bursts as speech; the fake STT answers at once, so a draft
starts early in every pause. What the client sees must be the reference's sequence,
whether the draft was discarded (speech resumed) or adopted (the turn ended).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
import websockets

from openrealtime.backends.fake import FakeEndOfTurn, FakeLLM, fake_backends
from openrealtime.server.app import create_app
from openrealtime.server.run import running_server
from openrealtime.server.settings import Settings
from tests.sound import frames_b64, silence, tone

# The reference's events for one VAD turn answered in audio (GA, transcription on).
TURN = ["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed", "conversation.item.added", "conversation.item.done"]
ANSWER = ["response.created", "response.output_item.added", "conversation.item.added",
          "response.content_part.added", "response.output_audio_transcript.delta",
          "response.output_audio.delta", "response.output_audio.done",
          "response.output_audio_transcript.done", "response.content_part.done",
          "conversation.item.done", "response.output_item.done", "response.done",
          "rate_limits.updated"]
TRANSCRIPT = ["conversation.item.input_audio_transcription.delta",
              "conversation.item.input_audio_transcription.completed"]


class Observed:
    def __init__(self) -> None:
        self.kinds: list[str] = []

    def __call__(self, kind: str, info: dict[str, Any]) -> None:
        self.kinds.append(kind)


@pytest.fixture
async def served() -> AsyncIterator[tuple[str, Any, Observed]]:
    backends = fake_backends(llm=FakeLLM(reply="It is noon. Anything else?"),
                             turn=FakeEndOfTurn(0.95))
    observed = Observed()
    app = create_app(Settings(backend="fake"), backends=backends, observer=observed)
    async with running_server(app) as url:
        yield url, backends, observed


async def session(url: str, turn_detection: dict[str, Any]) -> Any:
    ws = await websockets.connect(url.replace("http", "ws") + "/v1/realtime?model=gpt-realtime",
                                  max_size=None)
    assert json.loads(await ws.recv())["type"] == "session.created"
    await ws.send(json.dumps({"type": "session.update", "session": {
        "type": "realtime", "audio": {"input": {"transcription": {"model": "whisper-1"},
                                                "turn_detection": turn_detection}}}}))
    while json.loads(await ws.recv())["type"] != "session.updated":
        pass
    return ws


async def stream(ws: Any, audio: Any) -> None:
    """Send audio in 20 ms frames at real-time pace."""
    for frame in frames_b64(audio):
        await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": frame}))
        await asyncio.sleep(0.02)


async def events_until_done(ws: Any, within: float = 10.0) -> list[dict[str, Any]]:
    events = []
    async with asyncio.timeout(within):
        while True:
            event = json.loads(await ws.recv())
            events.append(event)
            if event["type"] == "rate_limits.updated":
                return events


def collapsed(events: list[dict[str, Any]]) -> list[str]:
    """Event types, each kind of delta once per run, transcription events set aside."""
    kinds: list[str] = []
    seen: set[str] = set()
    for event in events:
        kind = event["type"]
        if kind in TRANSCRIPT:
            continue
        if kind.endswith(".delta"):
            if kind in seen:
                continue
            seen.add(kind)
        else:
            seen = set()
        kinds.append(kind)
    return kinds


async def test_discarded_draft_leaves_no_trace(served: tuple[str, Any, Observed]) -> None:
    url, backends, observed = served
    ws = await session(url, {"type": "server_vad", "silence_duration_ms": 900})
    try:
        received: list[dict[str, Any]] = []
        answered = asyncio.Event()

        async def listen() -> None:
            while True:
                received.append(json.loads(await ws.recv()))
                if received[-1]["type"] == "rate_limits.updated":
                    answered.set()

        reader = asyncio.create_task(listen())
        # "I would like to book a flight to ... Paris": a 600 ms pause in the middle,
        # long enough for the draft to run (the fake STT and LLM answer at once).
        await stream(ws, silence(0.3))
        await stream(ws, tone(0.8))
        await stream(ws, silence(0.6))
        assert len(backends.llm.requests) == 1  # the draft for the first half ran
        await stream(ws, tone(0.8))
        await stream(ws, silence(1.3))
        await asyncio.wait_for(answered.wait(), 5)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        kinds = [e["type"] for e in received]
        assert kinds.count("input_audio_buffer.speech_started") == 1
        assert kinds.count("response.created") == 1
        assert collapsed(received) == [*TURN, *ANSWER]
        response_ids = {e["response"]["id"] if "response" in e else e.get("response_id")
                        for e in received if e["type"].startswith("response.")}
        assert len(response_ids) == 1  # nothing of the discarded draft reached the client
        assert len(backends.llm.requests) == 2  # the second draft was adopted, not redone
        assert observed.kinds.count("draft_discarded") == 1
        assert observed.kinds.count("draft_adopted") == 1
        # the conversation: one user item, one assistant item
        items = [e["item"] for e in received if e["type"] == "conversation.item.done"]
        assert [i["role"] for i in items] == ["user", "assistant"]
        assert backends.llm.requests[-1].messages[-1]["role"] == "user"
    finally:
        await ws.close()


async def test_adopted_draft_is_the_reference_sequence(
        served: tuple[str, Any, Observed]) -> None:
    url, backends, observed = served
    ws = await session(url, {"type": "server_vad", "silence_duration_ms": 500})
    try:
        sending = asyncio.create_task(stream(ws, np.concatenate(
            [silence(0.3), tone(1.0), silence(1.0)])))
        events = await events_until_done(ws)
        await sending
        assert collapsed(events) == [*TURN, *ANSWER]
        assert [e["type"] for e in events if e["type"] in TRANSCRIPT] == TRANSCRIPT
        assert observed.kinds.count("draft_adopted") == 1
        assert "draft_discarded" not in observed.kinds
        assert len(backends.llm.requests) == 1  # the draft was the answer
    finally:
        await ws.close()


async def speech_stopped_after(url: str, turn_detection: dict[str, Any]) -> int:
    """ms from the end of the tone to the audio_end_ms of speech_stopped."""
    ws = await session(url, turn_detection)
    try:
        sending = asyncio.create_task(stream(ws, np.concatenate(
            [silence(0.3), tone(1.0), silence(1.5)])))
        events = await events_until_done(ws)
        await sending
        stopped = next(e for e in events if e["type"] == "input_audio_buffer.speech_stopped")
        return int(stopped["audio_end_ms"]) - 1300
    finally:
        await ws.close()


async def test_semantic_vad_ends_a_finished_turn_sooner(
        served: tuple[str, Any, Observed]) -> None:
    url, _, _ = served
    semantic = await speech_stopped_after(url, {"type": "semantic_vad", "eagerness": "auto"})
    server = await speech_stopped_after(url, {"type": "server_vad", "silence_duration_ms": 500})
    assert semantic < server
    assert server >= 500
