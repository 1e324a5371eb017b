"""The embedded model stack, for real: Silero, Whisper tiny.en, SmolLM2, Piper.

The models are loaded once for the module through ``load_local_backends``, into this
process (``isolate=False``): these tests check the backend classes themselves (what the
model workers run); tests/e2e/test_workers.py checks them inside their workers.
Test speech is made offline with Piper itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from openrealtime.backends.base import (
    LLM,
    STT,
    TTS,
    VAD,
    Backends,
    Finished,
    LLMRequest,
    TextDelta,
    ToolCallDelta,
    ToolSpec,
    Vision,
)

pytestmark = pytest.mark.e2e

for module in ("onnxruntime", "faster_whisper", "llama_cpp", "piper", "soxr"):
    pytest.importorskip(module)

QUESTION = "What is the capital of France?"


@pytest.fixture(scope="module")
def backends() -> Iterator[Backends]:
    from openrealtime.backends.stack import load_local_backends

    loaded = load_local_backends(n_threads=2, isolate=False)
    yield loaded
    asyncio.run(loaded.aclose())


@pytest.fixture(scope="module")
def speech_16k(backends: Backends) -> np.ndarray:
    """Piper saying QUESTION, resampled 22 050 -> 16 000 Hz, with 0.5 s of silence around."""
    import soxr

    async def synthesize() -> np.ndarray:
        chunks = [c async for c in backends.tts.synthesize(QUESTION)]
        return np.concatenate(chunks)

    audio = asyncio.run(synthesize()).astype(np.float32) / 32768.0
    audio = soxr.resample(audio, backends.tts.sample_rate, 16_000).astype(np.float32)
    silence = np.zeros(8_000, dtype=np.float32)
    return np.concatenate([silence, audio, silence])


def window_probabilities(vad: VAD, audio: np.ndarray) -> list[float]:
    stream = vad.stream()
    n = vad.window_samples
    return [stream.probability(audio[i : i + n]) for i in range(0, len(audio) - n + 1, n)]


def test_backends_satisfy_protocols(backends: Backends) -> None:
    assert isinstance(backends.vad, VAD)
    assert isinstance(backends.stt, STT)
    assert isinstance(backends.llm, LLM)
    assert isinstance(backends.tts, TTS)
    assert set(backends.names) == {"vad", "stt", "llm", "tts", "vision", "turn", "echo"}
    assert isinstance(backends.vision, Vision)
    assert "SmolLM2" in backends.names["llm"]


def test_vad_high_on_speech_low_on_silence(backends: Backends, speech_16k: np.ndarray) -> None:
    speech = window_probabilities(backends.vad, speech_16k)
    assert max(speech) > 0.8
    assert np.mean(np.array(speech) > 0.5) > 0.3  # most of the middle is speech
    silence = window_probabilities(backends.vad, np.zeros(16_000, dtype=np.float32))
    assert max(silence) < 0.2


def test_vad_streams_are_independent(backends: Backends, speech_16k: np.ndarray) -> None:
    n = backends.vad.window_samples
    zeros = np.zeros(n, dtype=np.float32)
    a, b, alone = backends.vad.stream(), backends.vad.stream(), backends.vad.stream()
    start = len(speech_16k) // 2 // n * n
    for i in range(start - 8 * n, start, n):  # a hears speech while b hears silence
        a.probability(speech_16k[i : i + n])
        b_probability = b.probability(zeros)
        alone_probability = alone.probability(zeros)
        assert b_probability == pytest.approx(alone_probability, abs=1e-6)


async def test_whisper_transcribes_piper_speech(backends: Backends, speech_16k: np.ndarray) -> None:
    transcript = await backends.stt.transcribe(speech_16k)
    text = transcript.text.lower()
    assert "capital" in text and "france" in text
    assert transcript.language == "en"
    assert transcript.duration_s == pytest.approx(len(speech_16k) / 16_000)


async def test_llama_streams_an_answer_then_finished(backends: Backends) -> None:
    request = LLMRequest([{"role": "user", "content": QUESTION}], max_tokens=32, temperature=0.0)
    items = [item async for item in backends.llm.stream(request)]
    finished = items[-1]
    assert isinstance(finished, Finished)
    assert finished.reason in ("stop", "length")
    assert finished.input_tokens > 5 and finished.output_tokens > 0
    text = "".join(i.text for i in items if isinstance(i, TextDelta))
    assert text.strip()
    assert all(isinstance(i, TextDelta) for i in items[:-1])


def long_request() -> LLMRequest:
    prompt = "Write a very long story about a dragon, with many chapters."
    return LLMRequest([{"role": "user", "content": prompt}], max_tokens=1000, temperature=0.8)


async def wait_idle(llm: Any, timeout_s: float = 2.0) -> bool:
    for _ in range(int(timeout_s / 0.02)):
        if not llm.is_generating:
            return True
        await asyncio.sleep(0.02)
    return not llm.is_generating


async def test_llama_stops_when_the_consumer_closes(backends: Backends) -> None:
    llm: Any = backends.llm
    async with contextlib.aclosing(llm.stream(long_request())) as stream:
        async for item in stream:
            assert isinstance(item, TextDelta)
            break
    # aclose waits for the worker: it is already idle.
    assert not llm.is_generating


async def test_llama_stops_when_the_consumer_just_breaks(backends: Backends) -> None:
    llm: Any = backends.llm
    async for _item in llm.stream(long_request()):
        break  # the event loop's async-generator finalizer closes it
    assert await wait_idle(llm)


async def test_llama_stops_when_the_consumer_is_cancelled(backends: Backends) -> None:
    llm: Any = backends.llm
    first = asyncio.Event()

    async def consume() -> None:
        async with contextlib.aclosing(llm.stream(long_request())) as stream:
            async for _item in stream:
                first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await wait_idle(llm)



async def test_llama_a_long_answer_gives_way_to_another_users_first_words(
        backends: Backends, monkeypatch: pytest.MonkeyPatch) -> None:
    """One model, two users: B's question, asked while A's story runs ahead of its
    listener (who has stopped reading, as a pipeline with clauses queued for TTS does),
    is answered whole before the story goes on; then the story goes on."""
    from openrealtime.backends.priority import PRIORITY, URGENT

    llm: Any = backends.llm
    log: list[tuple[str, Any]] = []
    b_done = asyncio.Event()
    gave_way_after: list[str] = []  # what A had said each time it gave way
    decide = llm._gives_way

    def gives_way(run: Any, ahead: bool) -> bool:
        if decided := decide(run, ahead):
            gave_way_after.append(run.said)
        return decided

    monkeypatch.setattr(llm, "_gives_way", gives_way)

    async def ask(who: str, request: LLMRequest) -> None:
        PRIORITY.set(URGENT)  # both are answers a user waits for
        async for item in llm.stream(request):
            log.append((who, item))
            if who == "A" and len(log) == 10:
                await b_done.wait()  # A's listener has enough to play for now

    story = LLMRequest([{"role": "user", "content": "Tell me a long story about a dragon."}],
                       max_tokens=150, temperature=0.0)
    a = asyncio.create_task(ask("A", story))
    for _ in range(1500):
        if len(log) >= 10:
            break
        await asyncio.sleep(0.02)
    b = asyncio.create_task(ask("B", LLMRequest([{"role": "user", "content": QUESTION}],
                                                 max_tokens=32, temperature=0.0)))
    b.add_done_callback(lambda _: b_done.set())
    await asyncio.wait_for(b, 30)
    await a
    # once: a long answer (past 24 words), when B asked (it says no more until B is done)
    assert len(gave_way_after) == 1 and len(gave_way_after[0].split()) > 24
    b_end = next(index for index, (who, item) in enumerate(log)
                 if who == "B" and isinstance(item, Finished))
    assert any(who == "B" and isinstance(i, TextDelta) for who, i in log)
    rest = [i for who, i in log[b_end:] if who == "A" and isinstance(i, TextDelta)]
    assert rest  # A went on after B's whole answer
    a_end = log[-1][1]
    assert log[-1][0] == "A" and a_end.reason in ("stop", "length")
    assert a_end.output_tokens > len(rest)


WEATHER = ToolSpec(
    "get_weather",
    "Get the current weather in a city.",
    {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["city", "unit"],
    },
)


async def collect_tool_call(llm: LLM, tool_choice: Any) -> tuple[list[ToolCallDelta], Finished]:
    request = LLMRequest(
        [{"role": "user", "content": "What is the weather in Paris?"}],
        max_tokens=96,
        temperature=0.0,
        tools=[WEATHER],
        tool_choice=tool_choice,
    )
    items = [item async for item in llm.stream(request)]
    assert isinstance(items[-1], Finished)
    return [i for i in items if isinstance(i, ToolCallDelta)], items[-1]


@pytest.mark.parametrize("tool_choice", ["required", {"type": "function", "name": "get_weather"}])
async def test_llama_required_tool_call_is_valid_json(backends: Backends, tool_choice: Any) -> None:
    deltas, finished = await collect_tool_call(backends.llm, tool_choice)
    assert finished.reason == "tool_calls"
    assert deltas[0].name == "get_weather"
    assert deltas[0].call_id is not None and deltas[0].call_id.startswith("call_")
    assert all(d.name is None and d.call_id is None for d in deltas[1:])
    arguments = json.loads("".join(d.arguments for d in deltas))
    assert set(WEATHER.parameters["required"]) <= set(arguments)
    assert isinstance(arguments["city"], str)
    assert arguments["unit"] in ("celsius", "fahrenheit")


async def test_llama_auto_tool_choice_gives_text_or_a_valid_call(backends: Backends) -> None:
    deltas, finished = await collect_tool_call(backends.llm, "auto")
    if deltas:
        assert finished.reason == "tool_calls"
        json.loads("".join(d.arguments for d in deltas))
    else:
        assert finished.reason in ("stop", "length")


def test_llama_count_tokens(backends: Backends) -> None:
    assert 0 < backends.llm.count_tokens(QUESTION) < 20


async def test_piper_yields_non_silent_int16(backends: Backends) -> None:
    chunks = [c async for c in backends.tts.synthesize("Hello there. How are you today?")]
    assert chunks and all(c.dtype == np.int16 and c.ndim == 1 for c in chunks)
    audio = np.concatenate(chunks)
    assert 0.8 < len(audio) / backends.tts.sample_rate < 6.0
    assert np.abs(audio.astype(np.int32)).max() > 5_000
    assert np.sqrt(np.mean(audio.astype(np.float64) ** 2)) > 300


async def test_piper_stops_when_the_consumer_closes(backends: Backends) -> None:
    text = " ".join(f"This is sentence number {n}." for n in range(20))
    async with contextlib.aclosing(backends.tts.synthesize(text)) as stream:
        async for chunk in stream:
            assert chunk.size > 0
            break
    # The executor is free again: a new clause starts right away.
    chunks = [c async for c in backends.tts.synthesize("Done.")]
    assert chunks

