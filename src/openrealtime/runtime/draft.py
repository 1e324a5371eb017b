"""A draft's output, held back until the turn it answers is decided.

The draft is an ordinary response task (LLM → chunker → TTS) whose facts go into a
:class:`Hold` instead of the core. On ``AdoptDraft`` the held facts are fed to the core
in order, then the task's later facts flow straight through; on ``DiscardDraft`` the
task is cancelled and the hold dropped: the client never sees a thing. Past ``max_audio_s`` of held audio the task waits (the
TTS worker and, behind it, the LLM pause), so a draft that is never adopted costs at
most that much synthesis.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..core import effects as fx

Forward = Callable[[fx.Fact], Awaitable[None]]


@dataclass(slots=True)
class DraftWork:
    """What a draft produced: reported when it is adopted or discarded."""

    text_chars: int = 0
    audio_s: float = 0.0
    facts: int = 0


class Hold:
    def __init__(self, response_id: str, forward: Forward, *, sample_rate: int,
                 max_audio_s: float = 4.0) -> None:
        self.response_id = response_id
        self._forward = forward
        self._sample_rate = sample_rate
        self._max_audio_s = max_audio_s
        self._facts: deque[fx.Fact] = deque()
        self._released = False
        self._open = asyncio.Event()
        self.work = DraftWork()

    async def feed(self, fact: fx.Fact) -> None:
        """The draft task's ``feed``: hold the fact, or pass it on once adopted."""
        if self._released:
            await self._forward(fact)
            return
        self._count(fact)
        self._facts.append(fact)
        if self.work.audio_s >= self._max_audio_s and not self._released:
            await self._open.wait()  # enough is ready: wait for the decision

    async def release(self) -> None:
        """Adopted: feed the held facts to the core in order, then let the rest through."""
        while self._facts:  # (facts that arrive while this awaits join the queue)
            await self._forward(self._facts.popleft())
        self._released = True
        self._open.set()

    def _count(self, fact: fx.Fact) -> None:
        self.work.facts += 1
        if isinstance(fact, fx.TextProduced | fx.ClauseStarted):
            self.work.text_chars += len(fact.text)
        elif isinstance(fact, fx.AudioProduced):
            self.work.audio_s += len(fact.samples) / self._sample_rate
