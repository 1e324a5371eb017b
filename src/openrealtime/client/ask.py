"""A plain-websockets realtime client: speak a WAV file, save the spoken answer.

Used by ``openrealtime ask``, by ``make demo``, by the end-to-end tests and by the
latency benchmark, so all of them measure the same thing: a question streamed in
20 ms frames at real-time pace, then silence until the answer is complete.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import websockets

from ..audio import float32_to_pcm16, int16_to_bytes, resample

RATE = 24000
FRAME_MS = 20
FRAME = RATE * FRAME_MS // 1000


@dataclass
class TurnResult:
    question: str = ""
    answer: str = ""
    audio: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int16))
    status: str = ""
    # perf_counter timestamps
    speech_end_sent: float = 0.0  # the last frame of the question's speech left the client
    speech_stopped: float | None = None
    first_audio: float | None = None
    done: float | None = None
    heard_until: float | None = None  # when the reply's audio would end, played from its start
    # Silence a player would insert: it starts at the first delta and plays on; a delta
    # that comes after what it had is over adds the wait (a stall), and play resumes then.
    stalls_s: float = 0.0
    stall_count: int = 0
    events: list[str] = field(default_factory=list)
    usage: dict[str, Any] | None = None
    errors: list[str] = field(default_factory=list)  # error events (when not strict)

    @property
    def latency_s(self) -> float | None:
        """First audio delta minus ``speech_stopped``."""
        if self.first_audio is None or self.speech_stopped is None:
            return None
        return self.first_audio - self.speech_stopped

    @property
    def latency_from_speech_end_s(self) -> float | None:
        """First audio delta minus the acoustic end of speech."""
        return None if self.first_audio is None else self.first_audio - self.speech_end_sent


def speech_end(x: np.ndarray, threshold: float = 0.01) -> int:
    """Index after the last sample louder than ``threshold`` (the acoustic end)."""
    loud = np.flatnonzero(np.abs(x) > threshold)
    return int(loud[-1]) + 1 if len(loud) else 0


def to_pcm24k(x: np.ndarray, rate: int) -> np.ndarray:
    return x if rate == RATE else resample(x, rate, RATE)


async def _stream(ws: Any, x: np.ndarray, result: TurnResult, realtime: bool,
                  trailing_silence_s: float, listen_s: float | None = None) -> None:
    """The question, then silence. At real-time pace the silence goes on, as from a
    microphone, until the answer is complete (``listen_s``: and heard to its end, or
    for that long after it is complete, as a user listens before asking again): a server that learns from the input while its reply
    plays (the echo path) hears what a real client sends. Otherwise
    ``trailing_silence_s`` of it, at once."""
    end = speech_end(x)
    padded = np.concatenate([x, np.zeros(int(RATE * trailing_silence_s), dtype=np.float32)])
    silence = np.zeros(FRAME, dtype=np.float32)
    start = time.perf_counter()
    index = 0
    while _speaking(result, listen_s) and (realtime or index * FRAME < len(padded)):
        offset = index * FRAME
        frame = padded[offset:offset + FRAME] if offset < len(padded) else silence
        payload = base64.b64encode(int16_to_bytes(float32_to_pcm16(frame))).decode()
        await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": payload}))
        if offset <= end < offset + FRAME:
            result.speech_end_sent = time.perf_counter()
        index += 1
        if realtime:
            delay = start + index * FRAME_MS / 1000 - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)


async def _drain(ws: Any, result: TurnResult) -> None:
    """Events after ``response.done`` while the answer is heard (kept by type)."""
    async for message in ws:
        result.events.append(json.loads(message)["type"])


def _speaking(result: TurnResult, listen_s: float | None) -> bool:
    """Whether the client still sends microphone audio in this turn."""
    if result.done is None:
        return True
    if listen_s is None or result.heard_until is None:
        return False
    return time.perf_counter() < min(result.heard_until, result.done + listen_s)


async def _collect(ws: Any, result: TurnResult, strict: bool) -> None:
    chunks: list[np.ndarray] = []
    played_until = 0.0
    async for message in ws:
        event = json.loads(message)
        kind = event["type"]
        result.events.append(kind)
        if kind == "input_audio_buffer.speech_stopped":
            result.speech_stopped = time.perf_counter()
        elif kind == "conversation.item.input_audio_transcription.completed":
            result.question = event["transcript"]
        elif kind in ("response.output_audio.delta", "response.audio.delta"):
            now = time.perf_counter()
            if result.first_audio is None:
                result.first_audio = played_until = now
            chunks.append(np.frombuffer(base64.b64decode(event["delta"]), dtype="<i2"))
            result.heard_until = result.first_audio + sum(map(len, chunks)) / RATE
            if now > played_until:  # the player ran dry
                if played_until > result.first_audio:
                    result.stalls_s += now - played_until
                    result.stall_count += 1
                played_until = now
            played_until += len(chunks[-1]) / RATE
        elif kind in ("response.output_audio_transcript.done", "response.audio_transcript.done"):
            result.answer = event["transcript"]
        elif kind in ("response.output_text.done", "response.text.done"):
            result.answer = event["text"]
        elif kind == "response.done":
            result.status = event["response"]["status"]
            result.usage = event["response"].get("usage")
            result.done = time.perf_counter()
            break
        elif kind == "error":
            if strict:
                raise RuntimeError(f"server error: {event['error']['message']}")
            result.errors.append(str(event["error"].get("message")))
    if chunks:
        result.audio = np.concatenate(chunks).astype(np.int16)


async def ask_turn(ws: Any, x: np.ndarray, *, realtime: bool = True,
                   trailing_silence_s: float = 3.0, timeout_s: float = 60.0,
                   strict: bool = True, listen_s: float | None = None) -> TurnResult:
    """Stream one spoken question (float32, 24 kHz) and collect the answer.

    ``listen_s``: return only once the answer would have been heard to its end, or
    ``listen_s`` seconds after it is complete (the next question then talks over the
    rest), the microphone sending silence meanwhile.

    ``strict``: an ``error`` event raises and so does no answer within ``timeout_s``;
    otherwise either is kept in ``result.errors`` (with the events seen).
    """
    result = TurnResult()
    collector = asyncio.create_task(_collect(ws, result, strict))
    streamer = asyncio.create_task(_stream(ws, x, result, realtime, trailing_silence_s,
                                           listen_s))
    try:
        await asyncio.wait_for(asyncio.shield(collector), len(x) / RATE + timeout_s)
        if listen_s is not None:  # reading on: a client that stops reading stalls its session
            drain = asyncio.create_task(_drain(ws, result))
            try:
                await streamer
            finally:
                drain.cancel()
                await asyncio.gather(drain, return_exceptions=True)
    except TimeoutError:
        if strict:
            raise
        result.errors.append(f"no response.done within {timeout_s:g} s after the audio; "
                             f"events: {', '.join(result.events) or 'none'}")
    finally:
        for task in (streamer, collector):
            task.cancel()
        outcomes = await asyncio.gather(streamer, collector, return_exceptions=True)
    if strict and isinstance(outcomes[0], Exception) and result.done is None:
        raise outcomes[0]
    return result


async def configure(ws: Any, instructions: str | None = None) -> dict[str, Any]:
    """Wait for ``session.created`` and switch on input transcription."""
    created = json.loads(await ws.recv())
    # A spoken answer: cap its length (the protocol's default is "inf").
    session: dict[str, Any] = {"type": "realtime", "output_modalities": ["audio"],
                               "max_output_tokens": 300,
                               "audio": {"input": {"transcription": {"model": "whisper-1"},
                                                   "turn_detection": {"type": "server_vad"}}}}
    if instructions:
        session["instructions"] = instructions
    await ws.send(json.dumps({"type": "session.update", "session": session}))
    while True:
        event = json.loads(await ws.recv())
        if event["type"] == "session.updated":
            return created
        if event["type"] == "error":
            raise RuntimeError(event["error"]["message"])


def ws_url(base: str, model: str = "gpt-realtime") -> str:
    base = base.rstrip("/")
    if base.startswith("http"):
        base = "ws" + base[4:]
    if not base.endswith("/v1/realtime"):
        base = base + ("/realtime" if base.endswith("/v1") else "/v1/realtime")
    return f"{base}?model={model}"


def image_data_url(data: bytes) -> str:
    """A ``data:`` URL for PNG or JPEG bytes; ValueError for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        mime = "image/png"
    elif data.startswith(b"\xff\xd8\xff"):
        mime = "image/jpeg"
    else:
        raise ValueError("not a PNG or JPEG image")
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


