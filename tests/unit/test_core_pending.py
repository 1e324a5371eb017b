"""The pending turn and its speculative transcription: synchronous table tests.

The session is driven with scripted VAD probabilities (one per 32 ms window, via
``SpeechScored`` facts) and scripted transcription results; no event loop, no models.
Each row of the table is a sequence of steps and the exact outputs each step gives.
"""

from __future__ import annotations

import base64
from collections import Counter, deque
from typing import Any

import numpy as np
import pytest

from openrealtime.core import Session
from openrealtime.core import effects as fx
from openrealtime.core.pending import PendingTurn
from openrealtime.protocol import client_events as ce
from openrealtime.protocol import server_events as ev
from openrealtime.protocol.session import RealtimeSession

WINDOW_24K = 768  # one 512-sample VAD window at 16 kHz, as 24 kHz input
# silence_duration_ms 500 = 16 windows; a speculation starts after 90 ms = 3 windows
WINDOWS = {"speak": (1.0, 8), "pause": (0.0, 6), "resume": (1.0, 6), "end": (0.0, 22)}
SHORT = {
    "speech_started": "input_audio_buffer.speech_started",
    "speech_stopped": "input_audio_buffer.speech_stopped",
    "committed": "input_audio_buffer.committed",
    "cleared": "input_audio_buffer.cleared",
    "added": "conversation.item.added",
    "done": "conversation.item.done",
    "delta": "conversation.item.input_audio_transcription.delta",
}
LONG = {v: k for k, v in SHORT.items()}


class Turns:
    """A session with server VAD; the microphone's VAD scores come from a script."""

    def __init__(self) -> None:
        self.session = Session(RealtimeSession())
        self.session.handle(ce.validate_event({"type": "session.update", "session": {
            "type": "realtime", "audio": {"input": {
                "transcription": {"model": "whisper-1"},
                "turn_detection": {"type": "server_vad", "silence_duration_ms": 500,
                                   "create_response": False}}}}}))
        self.script: deque[float] = deque()
        self.outputs: list[Any] = []  # everything, for the per-item checks

    def step(self, name: str, *args: Any) -> list[str]:
        if name in WINDOWS:
            out = self._say(*WINDOWS[name])
        elif name in ("result", "fail"):
            out = self._transcribed(name, *args)
        else:  # "commit", "clear": client events
            out = self._run(self.session.handle(ce.validate_event(
                {"type": f"input_audio_buffer.{name}"})))
        self.outputs += out
        return rows(out)

    def _say(self, probability: float, windows: int) -> list[Any]:
        # The input resampler holds back one sample, so a window can be scored in the
        # next step; its probability still comes from the script in stream order.
        self.script.extend([probability] * windows)
        data = np.zeros(windows * WINDOW_24K, dtype="<i2").tobytes()
        return self._run(self.session.handle(ce.validate_event({
            "type": "input_audio_buffer.append", "audio": base64.b64encode(data).decode()})))

    def _run(self, outputs: list[Any]) -> list[Any]:
        done: list[Any] = []
        for out in outputs:
            if isinstance(out, fx.ScoreSpeech):
                scores = [self.script.popleft() for _ in out.windows]
                done += self._run(self.session.on_fact(fx.SpeechScored(scores)))
            else:
                done.append(out)
        return done

    def _transcribed(self, kind: str, speculation: int, text: str = "") -> list[Any]:
        """The result of the transcription started with this ``speculation`` number."""
        effect = next(o for o in self.outputs
                      if isinstance(o, fx.StartTranscription) and o.speculation == speculation)
        fact: fx.Fact = (fx.TranscriptionCompleted(effect.item_id, text, 1.0, speculation)
                         if kind == "result" else
                         fx.TranscriptionFailed(effect.item_id, "no speech", speculation))
        return self.session.on_fact(fact)

    def results_per_item(self) -> Counter[str]:
        return Counter(o.item_id for o in self.outputs
                       if isinstance(o, ev.InputAudioTranscriptionCompleted
                                     | ev.InputAudioTranscriptionFailed))


