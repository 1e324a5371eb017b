"""The pending user turn: from ``speech_started`` until its commit.

Server VAD announces the item id with ``speech_started``; the item enters the
conversation only when the turn is committed. In between the speaker may pause and go
on several times. At each pause the session transcribes speculatively, so the
transcript is ready when the silence window closes; a speculation is numbered, and a
result counts only if it answers the *latest* speculation of the *current* turn:

- speech resumes: the speculation is cancelled and any result it already gave is
  discarded (it lacks the words that follow);
- a result for an older speculation (one superseded by resumed speech, a clear or a
  manual commit) is stale and ignored;
- at commit the speculation, finished or still running, becomes the item's
  transcription; the session publishes exactly one result per item.
"""

from __future__ import annotations

from dataclasses import dataclass

from .effects import TranscriptionCompleted, TranscriptionFailed

TranscriptionResult = TranscriptionCompleted | TranscriptionFailed
FINAL = 0  # the ``speculation`` number of a non-speculative transcription


@dataclass(slots=True)
class Speculation:
    """One speculative transcription of the pending turn's audio so far."""

    number: int  # echoed by the result's ``speculation`` field
    result: TranscriptionResult | None = None  # set when it finished before the commit


class PendingTurn:
    """Owns the announced item id, the speech start and the speculation in flight."""

    def __init__(self) -> None:
        self.item_id: str | None = None
        self.speech_start = 0  # sample index where the item's audio begins
        self.speculation: Speculation | None = None
        self._numbers = 0  # session-wide, so a late result of an earlier turn never matches

    def begin(self, item_id: str, speech_start: int) -> None:
        """``speech_started``: a new turn (a previous uncommitted one is forgotten)."""
        self.item_id, self.speech_start, self.speculation = item_id, speech_start, None

    def speculate(self) -> int:
        """A pause began: start a new speculation; returns its number."""
        assert self.item_id is not None
        self.speculation = Speculation(self.number())
        return self._numbers

    def number(self) -> int:
        """A fresh transcription number (speculations and partial transcripts share them)."""
        self._numbers += 1
        return self._numbers

    def resume(self) -> bool:
        """Speech resumed: drop the speculation; True if there was one to cancel."""
        had = self.speculation is not None
        self.speculation = None
        return had

    def offer(self, result: TranscriptionResult) -> bool:
        """Keep ``result`` if it answers the current speculation; False if it does not."""
        spec = self.speculation
        if (spec is None or result.item_id != self.item_id
                or result.speculation != spec.number or spec.result is not None):
            return False
        spec.result = result
        return True

    def end(self) -> Speculation | None:
        """Commit or clear: the turn is over; returns its live speculation, if any."""
        spec = self.speculation
        self.item_id, self.speculation = None, None
        return spec
