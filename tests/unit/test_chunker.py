"""LLM tokens → clauses: an early first clause, natural later cuts, bounded whatever comes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from openrealtime.runtime.chunker import (
    FIRST_MAX_CHARS,
    FIRST_MAX_WORDS,
    LATER_MAX_CHARS,
    LATER_MAX_WORDS,
    ClauseChunker,
)

ANSWER = ("The capital of France is Paris. It has about 2.1 million people, and the Eiffel "
          "Tower, built in 1889, is 330 m tall. Would you like to know more about its museums, "
          "food, or history?")


def stream(text: str, step: int = 3) -> list[str]:
    chunker = ClauseChunker()
    clauses: list[str] = []
    for start in range(0, len(text), step):
        clauses += chunker.push(text[start:start + step])
    return clauses + chunker.flush()


def test_first_clause_is_short_later_ones_end_at_sentences_or_commas() -> None:
    assert stream(ANSWER) == [
        "The capital of France is",
        "Paris. It has about 2.1 million people,",
        "and the Eiffel Tower, built in 1889,",
        "is 330 m tall.",
        "Would you like to know more about its museums,",
        "food, or history?",
    ]


def test_first_clause_ends_at_its_first_sentence_end() -> None:
    assert stream("Sure! Here are three tips: drink water, sleep well.")[0] == "Sure!"


def test_clauses_are_the_models_text() -> None:
    # the transcript keeps what was written; only TTS gets the speakable version
    clauses = stream("**Note:** see `x` at https://example.com/a?b=1. Then more words here, ok.")
    assert clauses[0] == "**Note:** see `x` at https://example.com/a?b=1."


def test_one_big_delta_is_cut_as_a_token_stream_is() -> None:
    text = ANSWER + " and then " + "more words without any stop " * 20 + "at all."
    chunker = ClauseChunker()
    assert chunker.push(text) + chunker.flush() == stream(text)


def test_word_caps() -> None:
    clauses = stream("word " * 200, step=5)
    assert len(clauses[0].split()) == FIRST_MAX_WORDS
    assert all(len(c.split()) == LATER_MAX_WORDS for c in clauses[1:-1])


def test_a_giant_token_is_cut_by_characters() -> None:
    token = "K.R.T" * 1000
    clauses = stream(token, step=1)
    assert len(clauses[0]) == FIRST_MAX_CHARS
    assert all(len(c) == LATER_MAX_CHARS for c in clauses[1:-1])
    assert "".join(clauses) == token


def test_long_words_are_cut_between_words_by_characters() -> None:
    words = " ".join(["x" * 30] * 40)
    clauses = stream(words, step=7)
    assert all(len(c) <= LATER_MAX_CHARS for c in clauses)
    assert all(set(c.split()) == {"x" * 30} for c in clauses)  # no word split


@given(st.text(max_size=3000), st.integers(1, 40))
def test_clauses_are_bounded_and_lose_nothing(text: str, step: int) -> None:
    clauses = stream(text, step)
    assert all(c and c == c.strip() and len(c) <= LATER_MAX_CHARS for c in clauses)
    assert "".join("".join(clauses).split()) == "".join(text.split())
