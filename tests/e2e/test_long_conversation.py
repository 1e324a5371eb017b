"""A 20-turn spoken conversation in ONE session with the real local models.

The questions are spoken by four voices (Piper's joe and three espeak-ng voices) at
real-time pace, and chosen to make the tiny model produce what broke the server
before: lists, acronyms, numbers with units, URLs, code. "Who wrote Romeo and
Juliet?" is the question whose answer once segfaulted espeak-ng at turn 10.
Asserted: what must hold for every user — no error, no failed response, no worker
crash — not what the 135M model answers.
"""

from __future__ import annotations

import numpy as np
import pytest

from openrealtime.backends.base import Backends
from openrealtime.client.ask import converse
from openrealtime.server.app import create_app
from openrealtime.server.run import running_server
from openrealtime.server.settings import Settings
from tests.voices import spoken_questions

pytestmark = pytest.mark.e2e

QUESTIONS = [
    "What is the capital of France?",
    "List five fruits.",
    "What does NASA stand for?",
    "How hot is the surface of the sun in degrees Celsius?",
    "What is the website of Wikipedia?",
    "How many kilometers is a marathon?",
    "Name the planets of the solar system.",
    "What is the FBI?",
    "Write a short Python function that adds two numbers.",
    "Who wrote Romeo and Juliet?",
    "What is ten percent of two hundred dollars?",
    "Give me the steps to boil an egg.",
    "What is the email address format?",
    "How fast is the speed of light in kilometers per second?",
    "What do the letters U S A mean?",
    "Tell me a fun fact about octopuses.",
    "What is the temperature of boiling water in Fahrenheit?",
    "List the days of the week.",
    "What is H T T P?",
    "Thank you, goodbye.",
]


@pytest.fixture(scope="module")
def questions() -> list[tuple[str, str, np.ndarray]]:
    return spoken_questions(QUESTIONS)


async def test_twenty_spoken_turns_in_one_session(local_backends: Backends,
                                                  questions: list[tuple[str, str, np.ndarray]]
                                                  ) -> None:
    restarts = {role: h.get("restarts", 0) for role, h in local_backends.health().items()}
    app = create_app(Settings(), backends=local_backends)
    async with running_server(app) as url:
        results = await converse(url, [audio for _, _, audio in questions])
    assert len(results) == len(QUESTIONS)
    problems = [(i + 1, questions[i][0], questions[i][1], r.status, r.errors)
                for i, r in enumerate(results)
                if r.errors or r.status not in ("completed", "incomplete")]
    assert not problems, problems
    assert all(r.question.strip() for r in results), "every question was transcribed"
    assert sum(1 for r in results if len(r.audio) > 0) >= len(results) - 1, \
        "(nearly) every turn has a spoken answer"
    after = {role: h.get("restarts", 0) for role, h in local_backends.health().items()}
    assert after == restarts, "no model worker crashed"
