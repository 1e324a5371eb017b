"""A WebRTC caller made with aiortc, as a browser would call ``/v1/realtime/calls``: its
own peer connection, a microphone track that plays what it is given in real time, the
data channel ``oai-events``, and the server's voice recorded as it arrives."""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import numpy as np

RATE = 48_000
FRAME = 960


class Microphone:
    """An aiortc audio track: queued speech, else silence, 20 ms a frame in real time."""

    def __init__(self) -> None:
        from aiortc.mediastreams import MediaStreamTrack

        class _Track(MediaStreamTrack):
            kind = "audio"

            def __init__(self, outer: Microphone) -> None:
                super().__init__()
                self.outer = outer

            async def recv(self) -> Any:
                return await self.outer.frame()

        self.track = _Track(self)
        self.pending = np.zeros(0, dtype=np.int16)
        self._start: float | None = None
        self._pts = 0

    def say(self, x24k: np.ndarray) -> float:
        """Queue speech (float32 at 24 kHz); returns its duration in seconds."""
        from openrealtime.audio import resample

        up = resample(x24k.astype(np.float32), 24000, RATE)
        self.pending = np.concatenate([self.pending,
                                       (np.clip(up, -1, 1) * 32767).astype(np.int16)])
        return len(up) / RATE

    async def frame(self) -> Any:
        import av

        now = time.monotonic()
        if self._start is None:
            self._start = now
        elif (due := self._start + self._pts / RATE) > now:
            await asyncio.sleep(due - now)
        data = np.zeros(FRAME, dtype=np.int16)
        take = min(FRAME, len(self.pending))
        data[:take] = self.pending[:take]
        self.pending = self.pending[take:]
        frame = av.AudioFrame.from_ndarray(data.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, RATE)
        self._pts += FRAME
        return frame


class Caller:
    """One call: events from the data channel, the server's audio (48 kHz mono)."""

    def __init__(self) -> None:
        from aiortc import RTCConfiguration, RTCPeerConnection

        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.mic = Microphone()
        self.pc.addTrack(self.mic.track)
        self.channel = self.pc.createDataChannel("oai-events")
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.seen: list[dict[str, Any]] = []
        self.heard: list[np.ndarray] = []
        self.location = ""
        self._tasks: list[asyncio.Task[Any]] = []
        self.channel.on("message", lambda m: self.events.put_nowait(json.loads(m)))

        @self.pc.on("track")
        def on_track(track: Any) -> None:
            self._tasks.append(asyncio.ensure_future(self._listen(track)))

    async def _listen(self, track: Any) -> None:
        from aiortc.mediastreams import MediaStreamError

        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            x = frame.to_ndarray().reshape(-1).astype(np.float32) / 32768
            if frame.layout.name == "stereo":
                x = x.reshape(-1, 2).mean(axis=1)
            self.heard.append(x)

    async def dial(self, url: str, *, path: str = "/v1/realtime/calls",
                   headers: dict[str, str] | None = None, session: dict[str, Any] | None = None
                   ) -> httpx.Response:
        from aiortc import RTCSessionDescription

        await self.pc.setLocalDescription(await self.pc.createOffer())
        sdp = self.pc.localDescription.sdp
        async with httpx.AsyncClient() as http:
            if session is None:
                response = await http.post(url + path, content=sdp, headers={
                    "Content-Type": "application/sdp", **(headers or {})})
            else:
                response = await http.post(url + path, headers=headers or {}, files={
                    "sdp": (None, sdp, "application/sdp"),
                    "session": (None, json.dumps(session), "application/json")})
        if response.status_code == 201:
            self.location = response.headers["location"]
            await self.pc.setRemoteDescription(RTCSessionDescription(response.text, "answer"))
        return response

    def send(self, event: dict[str, Any]) -> None:
        self.channel.send(json.dumps(event))

    async def until(self, kind: str, within: float = 20.0) -> dict[str, Any]:
        async with asyncio.timeout(within):
            while True:
                event = await self.events.get()
                self.seen.append(event)
                if event["type"] == kind:
                    return event

    def audio(self) -> np.ndarray:
        return np.concatenate(self.heard) if self.heard else np.zeros(0, dtype=np.float32)

    async def close(self) -> None:
        await self.pc.close()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@contextlib.asynccontextmanager
async def calling() -> AsyncIterator[Caller]:
    caller = Caller()
    try:
        yield caller
    finally:
        await caller.close()
