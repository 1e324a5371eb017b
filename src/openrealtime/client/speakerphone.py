"""A speakerphone client: it plays the reply aloud, and its microphone may hear it again.

It streams a microphone signal at real-time pace (20 ms frames, each sent once it has
been captured, as a microphone would) and plays the reply as it arrives: each audio
delta starts when it arrives or when the previous one ends. So it knows when the first
*audible* reply sample was heard. With ``echo_gain`` the microphone also picks up what
the loudspeaker plays, ``echo_delay_s`` later, with room noise — a speakerphone
without echo cancellation. An ``interruption`` is spoken into the microphone that long
after the reply's first audio. Like any careful client it stops playing on
``speech_started``.

Used by ``bench/turns.py`` and the turn-taking end-to-end tests.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import websockets

from .ask import FRAME, RATE

AUDIBLE = 0.01  # -40 dBFS: a sample this loud is heard


@dataclass
class Call:
    """One turn as the client lived it (``time.perf_counter`` times)."""

    events: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    speech_end: float | None = None  # when the question's last sound was captured
    first_delta: float | None = None
    first_audible: float | None = None  # when the first audible reply sample played
    started: list[float] = field(default_factory=list)  # speech_started arrivals
    onset: float | None = None  # when the interruption's first sound was captured
    answered: asyncio.Event = field(default_factory=asyncio.Event)

    def first(self, kind: str) -> tuple[float, dict[str, Any]] | None:
        return next(((t, e) for t, e in self.events if e["type"] == kind), None)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for _, e in self.events if e["type"] == kind]


class Loudspeaker:
    """What the client plays, on the microphone's sample clock (24 kHz)."""

    def __init__(self, seconds: float = 180.0) -> None:
        self.audio = np.zeros(int(RATE * seconds), dtype=np.float32)
        self.cursor = 0  # where the next delta starts playing

    def play(self, x: np.ndarray, at: int) -> int:
        start = min(max(at, self.cursor), len(self.audio))
        end = min(start + len(x), len(self.audio))
        self.audio[start:end] = x[:end - start]
        self.cursor = end
        return start

    def stop(self, at: int) -> None:
        self.audio[at:] = 0
        self.cursor = min(self.cursor, at)


def loudest_end(x: np.ndarray) -> int:
    loud = np.flatnonzero(np.abs(x) > AUDIBLE)
    return int(loud[-1]) + 1 if len(loud) else 0


async def call(url: str, mic: np.ndarray, session: dict[str, Any], *, echo_gain: float = 0.0,
               echo_delay_s: float = 0.12, noise_dbfs: float = -55.0,
               interruption: tuple[float, np.ndarray] | None = None,
               tail_s: float = 2.5, max_s: float = 90.0) -> Call:
    """One turn: ``mic`` (24 kHz float32, then silence) against the server at ``url``
    (``ws://host:port``) configured with ``session``; returns when the first response
    has been played out (or nothing came)."""
    turn = Call()
    speaker = Loudspeaker()
    rng = np.random.default_rng(7)
    end_index = loudest_end(mic)
    async with websockets.connect(url + "/v1/realtime?model=gpt-realtime", max_size=None) as ws:
        await ws.send(json.dumps({"type": "session.update", "session": session}))
        while json.loads(await ws.recv())["type"] != "session.updated":
            pass
        t0 = time.perf_counter()

        def clock(t: float) -> int:
            return int((t - t0) * RATE)

        async def receive() -> None:
            async for message in ws:
                now = time.perf_counter()
                event = json.loads(message)
                turn.events.append((now, event))
                kind = event["type"]
                if kind == "response.output_audio.delta":
                    x = (np.frombuffer(base64.b64decode(event["delta"]), "<i2") / 32768.0)
                    start = speaker.play(x.astype(np.float32), clock(now))
                    if turn.first_delta is None:
                        turn.first_delta = now
                    loud = np.flatnonzero(np.abs(x) > AUDIBLE)
                    if turn.first_audible is None and len(loud):
                        turn.first_audible = t0 + (start + int(loud[0])) / RATE
                elif kind == "input_audio_buffer.speech_started":
                    turn.started.append(now)
                    speaker.stop(clock(now))
                elif kind == "response.done" and turn.first_delta is not None:
                    turn.answered.set()

        def frame_at(lo: int) -> np.ndarray:
            frame = np.zeros(FRAME, dtype=np.float32)
            if lo < len(mic):
                part = mic[lo:lo + FRAME]
                frame[:len(part)] = part
            if echo_gain:
                delayed = lo - int(echo_delay_s * RATE)
                if delayed >= 0:
                    frame += echo_gain * speaker.audio[delayed:delayed + FRAME]
                frame += rng.normal(0, 10 ** (noise_dbfs / 20), FRAME).astype(np.float32)
            if interruption is not None and turn.first_delta is not None:
                after, speech = interruption
                begin = clock(turn.first_delta) + int(after * RATE)
                if lo + FRAME > begin and lo < begin + len(speech):
                    a, b = max(lo, begin), min(lo + FRAME, begin + len(speech))
                    frame[a - lo:b - lo] += speech[a - begin:b - begin]
                    if turn.onset is None:
                        turn.onset = t0 + begin / RATE
            return frame

        async def send() -> None:
            quiet_end = len(mic) + int(tail_s * RATE)
            index = 0
            while time.perf_counter() - t0 < max_s:
                lo = index * FRAME
                if lo >= quiet_end + 5 * RATE and turn.first_delta is None:
                    return  # no reply
                if turn.answered.is_set() and lo > speaker.cursor + RATE:
                    return  # the reply has been played (and a second more)
                frame = frame_at(lo)
                # a microphone sends a frame once it has been captured
                await asyncio.sleep(max(0.0, t0 + (index + 1) * FRAME / RATE
                                        - time.perf_counter()))
                data = (np.clip(frame, -1, 1) * 32767).astype("<i2").tobytes()
                await ws.send(json.dumps({"type": "input_audio_buffer.append",
                                          "audio": base64.b64encode(data).decode()}))
                if lo <= end_index < lo + FRAME:
                    turn.speech_end = t0 + end_index / RATE
                index += 1

        receiver = asyncio.create_task(receive())
        try:
            await send()
        finally:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
                await receiver
    return turn
