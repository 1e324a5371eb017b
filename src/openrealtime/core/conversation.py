"""The default conversation: ordered items plus the audio that belongs to them."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..protocol.errors import ProtocolError
from ..protocol.items import AnyItem
from .effects import Float32Array, Int16Array
from .limits import SessionLimits


@dataclass(slots=True)
class AssistantAudio:
    """Output audio of one assistant item and where each transcript clause starts.

    ``num_samples`` and ``clauses`` are the item's whole timeline; the samples
    themselves are kept only up to ``max_samples`` (a cap on one item's memory).
    """

    sample_rate: int
    chunks: list[Int16Array] = field(default_factory=list)
    num_samples: int = 0
    clauses: list[tuple[int, str]] = field(default_factory=list)  # (start sample, text)
    max_samples: int | None = None  # None: keep every sample
    held_samples: int = 0  # samples in ``chunks``

    @property
    def complete(self) -> bool:
        """Whether every sample of the timeline is held (retrieve needs all of them)."""
        return self.held_samples == self.num_samples

    def append(self, samples: Int16Array) -> None:
        self.num_samples += len(samples)
        room = len(samples) if self.max_samples is None else self.max_samples - self.held_samples
        if room <= 0:
            return
        # A slice would keep the whole array alive: copy the part that fits.
        kept = samples if room >= len(samples) else samples[:room].copy()
        self.chunks.append(kept)
        self.held_samples += len(kept)

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
        self.num_samples = end_sample
        self.held_samples = len(kept)
        self.clauses = [(s, t) for s, t in self.clauses if s < end_sample]
        return " ".join(words)


class Conversation:
    """The items, oldest first, and the audio still retained for the recent ones.

    Audio retention and the item cap follow :class:`~.limits.SessionLimits` (the rules
    and their reasons are in :mod:`.limits`). Items that leave the conversation are
    queued in ``forgotten`` for the session to report to the runtime.
    """

    def __init__(self, limits: SessionLimits | None = None) -> None:
        self.limits = limits or SessionLimits()
        self.items: list[AnyItem] = []
        # Insertion order is recency: the first entries are released first.
        self.input_audio: dict[str, Float32Array] = {}  # user audio at 16 kHz
        self.output_audio: dict[str, AssistantAudio] = {}
        # Every user audio item's length, for usage accounting after its audio is gone.
        self.input_samples: dict[str, int] = {}
        self.released: set[str] = set()  # items whose audio is no longer retained
        self.forgotten: list[str] = []  # ids dropped over the cap, not yet reported
        self._input_held = 0  # samples in input_audio

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

        Returns the id of the item now before it. Over ``max_items`` the oldest other
        item is dropped.
        """
        if previous_item_id is None:
            prev = self.last_id()
            self.items.append(item)
        elif previous_item_id == "root":
            self.items.insert(0, item)
            prev = None
        else:
            index = self._index(previous_item_id)
            self.items.insert(index + 1, item)
            prev = previous_item_id
        self._enforce_item_cap(item)
        return prev

    def _index(self, item_id: str) -> int:
        for index, existing in enumerate(self.items):
            if existing.id == item_id:
                return index
        raise ProtocolError(
            f"Item with item_id not found: {item_id}",
            code="invalid_value",
            param="previous_item_id",
        )

    def _enforce_item_cap(self, inserted: AnyItem) -> None:
        while len(self.items) > self.limits.max_items:
            # never the item just inserted: its added/done events are on their way
            index = 1 if self.items[0] is inserted else 0
            dropped = self.items.pop(index)
            if dropped.id is not None:
                self._forget_audio(dropped.id)
                self.forgotten.append(dropped.id)

    def delete(self, item_id: str) -> bool:
        for index, item in enumerate(self.items):
            if item.id == item_id:
                del self.items[index]
                self._forget_audio(item_id)
                return True
        return False

    def _forget_audio(self, item_id: str) -> None:
        audio = self.input_audio.pop(item_id, None)
        if audio is not None:
            self._input_held -= len(audio)
        self.output_audio.pop(item_id, None)
        self.input_samples.pop(item_id, None)
        self.released.discard(item_id)

    # ------------------------------------------------------------------ audio

    def keep_input_audio(self, item_id: str, audio: Float32Array) -> None:
        """Retain a user item's audio, releasing the oldest past the limits."""
        self.input_samples[item_id] = len(audio)
        self.input_audio[item_id] = audio
        self._input_held += len(audio)
        limits = self.limits
        while self.input_audio and (len(self.input_audio) > limits.input_audio_items
                                    or self._input_held > limits.input_audio_samples):
            oldest = next(iter(self.input_audio))
            self._input_held -= len(self.input_audio.pop(oldest))
            self.released.add(oldest)

    def keep_output_audio(self, item_id: str, audio: AssistantAudio) -> None:
        """Retain an assistant item's audio, releasing the oldest past the limit."""
        self.output_audio[item_id] = audio
        while len(self.output_audio) > self.limits.output_audio_items:
            oldest = next(iter(self.output_audio))
            del self.output_audio[oldest]
            self.released.add(oldest)

    def audio_bytes(self) -> int:
        """Bytes of audio samples retained (for tests and metrics)."""
        user = sum(a.nbytes for a in self.input_audio.values())
        return user + sum(a.held_samples * 2 for a in self.output_audio.values())
