"""The output guard: loops are caught within a bounded number of words, varied text is not;
and the pipeline ends a guarded answer cleanly (LLM stopped, ``length`` → incomplete)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from openrealtime.backends.fake import FakeLLM, FakeTTS
from openrealtime.core import effects as fx
from openrealtime.protocol.items import FunctionCallItem, FunctionCallOutputItem, MessageItem
from openrealtime.runtime.guard import SPOKEN_MAX_TOKENS, SPOKEN_SOFT_WORDS, OutputGuard
from openrealtime.runtime.pipeline import Timing, run_response


def pieces(text: str, how: str) -> list[str]:
    """The same text as an LLM might stream it: word by word, or in odd-sized pieces."""
    if how == "words":
        words = text.split(" ")
        return [w if i == 0 else " " + w for i, w in enumerate(words)]
    size = {"chars": 1, "threes": 3, "sevens": 7}[how]
    return [text[i:i + size] for i in range(0, len(text), size)]


def guard_run(text: str, how: str = "words", **options: Any) -> tuple[OutputGuard, str, int]:
    """(guard, text passed on, words pushed in until it tripped)."""
    guard = OutputGuard(**options)
    out = ""
    for piece in pieces(text, how):
        out += guard.push(piece)
        if guard.tripped:
            break
    else:
        out += guard.flush()
    return guard, out, len(guard.received.split())


# (name, looping text, what is kept, most words read before the guard trips)
LOOPS = [
    ("sentence", "The capital of France is Paris. " * 30,
     "The capital of France is Paris. ", 20),
    ("two sentences", "I like the stars. They shine at night. " * 20,
     "I like the stars. They shine at night. ", 22),
    ("numbered", "".join(f"{i}. The sun is hot. " for i in range(1, 40)),
     "1. The sun is hot. 2. The sun is hot. 3. ", 16),
    ("counter in a long clause",
     "".join(f"Step {i}: go to bed and wake up at the same time every day. "
             for i in range(1, 40)), None, 32),
    ("smollm2 poem", "A majestic, majestic lover, A lover of all, " + "a lover of all, " * 40,
     "A majestic, majestic lover, A lover of all, ", 22),
    ("one word", "very " * 50, None, 14),
    ("spaced letters", "T. R. " * 40, None, 16),
    ("letters", "Sure! " + "T.R." * 40, "Sure! T.R.", 2),
    ("bangs", "Wow" + "!" * 60, "Wow!", 1),
    ("laugh", "ha" * 60, "ha", 1),
    ("zeros", "It costs 1" + "0" * 80, "It costs 10", 3),
]


@pytest.mark.parametrize(("name", "text", "kept", "within"), LOOPS, ids=[x[0] for x in LOOPS])
@pytest.mark.parametrize("how", ["words", "threes", "chars"])
def test_a_loop_is_caught_within_a_bounded_number_of_words(
        name: str, text: str, kept: str | None, within: int, how: str) -> None:
    guard, out, read = guard_run(text, how)
    assert guard.tripped == "loop"
    assert read <= within, (read, out)
    if kept is not None:
        assert out == kept
    assert len(out) < len(text) / 2  # the repeats are not passed on


SOLAR = (
    "The solar system formed about 4.6 billion years ago from a cloud of gas and dust. "
    "At its centre is the Sun, which holds more than 99 percent of the system's mass. "
    "The four inner planets, Mercury, Venus, Earth and Mars, are small and rocky. "
    "Beyond them lies the asteroid belt, a ring of rubble that never became a planet. "
    "The giants Jupiter and Saturn are made mostly of hydrogen and helium, while Uranus "
    "and Neptune contain more ice. Far beyond Neptune, the Kuiper belt is home to Pluto "
    "and many other small icy worlds. Comets that visit the inner system often come from "
    "there, or from the even more distant Oort cloud. Scientists study the planets with "
    "telescopes and robotic probes, and every mission teaches us something new about "
    "how the solar system came to be and whether life could exist elsewhere."
)
PLANETS = " ".join(f"{i}. {name} is the {nth} planet from the Sun." for i, (name, nth) in
                   enumerate(zip(["Mercury", "Venus", "Earth", "Mars", "Jupiter", "Saturn",
                                  "Uranus", "Neptune"],
                                 ["first", "second", "third", "fourth", "fifth", "sixth",
                                  "seventh", "eighth"], strict=True), start=1))
DISTANCES = " ".join(f"{name}: The distance from the Sun is {km} million km." for name, km in
                     [("Mercury", 58), ("Venus", 108), ("Earth", 150), ("Mars", 228),
                      ("Jupiter", 778), ("Saturn", 1434)])
RECIPE = ("- Add one cup of flour to the bowl. - Add one cup of sugar to the bowl. "
          "- Add two eggs to the bowl. - Add a pinch of salt to the bowl. "
          "- Mix everything in the bowl until it is smooth. - Bake it for thirty minutes.")
TIPS = (
    "Here are ten tips for sleeping better:\n\n1. Go to bed at the same time every night.\n"
    "2. Keep your bedroom dark, quiet and cool.\n3. Avoid caffeine after lunch.\n"
    "4. Put your phone away an hour before bed.\n5. Get some sunlight in the morning.\n"
    "6. Exercise during the day, but not right before bed.\n7. Avoid heavy meals at night.\n"
    "8. Keep naps short, under thirty minutes.\n9. Use your bed only for sleep.\n"
    "10. If you cannot sleep, get up and read until you feel tired."
)
VARIED = [
    ("paragraph", SOLAR),
    ("numbered list", PLANETS),
    ("same template", DISTANCES),
    ("recipe", RECIPE),
    ("tips", TIPS),
    ("refrain twice", "Twinkle, twinkle, little star, how I wonder what you are. "
                      "Up above the world so high, like a diamond in the sky. "
                      "Twinkle, twinkle, little star, how I wonder what you are."),
    ("emphasis", "No, no, no. That is very, very, very good! Really really good."),
    ("numbers", "It is 1,000,000,000,000 dollars, or about 3.14159265 per person. Call 555-1234."),
    ("ellipsis", "Well... maybe. Hmm... I think so!! Yes?!"),
    ("short answer", "Paris."),
]


@pytest.mark.parametrize(("name", "text"), VARIED, ids=[x[0] for x in VARIED])
@pytest.mark.parametrize("how", ["words", "sevens", "chars"])
def test_varied_text_passes_untouched(name: str, text: str, how: str) -> None:
    guard, out, _ = guard_run(text, how, soft_max_words=SPOKEN_SOFT_WORDS)
    assert guard.tripped is None
    assert out == text


def test_held_text_is_released_a_word_later() -> None:
    """A repeated word is held only until the repeat breaks off."""
    guard = OutputGuard()
    assert guard.push("The sun is") == "The sun "  # the last word may still grow
    assert guard.push(" hot. The") == "is hot. "
    assert guard.push(" sun") == ""  # repeats "The sun": held
    assert guard.push(" sets. ") == "The sun sets. "
    assert guard.flush() == ""


def test_a_spoken_answer_ends_at_the_first_sentence_end_past_the_soft_limit() -> None:
    sentences = [f"Fact {i} is about the topic {i} and nothing else." for i in range(1, 40)]
    text = " ".join(sentences)
    guard, out, _ = guard_run(text, soft_max_words=SPOKEN_SOFT_WORDS)
    assert guard.tripped == "length"
    assert out.endswith("else.")
    assert SPOKEN_SOFT_WORDS <= len(out.split()) < SPOKEN_SOFT_WORDS + 10
    assert text.startswith(out)
    unlimited, everything, _ = guard_run(text)
    assert unlimited.tripped is None and everything == text


def test_nothing_is_passed_on_after_a_trip() -> None:
    guard = OutputGuard()
    for _ in range(10):
        guard.push("Hello there my friend. ")
    assert guard.tripped == "loop"
    assert guard.push("Something new.") == "" and guard.flush() == ""


# ----------------------------------------------------------------------------- pipeline


def plan(modality: str, *, items: list[Any] | None = None,
         max_output_tokens: int | None = None) -> fx.ResponsePlan:
    return fx.ResponsePlan(
        instructions="Be brief.", output_modalities=[modality], voice="alloy", speed=1.0,
        output_sample_rate=24000, max_output_tokens=max_output_tokens, temperature=0.8,
        items=items if items is not None else [MessageItem(
            id="u1", role="user", content=[{"type": "input_text", "text": "Hi"}])])


async def respond(llm: FakeLLM, response_plan: fx.ResponsePlan) -> list[Any]:
    facts: list[Any] = []

    async def feed(fact: Any) -> None:
        facts.append(fact)

    async with asyncio.timeout(10):
        await run_response("r1", response_plan, llm=llm, tts=FakeTTS(), transcripts={},
                           feed=feed, timing=Timing())
    return facts


def said(facts: list[Any]) -> str:
    """The answer's text: text deltas, or the clauses given to TTS."""
    clauses = [f.text for f in facts if isinstance(f, fx.ClauseStarted)]
    return " ".join(clauses) or "".join(f.text for f in facts if isinstance(f, fx.TextProduced))


