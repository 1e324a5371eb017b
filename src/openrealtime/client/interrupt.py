"""A barge-in scenario client: ask, interrupt the answer while it plays, truncate.

It behaves like a careful voice client over WebSocket: it "plays" the answer in real
time from its first audio delta, and when the server reports ``speech_started`` it
stops playback and sends ``conversation.item.truncate`` with the milliseconds it
actually played. Used by the interruption e2e test and by ``bench/bargein.py``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..audio import float32_to_pcm16, int16_to_bytes
from .ask import FRAME, FRAME_MS, RATE


@dataclass
class Interruption:
    events: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    first_response: str | None = None
    first_item: str | None = None
    first_audio_at: float | None = None
    onset_sent_at: float | None = None  # the first frame of the interrupting speech left
    speech_started_at: float | None = None
    played_ms: int | None = None
    full_transcript: str = ""

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for _, e in self.events if e["type"] == kind]

    def first_response_deltas_after_interrupt(self) -> int:
        return sum(1 for t, e in self.events if e["type"] == "response.output_audio.delta"
                   and e["response_id"] == self.first_response
                   and self.speech_started_at is not None and t >= self.speech_started_at)

    def last_first_response_delta_at(self) -> float | None:
        times = [t for t, e in self.events if e["type"] == "response.output_audio.delta"
                 and e["response_id"] == self.first_response]
        return max(times) if times else None


async def _send_audio(ws: Any, x: np.ndarray, *, on_frame: Any = None) -> None:
    start = time.perf_counter()
    for index, offset in enumerate(range(0, len(x), FRAME)):
        frame = x[offset:offset + FRAME]
        payload = base64.b64encode(int16_to_bytes(float32_to_pcm16(frame))).decode()
        await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": payload}))
        if on_frame is not None:
            on_frame(offset)
        delay = start + (index + 1) * FRAME_MS / 1000 - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)


def _onset(x: np.ndarray, threshold: float = 0.01) -> int:
    loud = np.flatnonzero(np.abs(x) > threshold)
    return int(loud[0]) if len(loud) else 0


async def interrupt(ws: Any, question: np.ndarray, interruption: np.ndarray, *,
                    play_before_s: float = 0.3, timeout_s: float = 60.0) -> Interruption:
    """Ask ``question``; ``play_before_s`` after the answer starts, say ``interruption``.

    Returns when the response to the interruption is done. Audio is float32 at 24 kHz.
    """
    result = Interruption()
    started = asyncio.Event()
    done_second = asyncio.Event()

    async def read() -> None:
        async for message in ws:
            now = time.perf_counter()
            event = json.loads(message)
            result.events.append((now, event))
            kind = event["type"]
            if kind == "response.created" and result.first_response is None:
                result.first_response = event["response"]["id"]
            elif kind == "response.output_audio.delta" and result.first_audio_at is None:
                result.first_audio_at = now
                result.first_item = event["item_id"]
                started.set()
            elif kind == "response.output_audio_transcript.delta" and \
                    event["response_id"] == result.first_response:
                result.full_transcript += event["delta"]
            elif kind == "input_audio_buffer.speech_started" and result.first_audio_at \
                    and result.speech_started_at is None:
                result.speech_started_at = now
                await _truncate(ws, result, now)
            elif kind == "response.done" and event["response"]["id"] != result.first_response \
                    and result.speech_started_at is not None:
                done_second.set()
                return
            elif kind == "error":
                raise RuntimeError(event["error"]["message"])

    async def talk() -> None:
        silence = np.zeros(FRAME, dtype=np.float32)
        await _send_audio(ws, question)
        while not started.is_set():  # keep the microphone open: room silence
            await _send_audio(ws, silence)
        await _send_audio(ws, np.zeros(int(RATE * play_before_s), dtype=np.float32))
        onset = _onset(interruption)

        def mark(offset: int) -> None:
            if result.onset_sent_at is None and offset + FRAME > onset:
                result.onset_sent_at = time.perf_counter()

        await _send_audio(ws, interruption, on_frame=mark)
        while not done_second.is_set():
            await _send_audio(ws, silence)

    async with asyncio.timeout(timeout_s), asyncio.TaskGroup() as group:
        reader = group.create_task(read())
        talker = group.create_task(talk())
        await reader
        talker.cancel()
    return result


async def _truncate(ws: Any, result: Interruption, now: float) -> None:
    """Stop 'playback' and tell the server how much of the answer was heard."""
    assert result.first_audio_at is not None
    received = sum(len(base64.b64decode(e["delta"])) // 2 for _, e in result.events
                   if e["type"] == "response.output_audio.delta"
                   and e["item_id"] == result.first_item)
    played = min(int((now - result.first_audio_at) * 1000), received * 1000 // RATE)
    result.played_ms = played
    await ws.send(json.dumps({"type": "conversation.item.truncate",
                              "item_id": result.first_item, "content_index": 0,
                              "audio_end_ms": played}))
