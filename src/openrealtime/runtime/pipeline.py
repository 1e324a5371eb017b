"""One response: LLM tokens → clause chunker → TTS → resampler → audio facts.

The LLM and the TTS run as two tasks of one TaskGroup joined by a small bounded
queue of clauses, so the next clause is being generated while the current one is
being spoken. Cancelling the response task cancels both; backend iterators are
closed with ``aclosing`` so their worker threads stop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ..audio import StreamResampler, float32_to_pcm16
from ..backends.base import (
    LLM,
    TTS,
    BackendError,
    Finished,
    LLMChunk,
    LLMRequest,
    TextDelta,
    ToolCallDelta,
    ToolSpec,
)
from ..backends.priority import PRIORITY, later
from ..core import effects as fx
from .chunker import ClauseChunker
from .context import MESSAGE_OVERHEAD, build_messages, fit_window, tool_result_fallback
from .guard import SPOKEN_MAX_TOKENS, SPOKEN_SOFT_WORDS, OutputGuard
from .speakable import SpeechText

log = logging.getLogger(__name__)
Feed = Callable[[fx.Fact], Awaitable[None]]
_DONE = object()


@dataclass(slots=True)
class Timing:
    """Monotonic timestamps of one response's stages, for metrics and benchmarks."""

    started: float = field(default_factory=time.perf_counter)
    context_ready: float | None = None
    first_token: float | None = None
    first_clause: float | None = None
    first_audio: float | None = None


async def run_response(
    response_id: str,
    plan: fx.ResponsePlan,
    *,
    llm: LLM,
    tts: TTS,
    transcripts: dict[str, asyncio.Future[str]],
    feed: Feed,
    timing: Timing,
) -> None:
    try:
        messages = await build_messages(plan.instructions, plan.items, transcripts)
        spoken = plan.output_modalities == ["audio"]
        max_tokens = plan.max_output_tokens
        if spoken:  # a spoken answer has a length of its own; a smaller cap still wins
            max_tokens = min(max_tokens or SPOKEN_MAX_TOKENS, SPOKEN_MAX_TOKENS)
        window = getattr(llm, "context_tokens", None)
        if window:
            # keep room for the answer: the response's cap, or a quarter of the window
            reserve = max_tokens or window // 4
            messages = fit_window(messages, llm.count_tokens, window - reserve)
        timing.context_ready = time.perf_counter()
        request = LLMRequest(
            messages=messages, max_tokens=max_tokens, temperature=plan.temperature,
            tools=[ToolSpec(t["name"], t.get("description", ""), t.get("parameters") or {})
                   for t in plan.tools],
            tool_choice=plan.tool_choice, reasoning_effort=plan.reasoning_effort,
            parallel_tool_calls=plan.parallel_tool_calls,
        )
        if spoken:
            finished = await _speak(response_id, plan, request, llm, tts, feed, timing)
        else:
            finished = await _write(response_id, request, llm, feed, timing,
                                    tool_result_fallback(plan.items))
        await feed(fx.ResponseFinished(
            response_id, finished.reason if finished.reason != "cancelled" else "stop",
            input_text_tokens=finished.input_tokens, output_text_tokens=finished.output_tokens,
            cached_tokens=finished.cached_tokens))
    except Exception as exc:  # CancelledError is not an Exception: it propagates
        error = _backend_error(exc)
        if error is None:
            log.exception("response %s crashed", response_id)
            error = BackendError(f"internal error: {exc!r}", code="server_error")
        else:
            log.warning("response %s failed: %s", response_id, error.message)
        await feed(fx.ResponseFailed(response_id, error.code, error.message))