@pytest.mark.parametrize("modality", ["audio", "text"])
async def test_a_looping_answer_stops_the_llm_and_ends_incomplete(modality: str) -> None:
    llm = FakeLLM(reply="The capital of France is Paris. " * 40)
    facts = await respond(llm, plan(modality))
    assert said(facts).strip() == "The capital of France is Paris."
    assert llm.stopped_after is not None and llm.stopped_after < 20  # closed, not drained
    finished = facts[-1]
    assert isinstance(finished, fx.ResponseFinished)
    assert finished.reason == "length"  # → incomplete, reason max_output_tokens
    assert finished.output_text_tokens > 0


async def test_only_a_spoken_answer_has_a_length_of_its_own() -> None:
    long = " ".join(f"Fact {i} is about the topic {i} and nothing else." for i in range(1, 40))
    spoken = FakeLLM(reply=long)
    facts = await respond(spoken, plan("audio"))
    assert facts[-1].reason == "length"
    assert SPOKEN_SOFT_WORDS <= len(said(facts).split()) < SPOKEN_SOFT_WORDS + 10
    assert spoken.requests[0].max_tokens == SPOKEN_MAX_TOKENS
    written = FakeLLM(reply=long)
    facts = await respond(written, plan("text"))
    assert facts[-1].reason == "stop" and said(facts) == long
    assert written.requests[0].max_tokens is None


