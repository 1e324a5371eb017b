"""Cut a stream of LLM tokens into clauses for TTS.

The first clause is cut as early as it can still sound natural (a couple of words up
to the first punctuation mark, or a handful of words): it sets the time to first
audio. Later clauses are cut at sentence ends or long-clause commas, which keeps
Piper's prosody natural while the next clause synthesizes behind the current one.
"""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"[.!?…]+[\"')\]]*\s")
_CLAUSE_END = re.compile(r"[,;:—–]\s")  # noqa: RUF001
# Markdown and symbols a voice should not read out.
_UNSPOKEN = re.compile(r"[*_#`~>|]+|\[(.*?)\]\(.*?\)")

FIRST_MIN_WORDS = 2
FIRST_MAX_WORDS = 5
LATER_MIN_WORDS = 5
LATER_MAX_WORDS = 28


def speakable(text: str) -> str:
    text = _UNSPOKEN.sub(lambda m: m.group(1) or " ", text)
    return " ".join(text.split())


class ClauseChunker:
    def __init__(self) -> None:
        self._buffer = ""
        self._emitted = 0

    def push(self, delta: str) -> list[str]:
        self._buffer += delta
        out: list[str] = []
        while True:
            cut = self._find_cut()
            if cut is None:
                return out
            clause = speakable(self._buffer[:cut])
            self._buffer = self._buffer[cut:]
            if clause:
                out.append(clause)
                self._emitted += 1

    def flush(self) -> list[str]:
        clause = speakable(self._buffer)
        self._buffer = ""
        return [clause] if clause else []

    def _find_cut(self) -> int | None:
        first = self._emitted == 0
        min_words = FIRST_MIN_WORDS if first else LATER_MIN_WORDS
        max_words = FIRST_MAX_WORDS if first else LATER_MAX_WORDS
        buf = self._buffer
        for match in _SENTENCE_END.finditer(buf):
            if len(buf[: match.end()].split()) >= (1 if first else 2):
                return match.end()
        for match in _CLAUSE_END.finditer(buf):
            if len(buf[: match.end()].split()) >= min_words:
                return match.end()
        if len(buf.split()) > max_words:
            # cut before the last word: it may still be growing token by token
            cut = buf.rstrip().rfind(" ")
            return cut if cut > 0 else None
        return None
