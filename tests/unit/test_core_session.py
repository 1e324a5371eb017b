"""Table and property tests of the sans-I/O core: no event loop, no models, no sleeps."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from openrealtime.core import Session
from openrealtime.core import effects as fx
from openrealtime.protocol import client_events as ce
from openrealtime.protocol import server_events as ev
from openrealtime.protocol.session import RealtimeSession
from tests.sound import pcm16, silence, tone

SPEECH = np.concatenate([silence(0.5), tone(1.0), silence(1.0)])


def energy(window: np.ndarray) -> float:
    return 1.0 if float(np.sqrt(np.mean(window ** 2))) > 0.01 else 0.0


def run(session: Session, outputs: list[Any]) -> list[Any]:
    """Execute ScoreSpeech effects with an energy VAD, like the runtime does."""
    done: list[Any] = []
    for out in outputs:
        if isinstance(out, fx.ScoreSpeech):
            done += run(session, session.on_fact(
                fx.SpeechScored([energy(w) for w in out.windows])))
        else:
            done.append(out)
    return done


def append(session: Session, audio: np.ndarray, chunk: int) -> list[Any]:
    data = pcm16(audio)
    outputs: list[Any] = []
    for start in range(0, len(data), chunk * 2):
        event = ce.validate_event({"type": "input_audio_buffer.append",
                                   "audio": base64.b64encode(data[start:start + chunk * 2]).decode()})
        outputs += run(session, session.handle(event))
    return outputs


def wire(outputs: list[Any]) -> list[tuple[str, ...]]:
    """Event types plus the timing fields, ids left out."""
    rows = []
    for out in outputs:
        if isinstance(out, ev.ServerEvent):
            extra = tuple(str(getattr(out, f)) for f in ("audio_start_ms", "audio_end_ms")
                          if hasattr(out, f))
            rows.append((out.type, *extra))
        else:
            rows.append((type(out).__name__,))
    return rows


def test_voice_turn_events_and_timing() -> None:
    session = Session(RealtimeSession())
    rows = wire(append(session, SPEECH, 480))
    assert rows[0][0] == "input_audio_buffer.speech_started"
    # speech begins at 500 ms, inside the 32 ms window starting at 480; minus 300 ms padding
    assert rows[0][1] == "180"
    kinds = [r[0] for r in rows]
    assert kinds == ["input_audio_buffer.speech_started", "StartTranscription",
                     "input_audio_buffer.speech_stopped", "input_audio_buffer.committed",
                     "conversation.item.added", "conversation.item.done",
                     "response.created", "StartResponse"]
    stopped = int(rows[2][1])
    assert 1700 <= stopped <= 1760  # 1.5 s end of speech + 200 ms silence, 32 ms windows


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=1, max_value=4000))
def test_chunking_does_not_change_events(chunk: int) -> None:
    reference = wire(append(Session(RealtimeSession()), SPEECH, 480))
    assert wire(append(Session(RealtimeSession()), SPEECH, chunk)) == reference


def test_exactly_one_done_per_response_and_nothing_after_cancel() -> None:
    session = Session(RealtimeSession())
    out = run(session, session.handle(ce.validate_event({"type": "response.create"})))
    start = next(o for o in out if isinstance(o, fx.StartResponse))
    rid = start.response_id
    session.on_fact(fx.ClauseStarted(rid, "Hello there."))
    session.on_fact(fx.AudioProduced(rid, np.ones(4800, dtype=np.int16)))
    # the user barges in
    barge = append(session, np.concatenate([tone(0.3), silence(0.05)]), 480)
    types = [o.type if isinstance(o, ev.ServerEvent) else type(o).__name__ for o in barge]
    assert types[:2] == ["input_audio_buffer.speech_started", "CancelResponse"]
    done = [o for o in barge if isinstance(o, ev.ResponseDone)]
    assert len(done) == 1
    assert done[0].response.status == "cancelled"
    assert done[0].response.status_details.reason == "turn_detected"
    # stale facts from the cancelled response produce nothing
    assert session.on_fact(fx.AudioProduced(rid, np.ones(480, dtype=np.int16))) == []
    assert session.on_fact(fx.ResponseFinished(rid, "stop")) == []


def test_truncate_keeps_only_heard_words() -> None:
    session = Session(RealtimeSession())
    out = session.handle(ce.validate_event({"type": "response.create"}))
    rid = next(o for o in out if isinstance(o, fx.StartResponse)).response_id
    events: list[Any] = []
    for clause in ("The capital of France is Paris.", "It has many museums."):
        events += session.on_fact(fx.ClauseStarted(rid, clause))
        events += session.on_fact(fx.AudioProduced(rid, np.ones(24000, dtype=np.int16)))
    events += session.on_fact(fx.ResponseFinished(rid, "stop", 10, 12))
    item_id = next(e for e in events if isinstance(e, ev.ResponseOutputItemAdded)).item.id
    session.handle(ce.validate_event({"type": "conversation.item.truncate", "item_id": item_id,
                                      "content_index": 0, "audio_end_ms": 1500}))
    item = session.conversation.get(item_id)
    assert item.content[0].transcript == "The capital of France is Paris. It has"
    assert session.conversation.output_audio[item_id].num_samples == 36000


def test_idle_timeout_prompts_the_user() -> None:
    session = Session(RealtimeSession())
    run(session, session.handle(ce.validate_event({"type": "session.update", "session": {
        "type": "realtime", "audio": {"input": {"turn_detection": {
            "type": "server_vad", "idle_timeout_ms": 5000}}}}})))
    out = session.handle(ce.validate_event({"type": "response.create"}))
    rid = next(o for o in out if isinstance(o, fx.StartResponse)).response_id
    session.on_fact(fx.ClauseStarted(rid, "Hello."))
    session.on_fact(fx.AudioProduced(rid, np.ones(24000, dtype=np.int16)))  # 1 s of answer
    session.on_fact(fx.ResponseFinished(rid, "stop"))
    quiet = wire(append(session, silence(5.9), 480))
    assert not any(r[0] == "input_audio_buffer.timeout_triggered" for r in quiet)
    fired = wire(append(session, silence(0.3), 480))
    kinds = [r[0] for r in fired]
    assert kinds[:5] == ["input_audio_buffer.timeout_triggered", "input_audio_buffer.committed",
                         "conversation.item.added", "conversation.item.done",
                         "response.created"]
    assert "StartTranscription" not in kinds
    assert fired[0][2] == "6016"  # 1 s of playback + 5 s idle, on 32 ms windows


def test_response_create_speaks_its_own_format_voice_and_reasoning() -> None:
    """response.create's audio.output replaces only the fields it sets; reasoning and
    parallel_tool_calls reach the plan (for a remote LLM)."""
    session = Session(RealtimeSession())
    outputs = session.handle(ce.validate_event({
        "type": "response.create", "response": {
            "audio": {"output": {"format": {"type": "audio/pcmu"}}},
            "reasoning": {"effort": "minimal"}, "parallel_tool_calls": True}}))
    start = next(o for o in outputs if isinstance(o, fx.StartResponse))
    created = next(o for o in outputs if isinstance(o, ev.ResponseCreated))
    assert start.plan.output_sample_rate == 8000  # G.711
    assert start.plan.voice == "alloy"  # the session's: the response did not set one
    assert (start.plan.reasoning_effort, start.plan.parallel_tool_calls) == ("minimal", True)
    assert created.response.audio is not None
    assert created.response.audio.output.format == {"type": "audio/pcmu"}