async def test_a_smaller_max_output_tokens_wins_over_the_spoken_length() -> None:
    llm = FakeLLM()
    await respond(llm, plan("audio", max_output_tokens=50))
    await respond(llm, plan("audio", max_output_tokens=4096))
    assert [r.max_tokens for r in llm.requests] == [50, SPOKEN_MAX_TOKENS]


TOOL_TURN = [
    MessageItem(id="u1", role="user", content=[{"type": "input_text", "text": "Where is the ISS?"}]),
    FunctionCallItem(id="f1", call_id="c1", name="show_iss", arguments="{}"),
    FunctionCallOutputItem(id="o1", call_id="c1", output='{"latitude": 51.5, "longitude": -0.12}'),
]


@pytest.mark.parametrize("modality", ["audio", "text"])
async def test_an_empty_answer_to_a_tool_output_says_the_output(modality: str) -> None:
    facts = await respond(FakeLLM(reply=""), plan(modality, items=TOOL_TURN))
    assert said(facts) == "The result is: latitude 51.5, longitude -0.12."
    assert facts[-1].reason == "stop"
    if modality == "audio":
        assert any(isinstance(f, fx.AudioProduced) for f in facts)


async def test_the_model_s_own_answer_and_other_empty_answers_are_left_alone() -> None:
    facts = await respond(FakeLLM(reply="It is over London."), plan("text", items=TOOL_TURN))
    assert said(facts) == "It is over London."
    facts = await respond(FakeLLM(reply=""), plan("text"))  # no tool output before it
    assert said(facts) == ""


def test_a_spoken_poem_ends_at_a_line_end_past_the_soft_limit() -> None:
    colours = ["blue", "grey", "green", "gold", "black", "white", "silver", "pale", "dark"]
    things = ["waves", "gulls", "ships", "stones", "clouds", "shells", "winds", "tides"]
    poem = "".join(f"The {colours[i % 9]} {things[i % 8]} of morning number {i} call,\n"
                   for i in range(1, 30))
    guard, out, _ = guard_run(poem, how="sevens", soft_max_words=SPOKEN_SOFT_WORDS)
    assert guard.tripped == "length"
    assert out.endswith("call,") and poem.startswith(out)
    assert SPOKEN_SOFT_WORDS <= len(out.split()) < SPOKEN_SOFT_WORDS + 11
