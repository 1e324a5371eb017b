"""The bounded, purgeable queue of server events waiting for the socket.

Audio deltas count against one bound (in deltas, i.e. milliseconds of audio): a slow
client slows the TTS producer instead of growing memory. Control events are queued at
once and never wait, but they have a bound too, far above what a reading client ever
has queued: past it the outbox drops them and says it ``overflowed`` (the driver then
closes the session), so a client that sends and never reads cannot grow the server. On barge-in the cancelled response's queued deltas are purged,
so no audio of it reaches the client after ``speech_started``.
"""

from __future__ import annotations

import asyncio
from collections import deque

from ..protocol.server_events import ResponseOutputAudioDelta, ServerEvent


class Outbox:
    def __init__(self, max_audio_deltas: int = 64, max_events: int = 4096) -> None:
        self._queue: deque[ServerEvent] = deque()
        self._audio = 0
        self._max_audio = max_audio_deltas
        self._max_events = max_events
        self.overflowed = False
        self._ready = asyncio.Event()
        self._space = asyncio.Event()
        self._space.set()

    def __len__(self) -> int:
        return len(self._queue)

    def put_nowait(self, event: ServerEvent) -> None:
        if isinstance(event, ResponseOutputAudioDelta):
            self._audio += 1
            if self._audio >= self._max_audio:
                self._space.clear()
        elif len(self._queue) - self._audio >= self._max_events:
            self.overflowed = True
            return
        self._queue.append(event)
        self._ready.set()

    async def wait_for_space(self) -> None:
        await self._space.wait()

    async def get(self) -> ServerEvent:
        while not self._queue:
            self._ready.clear()
            await self._ready.wait()
        event = self._queue.popleft()
        if isinstance(event, ResponseOutputAudioDelta):
            self._audio -= 1
            if self._audio < self._max_audio:
                self._space.set()
        return event

    def purge_audio(self, response_id: str) -> int:
        """Drop queued audio deltas of ``response_id``; returns how many."""
        kept = deque(e for e in self._queue
                     if not (isinstance(e, ResponseOutputAudioDelta)
                             and e.response_id == response_id))
        dropped = len(self._queue) - len(kept)
        self._queue = kept
        self._audio -= dropped
        if self._audio < self._max_audio:
            self._space.set()
        return dropped