def rows(outputs: list[Any]) -> list[str]:
    names = []
    for out in outputs:
        if isinstance(out, ev.InputAudioTranscriptionCompleted):
            names.append(f"completed:{out.transcript}")
        elif isinstance(out, ev.InputAudioTranscriptionFailed):
            names.append("failed")
        elif isinstance(out, ev.ServerEvent):
            names.append(LONG.get(out.type, out.type))
        elif isinstance(out, fx.StartTranscription):
            names.append(f"StartTranscription#{out.speculation}")
        else:
            names.append(type(out).__name__)
    return names


COMMIT = ["speech_stopped", "committed", "added", "done"]
ITEM = ["committed", "added", "done"]

# (steps, the outputs of each step, the item's final transcript or None for failed)
TABLE: dict[str, tuple[list[tuple[Any, ...]], list[list[str]], str | None]] = {
    # The reported bug: the first speculation finished, speech resumed, and the turn
    # ended while the second was running: the stale "what is" was published, then
    # a second `completed` followed for the same item.
    "resume after result, end during second speculation": (
        [("speak",), ("pause",), ("result", 1, "what is"), ("resume",), ("pause",), ("end",),
         ("result", 2, "what is the time"), ("result", 1, "what is")],
        [["speech_started"], ["StartTranscription#1"], [], ["CancelTranscription"],
         ["StartTranscription#2"], COMMIT, ["delta", "completed:what is the time"], []],
        "what is the time"),
    "speculation finishes before the commit": (
        [("speak",), ("pause",), ("result", 1, "hello"), ("end",)],
        [["speech_started"], ["StartTranscription#1"], [],
         [*COMMIT, "delta", "completed:hello"]],
        "hello"),
    "speculation finishes after the commit": (
        [("speak",), ("pause",), ("end",), ("result", 1, "hello")],
        [["speech_started"], ["StartTranscription#1"], COMMIT, ["delta", "completed:hello"]],
        "hello"),
    "commit with no pause step": (
        [("speak",), ("end",), ("result", 1, "hello")],
        [["speech_started"], ["StartTranscription#1", *COMMIT], ["delta", "completed:hello"]],
        "hello"),
    "resume before the speculative result (a late result is stale)": (
        [("speak",), ("pause",), ("resume",), ("result", 1, "hel"), ("end",),
         ("result", 2, "hello there")],
        [["speech_started"], ["StartTranscription#1"], ["CancelTranscription"], [],
         ["StartTranscription#2", *COMMIT], ["delta", "completed:hello there"]],
        "hello there"),
    "resume after the speculative result (the early result is discarded)": (
        [("speak",), ("pause",), ("result", 1, "hel"), ("resume",), ("end",),
         ("result", 2, "hello there")],
        [["speech_started"], ["StartTranscription#1"], [], ["CancelTranscription"],
         ["StartTranscription#2", *COMMIT], ["delta", "completed:hello there"]],
        "hello there"),
    "two resumes, the last speculation counts": (
        [("speak",), ("pause",), ("resume",), ("pause",), ("result", 2, "one two"),
         ("resume",), ("pause",), ("result", 3, "one two three"), ("end",)],
        [["speech_started"], ["StartTranscription#1"], ["CancelTranscription"],
         ["StartTranscription#2"], [], ["CancelTranscription"], ["StartTranscription#3"], [],
         [*COMMIT, "delta", "completed:one two three"]],
        "one two three"),
    "clear during the speculation, then a new turn": (
        [("speak",), ("pause",), ("clear",), ("result", 1, "dropped"), ("speak",), ("end",),
         ("result", 2, "kept")],
        [["speech_started"], ["StartTranscription#1"], ["CancelTranscription", "cleared"], [],
         ["speech_started"], ["StartTranscription#2", *COMMIT], ["delta", "completed:kept"]],
        "kept"),
    "clear after the speculative result": (
        [("speak",), ("pause",), ("result", 1, "dropped"), ("clear",), ("speak",), ("end",),
         ("result", 2, "kept")],
        [["speech_started"], ["StartTranscription#1"], [], ["CancelTranscription", "cleared"],
         ["speech_started"], ["StartTranscription#2", *COMMIT], ["delta", "completed:kept"]],
        "kept"),
    "manual commit during the speculation (its own transcription counts)": (
        [("speak",), ("pause",), ("commit",), ("result", 1, "partial"), ("result", 0, "full")],
        [["speech_started"], ["StartTranscription#1"], [*ITEM, "StartTranscription#0"], [],
         ["delta", "completed:full"]],
        "full"),
    "manual commit after the speculative result": (
        [("speak",), ("pause",), ("result", 1, "partial"), ("commit",), ("result", 0, "full")],
        [["speech_started"], ["StartTranscription#1"], [], [*ITEM, "StartTranscription#0"],
         ["delta", "completed:full"]],
        "full"),
    "speculation fails before the commit": (
        [("speak",), ("pause",), ("fail", 1), ("end",)],
        [["speech_started"], ["StartTranscription#1"], [], [*COMMIT, "failed"]],
        None),
    "speculation fails after the commit": (
        [("speak",), ("pause",), ("end",), ("fail", 1), ("result", 1, "late")],
        [["speech_started"], ["StartTranscription#1"], COMMIT, ["failed"], []],
        None),
    "failed speculation, then speech resumes": (
        [("speak",), ("pause",), ("fail", 1), ("resume",), ("end",), ("result", 2, "fine")],
        [["speech_started"], ["StartTranscription#1"], [], ["CancelTranscription"],
         ["StartTranscription#2", *COMMIT], ["delta", "completed:fine"]],
        "fine"),
    "manual commit's transcription fails": (
        [("speak",), ("pause",), ("commit",), ("fail", 0), ("result", 1, "partial")],
        [["speech_started"], ["StartTranscription#1"], [*ITEM, "StartTranscription#0"],
         ["failed"], []],
        None),
}