def _backend_error(exc: BaseException) -> BackendError | None:
    if isinstance(exc, BackendError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _backend_error(inner)
            if found is not None:
                return found
    return None


async def _guarded(llm: LLM, request: LLMRequest, *, spoken: bool,
                   fallback: str | None) -> AsyncGenerator[LLMChunk, None]:
    """The LLM's stream through an :class:`OutputGuard`; ends like a stream ends.

    When the guard trips (a repetition loop; a spoken answer running past its length)
    the LLM stream is closed at once (llama.cpp stops within a token) and a
    ``Finished("length")`` ends the answer: status ``incomplete``, reason
    ``max_output_tokens``, the reference's reason for a cut-off answer. Its usage is
    estimated here, since the backend's own count was never reached. ``fallback`` is
    said if the answer to a tool's output would otherwise be empty.
    """
    guard = OutputGuard(soft_max_words=SPOKEN_SOFT_WORDS if spoken else None)
    finished = Finished("stop")
    said = called = False
    async with aclosing(llm.stream(request)) as stream:
        try:
            async for chunk in stream:
                if isinstance(chunk, TextDelta):
                    text = guard.push(chunk.text)
                    said = said or bool(text.strip())
                    if text:
                        yield TextDelta(text)
                    if guard.tripped:
                        break
                else:
                    called = called or isinstance(chunk, ToolCallDelta)
                    if isinstance(chunk, Finished):
                        finished = chunk
                    else:
                        yield chunk
        except BackendError:
            # The backend failed mid-answer: what it said before stays in the transcript.
            if tail := guard.flush():
                yield TextDelta(tail)
            raise
    cut_off = guard.tripped is not None
    if not cut_off and (tail := guard.flush()):  # (a loop at the very end is just dropped)
        said = said or bool(tail.strip())
        yield TextDelta(tail)
    if cut_off:
        log.info("answer cut off: %s after %d characters", guard.tripped, len(guard.released))
        finished = Finished(
            "length", input_tokens=sum(llm.count_tokens(str(m.get("content") or ""))
                                       + MESSAGE_OVERHEAD for m in request.messages),
            output_tokens=llm.count_tokens(guard.received) if guard.received else 0)
    if fallback and not said and not called and finished.reason != "cancelled":
        yield TextDelta(fallback)
    yield finished


async def _write(response_id: str, request: LLMRequest, llm: LLM, feed: Feed,
                 timing: Timing, fallback: str | None = None) -> Finished:
    finished = Finished("stop")
    async with aclosing(_guarded(llm, request, spoken=False, fallback=fallback)) as stream:
        async for chunk in stream:
            if isinstance(chunk, TextDelta):
                if timing.first_token is None:
                    timing.first_token = time.perf_counter()
                await feed(fx.TextProduced(response_id, chunk.text))
            elif isinstance(chunk, ToolCallDelta):
                await feed(fx.ToolCallProduced(response_id, chunk.index, chunk.arguments,
                                               chunk.name, chunk.call_id))
            else:
                finished = chunk
    return finished


# The answer's first sound is what the user waits for: Piper starts each sentence with
# 40-50 ms of near-silence, which is cut from the first chunk (keeping a short lead-in).
_LEAD_THRESHOLD = 0.003  # about -50 dBFS
_LEAD_IN_MS = 8


def _lead_trimmed(x: npt.NDArray[np.float32], sample_rate: int) -> npt.NDArray[np.float32]:
    loud = np.flatnonzero(np.abs(x) > _LEAD_THRESHOLD)
    if not len(loud):
        return x
    return x[max(0, int(loud[0]) - sample_rate * _LEAD_IN_MS // 1000):]


async def _speak(response_id: str, plan: fx.ResponsePlan, request: LLMRequest, llm: LLM,
                 tts: TTS, feed: Feed, timing: Timing) -> Finished:
    clauses: asyncio.Queue[object] = asyncio.Queue(maxsize=4)
    result: list[Finished] = []
    # The first clause is synthesized alone: the LLM (which pauses through its
    # stream's backpressure) would otherwise compete with TTS for the two cores
    # exactly when the time to first audio is being decided.
    first_audio = asyncio.Event()

    async def think() -> None:
        chunker = ClauseChunker()
        finished = Finished("stop")
        try:
            async with aclosing(_guarded(llm, request, spoken=True,
                                         fallback=tool_result_fallback(plan.items))) as stream:
                async for chunk in stream:
                    if isinstance(chunk, TextDelta):
                        if timing.first_token is None:
                            timing.first_token = time.perf_counter()
                        for clause in chunker.push(chunk.text):
                            await clauses.put(clause)
                            await first_audio.wait()
                    elif isinstance(chunk, ToolCallDelta):
                        await feed(fx.ToolCallProduced(response_id, chunk.index,
                                                       chunk.arguments, chunk.name,
                                                       chunk.call_id))
                    else:
                        finished = chunk
            for clause in chunker.flush():
                await clauses.put(clause)
        finally:
            result.append(finished)
        await clauses.put(_DONE)

    async def say() -> None:
        resampler = StreamResampler(tts.sample_rate, plan.output_sample_rate)
        try:
            await _say(resampler)
        finally:
            first_audio.set()

    async def _say(resampler: StreamResampler) -> None:
        speech = SpeechText()  # TTS says safe pieces; the transcript keeps the clause
        first_level = PRIORITY.get()
        while (clause := await clauses.get()) is not _DONE:
            assert isinstance(clause, str)
            if timing.first_clause is None:
                timing.first_clause = time.perf_counter()
            await feed(fx.ClauseStarted(response_id, clause))
            for piece in speech.pieces(clause):
                async with aclosing(tts.synthesize(piece, voice=plan.voice,
                                                   speed=plan.speed)) as audio:
                    async for chunk in audio:
                        out = resampler.process(chunk.astype(np.float32) / 32768.0)
                        if timing.first_audio is None:
                            out = _lead_trimmed(out, plan.output_sample_rate)
                        if len(out):
                            if timing.first_audio is None:
                                timing.first_audio = time.perf_counter()
                            await feed(fx.AudioProduced(response_id, float32_to_pcm16(out)))
                            first_audio.set()
            first_audio.set()  # even a clause that gave no audio must not stall the LLM
            # the first sound is out: the rest may wait for others' first sounds
            PRIORITY.set(later(first_level))
        tail = resampler.process(np.zeros(0, dtype=np.float32), last=True)
        if len(tail):
            await feed(fx.AudioProduced(response_id, float32_to_pcm16(tail)))

    async with asyncio.TaskGroup() as group:
        group.create_task(think())
        group.create_task(say())
    return result[0]
