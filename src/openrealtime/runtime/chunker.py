"""Cut a stream of LLM tokens into clauses for TTS.

The first clause is cut as early as it can still sound natural (a couple of words up
to the first punctuation mark, or a handful of words): it sets the time to first
audio. Later clauses are cut at sentence ends or long-clause commas, which keeps
Piper's prosody natural while the next clause synthesizes behind the current one.

Clauses are the model's own text (only the whitespace around them is dropped): they
become the transcript's clauses, and :mod:`.speakable` turns each into what TTS says.
A clause is also bounded in characters, so a model that never writes a space or a
punctuation mark (one giant "word") is still cut, and the work per token stays bounded.
"""

from __future__ import annotations

import re
from itertools import islice

_SENTENCE_END = re.compile(r"[.!?…]+[\"')\]]*\s")
_CLAUSE_END = re.compile(r"[,;:—–]\s")  # noqa: RUF001
_WORD = re.compile(r"\S+")

FIRST_MIN_WORDS = 2
FIRST_MAX_WORDS = 5
LATER_MIN_WORDS = 5
LATER_MAX_WORDS = 28
#: Longest first clause in characters (five words are far shorter; this cuts giant tokens).
FIRST_MAX_CHARS = 80
#: Longest later clause in characters (28 words of ordinary text are about 170).
LATER_MAX_CHARS = 320


class ClauseChunker:
    """Push LLM text deltas in, get whole clauses out; :meth:`flush` at the end."""

    def __init__(self) -> None:
        self._buffer = ""
        self._emitted = 0

    def push(self, delta: str) -> list[str]:
        """Clauses completed by ``delta`` (often none)."""
        self._buffer += delta
        out: list[str] = []
        start = 0
        while (cut := self._find_cut(start)) is not None:
            clause = self._buffer[start:cut].strip()
            start = cut
            if clause:
                out.append(clause)
                self._emitted += 1
        # slice once per push: cutting a huge delta stays linear
        self._buffer = self._buffer[start:]
        return out

    def flush(self) -> list[str]:
        """The rest of the text, as one last clause (or none)."""
        clause = self._buffer.strip()
        self._buffer = ""
        return [clause] if clause else []

    def _find_cut(self, start: int) -> int | None:
        first = self._emitted == 0
        min_words = FIRST_MIN_WORDS if first else LATER_MIN_WORDS
        max_words = FIRST_MAX_WORDS if first else LATER_MAX_WORDS
        max_chars = FIRST_MAX_CHARS if first else LATER_MAX_CHARS
        forced, scope = self._limits(start, max_words, max_chars)
        # the earliest natural cut: the one a token-by-token stream would have met first
        cuts = [cut for cut in (self._natural(_SENTENCE_END, start, scope, 1 if first else 2),
                                self._natural(_CLAUSE_END, start, scope, min_words))
                if cut is not None]
        return min(cuts) if cuts else forced

    def _natural(self, pattern: re.Pattern[str], start: int, scope: int,
                 min_words: int) -> int | None:
        for match in pattern.finditer(self._buffer, start, scope):
            if len(self._buffer[start:match.end()].split()) >= min_words:
                return match.end()
        return None

    def _limits(self, start: int, max_words: int, max_chars: int) -> tuple[int | None, int]:
        """(where the caps force a cut, or None; how far to look for a natural cut).

        The forced cut is before the first word past the word cap (it may still be
        growing token by token), or before the last word that starts within
        ``max_chars``, or at ``max_chars`` inside a word that has no end in sight.
        A natural cut must come before it, so one big delta is cut as a stream of
        small ones would be.
        """
        buf = self._buffer
        limit = start + max_chars
        words = list(islice(_WORD.finditer(buf, start, limit + 1), max_words + 1))
        forced = words[max_words].start() if len(words) > max_words else None
        if len(buf) > limit and (forced is None or forced > limit):
            inside = [w.start() for w in words[1:] if w.start() <= limit]
            forced = inside[-1] if inside else limit
        return forced, len(buf) if forced is None else forced