@pytest.mark.parametrize("case", list(TABLE))
def test_pending_turn(case: str) -> None:
    steps, expected, transcript = TABLE[case]
    turns = Turns()
    got = [turns.step(*step) for step in steps]
    assert got == expected
    committed = [o.item_id for o in turns.outputs if isinstance(o, ev.InputAudioBufferCommitted)]
    assert len(committed) == 1
    # exactly one result per item, ever, for the committed item only
    assert turns.results_per_item() == Counter({committed[0]: 1})
    item = turns.session.conversation.get(committed[0])
    assert item is not None and item.type == "message"
    assert item.content[0].transcript == transcript
    # the item is the one speech_started announced (the last one, after a clear)
    started = [o.item_id for o in turns.outputs
               if isinstance(o, ev.InputAudioBufferSpeechStarted)]
    if started:
        assert committed[0] == started[-1]
    assert turns.session.awaiting == {}


def test_many_turns_one_result_each() -> None:
    """Every result arriving again, late and out of order, still gives one per item."""
    turns = Turns()
    for _ in range(5):
        for step in ("speak", "pause", "resume", "pause", "end"):
            turns.step(step)
    starts = [o for o in turns.outputs if isinstance(o, fx.StartTranscription)]
    assert [s.speculation for s in starts] == list(range(1, 11))
    for start in reversed(starts):  # the stale ones last-to-first, twice
        for _ in range(2):
            turns.outputs += turns.session.on_fact(fx.TranscriptionCompleted(
                start.item_id, f"text {start.speculation}", 1.0, start.speculation))
    counts = turns.results_per_item()
    assert len(counts) == 5 and set(counts.values()) == {1}
    for start in starts[1::2]:  # the second speculation of each turn counts
        item = turns.session.conversation.get(start.item_id)
        assert item is not None and item.content[0].transcript == f"text {start.speculation}"


def test_pending_turn_alone() -> None:
    pending = PendingTurn()
    pending.begin("item_a", 100)
    first = pending.speculate()
    assert pending.offer(fx.TranscriptionCompleted("item_a", "a", 1.0, first))
    # a repeat, another item or another number is refused
    assert not pending.offer(fx.TranscriptionCompleted("item_a", "again", 1.0, first))
    assert not pending.offer(fx.TranscriptionCompleted("item_b", "b", 1.0, first))
    assert pending.resume()
    assert not pending.resume()  # nothing left to cancel
    second = pending.speculate()
    assert second > first
    assert not pending.offer(fx.TranscriptionCompleted("item_a", "a", 1.0, first))
    spec = pending.end()
    assert spec is not None and spec.number == second and spec.result is None
    assert pending.item_id is None and pending.end() is None
