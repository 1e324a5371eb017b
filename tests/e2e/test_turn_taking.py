"""Turn-taking with the real models: semantic_vad's end-of-turn model and the echo of
the assistant's own voice, heard by a client that plays the reply aloud.

Speech comes from espeak-ng (not the Piper voice that answers) at real-time pace.
Asserted is only what the models reliably do; timings are measured in bench/turns.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from openrealtime.backends.base import Backends
from openrealtime.backends.fake import FakeLLM
from openrealtime.client.speakerphone import Call, call, loudest_end
from openrealtime.server.app import create_app
from openrealtime.server.run import running_server
from openrealtime.server.settings import Settings
from tests.voices import RATE, espeak, espeak_available

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(not espeak_available(), reason="needs espeak-ng")]

SEMANTIC = {"type": "semantic_vad", "eagerness": "auto"}
SERVER_VAD = {"type": "server_vad", "silence_duration_ms": 500}
LIST = "Answer with a numbered list and one full sentence about each item."


def session(turn_detection: dict[str, object], instructions: str | None = None) -> dict:
    config: dict[str, object] = {"type": "realtime", "audio": {"input": {
        "turn_detection": turn_detection, "transcription": {"model": "whisper-1"}}}}
    if instructions:
        config["instructions"] = instructions
    return config


def trimmed(x: np.ndarray) -> np.ndarray:
    return x[:loudest_end(x)]


async def turn(backends: Backends, mic: np.ndarray, config: dict, **kwargs: object) -> Call:
    async with running_server(create_app(Settings(), backends=backends)) as url:
        return await call(url.replace("http", "ws"), mic, config, **kwargs)  # type: ignore[arg-type]


def stopped_after_speech_ms(result: Call, mic: np.ndarray) -> int:
    stopped = result.first("input_audio_buffer.speech_stopped")
    assert stopped is not None, [e["type"] for _, e in result.events]
    return int(stopped[1]["audio_end_ms"]) - loudest_end(mic) * 1000 // RATE


async def test_semantic_vad_ends_a_finished_question_sooner(local_backends: Backends) -> None:
    assert local_backends.turn is not None, "the end-of-turn model is not installed"
    mic = espeak("What time does the train leave?", "en-us")
    semantic = await turn(local_backends, mic, session(SEMANTIC))
    server = await turn(local_backends, mic, session(SERVER_VAD))
    assert semantic.first_delta is not None and server.first_delta is not None
    assert stopped_after_speech_ms(semantic, mic) < stopped_after_speech_ms(server, mic)


async def test_semantic_vad_does_not_cut_a_mid_sentence_pause(local_backends: Backends) -> None:
    first = trimmed(espeak("I would like to book a flight to", "en-us"))
    second = espeak("Paris next Friday.", "en-us")[int(0.4 * RATE):]
    mic = np.concatenate([first, np.zeros(int(0.6 * RATE), dtype=np.float32), second])
    result = await turn(local_backends, mic, session(SEMANTIC), tail_s=3.0)
    stops = result.of_type("input_audio_buffer.speech_stopped")
    resumed_ms = len(first) * 1000 // RATE + 600
    assert stops and stops[0]["audio_end_ms"] > resumed_ms  # one turn, after the pause
    assert len(result.of_type("input_audio_buffer.committed")) == 1


async def test_echo_of_the_answer_is_not_a_barge_in(local_backends: Backends) -> None:
    assert local_backends.echo is not None, "the echo canceller is not installed"
    mic = espeak("Tell me five interesting places to visit in London.", "en-gb")
    result = await turn(local_backends, mic, session(SERVER_VAD, LIST),
                        echo_gain=10 ** (-12 / 20))
    done = result.of_type("response.done")
    assert done and done[0]["response"]["status"] != "cancelled"
    assert len(result.started) == 1  # the question; the echo of the answer never
    played = sum(len(e["delta"]) * 3 // 4 for e in result.of_type("response.output_audio.delta"))
    assert played / 2 / 24000 > 2.0  # the echo ran for seconds


@pytest.mark.parametrize("after_s", [0.7, 1.5])
async def test_interruption_over_the_echo_cancels_the_answer(local_backends: Backends,
                                                             after_s: float) -> None:
    """At 0.7 s the echo path of the session's first answer is still being learnt."""
    mic = espeak("Name five famous scientists and what they discovered.", "en-us")
    words = espeak("Wait, stop.", "en-gb-scotland")[int(0.4 * RATE):]
    result = await turn(local_backends, mic, session(SERVER_VAD, LIST),
                        echo_gain=10 ** (-12 / 20), interruption=(after_s, words))
    assert result.onset is not None
    after = [t for t in result.started if t >= result.onset - 0.05]
    assert after and after[0] - result.onset < 1.0  # detected over the echo
    assert len(result.started) == 2  # the question, then the interruption: nothing else
    # The answer is cancelled if it was still being made when the user spoke; the bundled
    # model (sampling at temperature / 8) may have written its whole list by then, and a
    # finished response is not cancelled (the reference's rule: the client truncates).
    done_at, done = next((t, e) for t, e in result.events if e["type"] == "response.done")
    status = done["response"]["status"]
    assert status == "cancelled" or (status == "completed" and done_at < after[0]), status


LONG_REPLY = ("Here are five tips for sleeping better. First, go to bed at the same time "
              "every night. Second, keep your bedroom cool, dark and quiet. Third, avoid "
              "coffee after lunch. Fourth, put your phone away an hour before bed. Fifth, "
              "get some daylight and exercise during the day.")


@pytest.mark.parametrize("backchannel_ms,interrupts", [(700, False), (0, True)])
async def test_backchannel_during_the_answer(local_backends: Backends, backchannel_ms: int,
                                             interrupts: bool) -> None:
    """With OPENREALTIME_BACKCHANNEL_MS an "okay" while the answer plays leaves it
    playing and leaves no trace; without it (the reference) any speech interrupts.
    (The answer is scripted, so it is long enough to speak over; the rest is real.)"""
    backends = Backends(vad=local_backends.vad, stt=local_backends.stt,
                        llm=FakeLLM(reply=LONG_REPLY), tts=local_backends.tts,
                        names=local_backends.names, turn=local_backends.turn,
                        echo=local_backends.echo)
    mic = espeak("Give me five tips for sleeping better.", "en-us")
    okay = espeak("Okay.", "en-gb")[int(0.4 * RATE):]
    app = create_app(Settings(backchannel_ms=backchannel_ms), backends=backends)
    async with running_server(app) as url:
        result = await call(url.replace("http", "ws"), mic, session(SERVER_VAD),
                            interruption=(2.0, okay))
    # The answer was generated long before it was played: what stops it is the client,
    # on speech_started (as the reference has it over WebSocket).
    assert len(result.started) == (2 if interrupts else 1)
    if not interrupts:  # no trace: one user item, one assistant item
        items = [e["item"]["role"] for e in result.of_type("conversation.item.done")]
        assert items == ["user", "assistant"]
