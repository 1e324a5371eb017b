"""The bounded, purgeable queue of server events waiting for the socket.

Only audio deltas count against the bound (in milliseconds of audio): a slow client
slows the TTS producer instead of growing memory, while control events are queued at
once and never wait. On barge-in the cancelled response's queued deltas are purged,
so no audio of it reaches the client after ``speech_started``.
"""

from __future__ import annotations

import asyncio
from collections import deque

from ..protocol.server_events import ResponseOutputAudioDelta, ServerEvent


class Outbox:
    def __init__(self, max_audio_deltas: int = 64) -> None:
        self._queue: deque[ServerEvent] = deque()
        self._audio = 0
        self._max_audio = max_audio_deltas
        self._ready = asyncio.Event()
        self._space = asyncio.Event()
        self._space.set()

    def __len__(self) -> int:
        return len(self._queue)

    def put_nowait(self, event: ServerEvent) -> None:
        self._queue.append(event)
        if isinstance(event, ResponseOutputAudioDelta):
            self._audio += 1
            if self._audio >= self._max_audio:
                self._space.clear()
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
