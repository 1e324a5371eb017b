"""The default conversation: ordered items plus the audio that belongs to them."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..protocol.errors import ProtocolError
from ..protocol.items import AnyItem
from .effects import Float32Array, Int16Array


@dataclass(slots=True)
class AssistantAudio:
    """Output audio of one assistant item and where each transcript clause starts."""

    sample_rate: int
    chunks: list[Int16Array] = field(default_factory=list)
    num_samples: int = 0
    clauses: list[tuple[int, str]] = field(default_factory=list)  # (start sample, text)

    def samples(self) -> Int16Array:
        if not self.chunks:
            return np.zeros(0, dtype=np.int16)
        if len(self.chunks) > 1:
            self.chunks = [np.concatenate(self.chunks)]
        return self.chunks[0]

    def duration_ms(self) -> int:
        return self.num_samples * 1000 // self.sample_rate

    def truncate(self, end_sample: int) -> str:
        """Keep audio up to ``end_sample``; return the transcript that was heard.

        A clause that was cut is kept in proportion to how much of it played, at
        word granularity: we know when each clause started, not each word.
        """
        words: list[str] = []
        bounds = [start for start, _ in self.clauses[1:]] + [self.num_samples]
        for (start, text), stop in zip(self.clauses, bounds, strict=True):
            if start >= end_sample:
                break
            clause_words = text.split()
            if stop <= end_sample or stop <= start:
                words.extend(clause_words)
            else:
                share = (end_sample - start) / (stop - start)
                words.extend(clause_words[: round(share * len(clause_words))])
        kept = self.samples()[:end_sample].copy()
        self.chunks = [kept]
        self.num_samples = len(kept)
        self.clauses = [(s, t) for s, t in self.clauses if s < end_sample]
        return " ".join(words)


class Conversation:
    def __init__(self) -> None:
        self.items: list[AnyItem] = []
        self.input_audio: dict[str, Float32Array] = {}  # user audio at 16 kHz
        self.output_audio: dict[str, AssistantAudio] = {}

    def __contains__(self, item_id: str) -> bool:
        return any(item.id == item_id for item in self.items)

    def get(self, item_id: str) -> AnyItem | None:
        for item in self.items:
            if item.id == item_id:
                return item
        return None

    def last_id(self) -> str | None:
        return self.items[-1].id if self.items else None

    def insert(self, item: AnyItem, previous_item_id: str | None) -> str | None:
        """Insert after ``previous_item_id`` (``"root"``: first; None: last).

        Returns the id of the item now before it.
        """
        if previous_item_id is None:
            prev = self.last_id()
            self.items.append(item)
            return prev
        if previous_item_id == "root":
            self.items.insert(0, item)
            return None
        for index, existing in enumerate(self.items):
            if existing.id == previous_item_id:
                self.items.insert(index + 1, item)
                return previous_item_id
        raise ProtocolError(
            f"Item with item_id not found: {previous_item_id}",
            code="invalid_value",
            param="previous_item_id",
        )

    def delete(self, item_id: str) -> bool:
        for index, item in enumerate(self.items):
            if item.id == item_id:
                del self.items[index]
                self.input_audio.pop(item_id, None)
                self.output_audio.pop(item_id, None)
                return True
        return False
