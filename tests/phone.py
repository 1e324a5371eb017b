"""A simulated Twilio Media Streams peer: Twilio's side of a ``<Connect><Stream>`` call.

It sends ``connected`` and ``start``, then caller audio as 20 ms ``media`` frames in real
time (silence when there is nothing to say: a call never stops sending), and plays what
the server sends the way Twilio does: outbound ``media`` is buffered and played in real
time, a ``mark`` comes back once the audio before it has played, and ``clear`` empties
the buffer and sends back every mark still waiting in it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

import numpy as np
import websockets

from openrealtime.audio import float32_to_pcm16, resample, ulaw_decode, ulaw_encode

RATE = 8000
FRAME_BYTES = 160  # 20 ms of μ-law at 8 kHz
SILENCE = ulaw_encode(np.zeros(FRAME_BYTES, dtype=np.int16))


def mulaw(x: np.ndarray, rate: int = RATE) -> bytes:
    """float32 audio at ``rate`` as μ-law at 8 kHz."""
    if rate != RATE:
        x = resample(x.astype(np.float32), rate, RATE)
    return ulaw_encode(float32_to_pcm16(x))


def tone(seconds: float, amplitude: float = 0.3, freq: float = 300.0) -> bytes:
    t = np.arange(int(RATE * seconds), dtype=np.float32) / RATE
    return mulaw((amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32))


def silence(seconds: float) -> bytes:
    return SILENCE * int(seconds * 50)


class TwilioPeer:
    """One simulated call on an open WebSocket (see :func:`call`)."""

    def __init__(self, ws: Any, stream_sid: str = "MZ00000000000000000000000000000001",
                 call_sid: str = "CA00000000000000000000000000000001") -> None:
        self.ws = ws
        self.stream_sid = stream_sid
        self.call_sid = call_sid
        self.received: list[dict[str, Any]] = []  # every server message, in order
        self.audio = bytearray()  # all outbound audio received
        self.echoed: list[str] = []  # marks sent back as played, in order
        self.cleared: list[str] = []  # marks sent back because a clear dropped them
        self.clears = 0
        self.closed = False
        self._cleared: list[str] = []  # marks a clear dropped, to send back
        self._ended = asyncio.Event()  # the server closed the stream
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._waiting: deque[tuple[str, float]] = deque()  # (mark, when its audio ends)
        self._playback_end = 0.0
        self._sequence = 0
        self._chunk = 0
        self._next_frame = 0.0  # when the next 20 ms frame is due (event loop time)

    # ------------------------------------------------------------------ sending

    async def send(self, message: dict[str, Any] | str | bytes) -> None:
        if isinstance(message, dict):
            self._sequence += 1
            message = json.dumps({"sequenceNumber": str(self._sequence), **message})
        await self.ws.send(message)

    async def start(self, **parameters: str) -> None:
        await self.send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        await self.send({"event": "start", "streamSid": self.stream_sid, "start": {
            "accountSid": "AC00000000000000000000000000000001", "streamSid": self.stream_sid,
            "callSid": self.call_sid, "tracks": ["inbound"], "customParameters": parameters,
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})

    async def media(self, payload: bytes) -> None:
        self._chunk += 1
        await self.send({"event": "media", "streamSid": self.stream_sid, "media": {
            "track": "inbound", "chunk": str(self._chunk), "timestamp": str(self._chunk * 20),
            "payload": base64.b64encode(payload).decode()}})

    async def play(self, audio: bytes) -> None:
        """Send ``audio`` as 20 ms frames in real time, playing what comes back."""
        loop = asyncio.get_running_loop()
        for i in range(0, len(audio), FRAME_BYTES):
            # one frame every 20 ms, on a clock that goes on between calls
            self._next_frame = max(self._next_frame, loop.time() - 0.1)
            await asyncio.sleep(max(0.0, self._next_frame - loop.time()))
            self._next_frame += FRAME_BYTES / RATE
            await self.media(audio[i:i + FRAME_BYTES])
            await self._pump()

    async def until(self, done: Callable[[], bool], within: float = 10.0) -> None:
        """Send silence (as a call does) until ``done()``; fail after ``within`` s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not done():
            if self.closed:
                raise AssertionError("the server closed the stream")
            if loop.time() > deadline:
                raise AssertionError(f"not done within {within} s; received "
                                     f"{[m.get('event') for m in self.received][-20:]}")
            await self.play(SILENCE)

    async def stop(self, within: float = 5.0) -> None:
        """Hang up: ``stop``, then wait for the server to close the stream."""
        await self.send({"event": "stop", "streamSid": self.stream_sid, "stop": {
            "accountSid": "AC00000000000000000000000000000001", "callSid": self.call_sid}})
        async with asyncio.timeout(within):
            await self._ended.wait()
        await self._pump()

    # ------------------------------------------------------------------ receiving

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.received if m.get("event") == kind]

    def heard_ms(self, item_id: str) -> int:
        """The position of ``item_id`` its last played mark names (0: none)."""
        ms = [int(n.rsplit(":", 1)[1]) for n in self.echoed if n.rsplit(":", 1)[0] == item_id]
        return max(ms, default=0)

    async def _read(self) -> None:
        try:
            async for text in self.ws:
                self._inbox.put_nowait(json.loads(text))
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed = True
            self._ended.set()

    async def _pump(self) -> None:
        """Take what the server sent; send back the marks whose audio has played."""
        now = asyncio.get_running_loop().time()
        while not self._inbox.empty():
            self._take(self._inbox.get_nowait(), now)
        if self.closed:
            return
        while self._waiting and self._waiting[0][1] <= now:
            name, _ = self._waiting.popleft()
            self.echoed.append(name)
            await self._mark(name)
        if self._cleared:
            for name in self._cleared:
                await self._mark(name)
            self._cleared = []

    def _take(self, message: dict[str, Any], now: float) -> None:
        self.received.append(message)
        assert message.get("streamSid") == self.stream_sid, message
        kind = message.get("event")
        if kind == "media":
            chunk = base64.b64decode(message["media"]["payload"])
            self.audio.extend(chunk)
            self._playback_end = max(now, self._playback_end) + len(chunk) / RATE
        elif kind == "mark":
            self._waiting.append((message["mark"]["name"], max(now, self._playback_end)))
        elif kind == "clear":
            self.clears += 1
            self._cleared.extend(name for name, _ in self._waiting)
            self.cleared.extend(name for name, _ in self._waiting)
            self._waiting.clear()
            self._playback_end = now

    async def _mark(self, name: str) -> None:
        await self.send({"event": "mark", "streamSid": self.stream_sid,
                         "mark": {"name": name}})

    def outbound_samples(self) -> np.ndarray:
        return ulaw_decode(bytes(self.audio))


@contextlib.asynccontextmanager
async def call(url: str, headers: dict[str, str] | None = None) -> AsyncIterator[TwilioPeer]:
    """A simulated call to ``url`` (``http://host:port``); the stream, not yet started."""
    ws_url = url.replace("http", "ws", 1) + "/twilio/media-stream"
    async with websockets.connect(ws_url, additional_headers=headers) as ws:
        peer = TwilioPeer(ws)
        reader = asyncio.create_task(peer._read())
        try:
            yield peer
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


async def refused(url: str, messages: list[dict[str, Any] | str],
                  headers: dict[str, str] | None = None,
                  within: float = 15.0) -> tuple[int | None, str]:
    """Open a stream, send ``messages``, and return how the server closed it."""
    ws_url = url.replace("http", "ws", 1) + "/twilio/media-stream"
    async with websockets.connect(ws_url, additional_headers=headers) as ws:
        for message in messages:
            with contextlib.suppress(websockets.ConnectionClosed):
                await ws.send(message if isinstance(message, str) else json.dumps(message))
        async with asyncio.timeout(within):
            with contextlib.suppress(websockets.ConnectionClosed):
                async for _ in ws:
                    pass
        return ws.close_code, ws.close_reason or ""