async def share_image(ws: Any, data: bytes) -> None:
    """Put an image into the conversation (GA ``input_image``) before the question."""
    await ws.send(json.dumps({"type": "conversation.item.create", "item": {
        "type": "message", "role": "user",
        "content": [{"type": "input_image", "image_url": image_data_url(data)}]}}))


async def ask_url(url: str, x: np.ndarray, *, api_key: str | None = None,
                  instructions: str | None = None, realtime: bool = True,
                  image: bytes | None = None) -> TurnResult:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    async with websockets.connect(ws_url(url), additional_headers=headers,
                                  max_size=None) as ws:
        await configure(ws, instructions)
        if image is not None:
            await share_image(ws, image)
        return await ask_turn(ws, x, realtime=realtime)


async def converse(url: str, questions: list[np.ndarray], *, api_key: str | None = None,
                   instructions: str | None = None,
                   on_turn: Any = None) -> list[TurnResult]:
    """Several spoken turns in ONE session, each at real-time pace, errors kept per turn;
    the client does not play the answers but listens as a user would, its microphone
    sending silence, to the end of each answer (at most 30 s after ``response.done``)
    before it asks the next question. (Asking over the rest after 3 s made some turns
    collect a cancelled response: a fresh-clone CI run failed on it, 1 in 6 runs.)

    ``on_turn(index, result)`` is called after each answer (progress, figures).
    """
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    results: list[TurnResult] = []
    async with websockets.connect(ws_url(url), additional_headers=headers,
                                  max_size=None) as ws:
        await configure(ws, instructions)
        for index, x in enumerate(questions):
            results.append(await ask_turn(ws, x, strict=False, listen_s=30.0))
            if on_turn is not None:
                on_turn(index, results[-1])
    return results
