"""Guard an answer against degenerate model output: repetition loops and runaway length.

Small local models (SmolLM2-135M) fall into loops — a clause said again and again,
``"T.R.T.R.T.R"``, ``"!!!!!!!!"`` — and can run on until the context is full. A voice
assistant must not read that out. :class:`OutputGuard` is fed the LLM's text deltas and
hands back the text that is safe to pass on (to the client, to TTS). Text that repeats
what was already said is *held back* while the repetition lasts: if it turns into a loop
the held copy is dropped (the listener heard the first copy only), if it breaks off (a
common phrase said twice) the held words are released a word later.

When the guard trips, ``tripped`` says why (``"loop"`` or ``"length"``); the caller stops
the LLM and ends the response as ``incomplete`` with reason ``max_output_tokens`` — the
reference's only incomplete reason for a cut-off answer.

Pure and synchronous (no clock, no asyncio): table-tested in ``tests/unit/test_guard.py``.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Literal

# A run of words that repeats, verbatim, words already said: at this length it is a loop
# (a sentence said twice, ``"T. R. T. R. …"``). Legitimate text repeats 2-5 word phrases
# ("of the planet", "it is a"), lists repeat structure with new words in every item; a
# dozen identical words in a row is not speech.
VERBATIM_WORDS = 12
# The last NGRAM_WORDS words said NGRAM_TIMES times in all: a loop with a varying part
# (a counter, a name) between the copies.
NGRAM_WORDS = 8
NGRAM_TIMES = 3
# A sentence of at least SENTENCE_MIN_WORDS words said SENTENCE_TIMES times in all.
SENTENCE_MIN_WORDS = 3
SENTENCE_TIMES = 3
# A character pattern of up to CHAR_PERIOD characters repeated over CHAR_LOOP_CHARS
# characters without a space ("!!!!!!!!!!!!", "T.R.T.R.T.R."); digit groups (a trillion
# is "1,000,000,000,000") need DIGIT_LOOP_CHARS.
CHAR_PERIOD = 6
CHAR_LOOP_CHARS = 12
DIGIT_LOOP_CHARS = 32

# Spoken answers. Speech runs at about 150 words a minute, so 120 words is about 48 s:
# past that a spoken answer ends at its next sentence or line end. The hard cap is the LLM's
# token limit, SPOKEN_MAX_TOKENS (about 200 tokens, 150 words, 60 s of speech), in
# case no sentence ends. A smaller ``max_output_tokens`` of the session or response wins.
SPOKEN_SOFT_WORDS = 120
SPOKEN_MAX_TOKENS = 200

Trip = Literal["loop", "length"]

_WORD = re.compile(r"\S+")
_SPACE = re.compile(r"\s*")
_SENTENCE_END = re.compile(r"[.!?…]+[\"')\]]*$")
_ALNUM = re.compile(r"[^\w]+")
_DIGITS = re.compile(r"[\d.,]+")


def _normal(word: str) -> str:
    """Case and punctuation do not make a repeat new; pure punctuation stays itself."""
    return _ALNUM.sub("", word).lower() or word


def char_loop(word: str) -> int:
    """Where, in ``word``, a short character pattern starts repeating too long; -1 if not.

    The first copy of the pattern is kept ("Wow!" of "Wow!!!!!!!!!!!!!").
    """
    for period in range(1, CHAR_PERIOD + 1):
        run = period  # length of the periodic tail with this period
        while run < len(word) and word[-run - 1] == word[-run - 1 + period]:
            run += 1
        limit = DIGIT_LOOP_CHARS if _DIGITS.fullmatch(word[-run:]) else CHAR_LOOP_CHARS
        if run >= limit and run >= 3 * period:
            return len(word) - run + period
    return -1


class OutputGuard:
    """Feed it text deltas; it returns the text to pass on and trips on degenerate output.

    ``soft_max_words``: past this many words the answer ends at its next sentence or line
    end (``tripped == "length"``); None (text answers) for no length limit of the guard's.
    Once tripped, nothing more is passed on; ``released`` is what was.
    """

    def __init__(self, *, soft_max_words: int | None = None) -> None:
        self.soft_max_words = soft_max_words
        self.tripped: Trip | None = None
        self._text = ""  # everything received
        self._released = 0  # characters of _text passed on
        self._scan = 0  # end of the last complete word in _text
        self._cut: int | None = None  # once tripped: text before this may still go out
        self._words: list[str] = []  # normalized complete words
        self._starts: list[int] = []  # where each complete word starts in _text
        self._seen: defaultdict[str, list[int]] = defaultdict(list)  # word -> indices
        self._match = 0  # words at the end repeating words said before
        self._sentences: Counter[str] = Counter()
        self._sentence_start = 0  # index in _words of the current sentence

    @property
    def released(self) -> str:
        """All the text passed on so far."""
        return self._text[: self._released]

    @property
    def received(self) -> str:
        """All the text pushed in, passed on or not."""
        return self._text

    def push(self, delta: str) -> str:
        """Take a delta; return the text that may be passed on now ("" once tripped)."""
        if self.tripped is not None:
            return ""
        self._text += delta
        # Words are judged when complete (whitespace follows): the last may still grow.
        for match in _WORD.finditer(self._text, self._scan):
            if match.end() == len(self._text):
                if (at := char_loop(match.group())) >= 0:
                    self._trip("loop", match.start() + at)
                break
            self._scan = match.end()
            self._add_word(match.group(), match.start())
            if self.tripped is not None:
                break
        return self._release(self._cut if self._cut is not None else self._hold_start())

    def flush(self) -> str:
        """The stream ended: the text still held back (a repeat that did not loop)."""
        if self.tripped is not None:
            return ""
        tail = _WORD.search(self._text, self._scan)
        if tail is not None and (at := char_loop(tail.group())) >= 0:
            self._trip("loop", tail.start() + at)
            return self._release(tail.start() + at)
        return self._release(len(self._text))

    # ------------------------------------------------------------------ internals

    def _add_word(self, raw: str, start: int) -> None:
        word = _normal(raw)
        index = len(self._words)
        self._words.append(word)
        self._starts.append(start)
        self._match, copies = self._repeat(index)
        self._seen[word].append(index)
        if self._match >= VERBATIM_WORDS or copies + 1 >= NGRAM_TIMES:
            self._trip("loop", self._hold_start())
        elif (at := char_loop(raw)) >= 0:
            self._trip("loop", start + at)
        elif _SENTENCE_END.search(raw):
            self._end_sentence(index, start + len(raw))
        elif self._past_soft_limit(index) and "\n" in self._gap_after(start + len(raw)):
            self._trip("length", start + len(raw))  # a line of a poem or a list ends here

    def _repeat(self, index: int) -> tuple[int, int]:
        """(longest run ending here that was said before, earlier copies of the n-gram)."""
        longest = copies = 0
        words = self._words
        for j in self._seen.get(words[index], ()):
            k = 1
            while k <= j and k < VERBATIM_WORDS and words[j - k] == words[index - k]:
                k += 1
            longest = max(longest, k)
            copies += k >= NGRAM_WORDS
        return longest, copies

    def _end_sentence(self, index: int, end: int) -> None:
        sentence = self._words[self._sentence_start:index + 1]
        self._sentence_start = index + 1
        if len(sentence) < SENTENCE_MIN_WORDS:
            return  # "1." of a list, "Yes!": neither a loop nor a place to end an answer
        key = " ".join(sentence)
        self._sentences[key] += 1
        if self._sentences[key] >= SENTENCE_TIMES:
            self._trip("loop", self._starts[index + 1 - len(sentence)])
        elif self._past_soft_limit(index):
            self._trip("length", end)

    def _past_soft_limit(self, index: int) -> bool:
        return self.soft_max_words is not None and index + 1 >= self.soft_max_words

    def _gap_after(self, end: int) -> str:
        """The whitespace received so far after a word ending at ``end``."""
        gap = _SPACE.match(self._text, end)
        return gap.group() if gap else ""

    def _hold_start(self) -> int:
        """Text from here on is held: the repeating run, else the unfinished last word."""
        if self._match:
            return self._starts[len(self._words) - self._match]
        tail = _WORD.search(self._text, self._scan)
        return tail.start() if tail else len(self._text)

    def _release(self, upto: int) -> str:
        upto = max(upto, self._released)
        out = self._text[self._released:upto]
        self._released = upto
        return out

    def _trip(self, why: Trip, cut: int) -> None:
        """Stop: nothing more goes out, except text before ``cut`` not yet passed on."""
        self.tripped = why
        self._cut = cut
