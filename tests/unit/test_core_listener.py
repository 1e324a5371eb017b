"""The input state machine (core/listener.py): synchronous table tests of every transition.

A session is driven with scripted VAD probabilities (one per 32 ms window), scripted
transcription results, end-of-turn scores and draft readiness: no event loop, no
models, no clock. Each row is a list of steps and the exact outputs of each step.

Transitions covered (VoiceActivity: idle → speech → pause → speech | idle):
speech onset (announced; tentative during playback with backchannels on), the pause's
speculation (transcription, and the end-of-turn score with semantic_vad), speech
resuming (speculation cancelled, draft discarded), the speculative result (draft wanted
or not, stale results ignored), the end of the turn (server_vad's exact silence;
semantic_vad's score, transcript cue, draft wait, maximum wait, model failure), the
draft adopted or discarded at the commit, client events meanwhile (manual commit,
clear, conversation edits, reconfiguration), barge-in, backchannels, idle timeout, and
the echo path.
"""

from __future__ import annotations

import base64
from collections import deque
from typing import Any

import numpy as np
import pytest

from openrealtime.core import Session
from openrealtime.core import effects as fx
from openrealtime.core.listener import is_backchannel
from openrealtime.core.turn import EAGERNESS, text_cue
from openrealtime.protocol import client_events as ce
from openrealtime.protocol import server_events as ev
from openrealtime.protocol.session import RealtimeSession

WINDOW_24K = 768  # one 512-sample VAD window at 16 kHz, as 24 kHz input
WINDOW_MS = 32
SHORT = {
    "input_audio_buffer.speech_started": "started",
    "input_audio_buffer.speech_stopped": "stopped",
    "input_audio_buffer.committed": "committed",
    "input_audio_buffer.cleared": "cleared",
    "input_audio_buffer.timeout_triggered": "timeout",
    "conversation.item.added": "added",
    "conversation.item.done": "done",
    "conversation.item.input_audio_transcription.delta": "delta",
    "conversation.item.input_audio_transcription.completed": "completed",
    "response.created": "created",
    "response.done": "response.done",
}
COMMIT = ["stopped", "committed", "added", "done"]


def windows(ms: int) -> int:
    return -(-ms // WINDOW_MS)


class Harness:
    """A session whose VAD, STT, end-of-turn model and drafts are scripted."""

    def __init__(self, turn_detection: dict[str, Any], *, backchannel_ms: int = 0,
                 echo: bool = False) -> None:
        self.session = Session(RealtimeSession(), echo_latency=0 if echo else None,
                               backchannel_ms=backchannel_ms)
        self.outputs: list[Any] = []
        self.script: deque[float] = deque()
        self.near_db = np.inf  # what the echo canceller says of the microphone
        self.handle({"type": "session.update", "session": {
            "type": "realtime", "audio": {"input": {
                "transcription": {"model": "whisper-1"},
                "turn_detection": turn_detection}}}})
        # The input resampler holds back a sample: a few samples up front make every
        # step's last window complete within that step.
        self.handle({"type": "input_audio_buffer.append",
                     "audio": base64.b64encode(bytes(6)).decode()})

    # -------------------------------------------------------------- driving

    def handle(self, event: dict[str, Any]) -> list[str]:
        return self._record(self.session.handle(ce.validate_event(event)))

    def fact(self, fact: fx.Fact) -> list[str]:
        return self._record(self.session.on_fact(fact))

    def audio(self, probability: float, ms: int) -> list[str]:
        count = windows(ms)
        self.script.extend([probability] * count)
        data = np.zeros(count * WINDOW_24K, dtype="<i2").tobytes()
        return self.handle({"type": "input_audio_buffer.append",
                            "audio": base64.b64encode(data).decode()})

    def speak(self, ms: int = 256) -> list[str]:
        return self.audio(1.0, ms)

    def quiet(self, ms: int) -> list[str]:
        return self.audio(0.0, ms)

    def result(self, text: str, speculation: int | None = None) -> list[str]:
        start = self.last(fx.StartTranscription, speculation)
        return self.fact(fx.TranscriptionCompleted(start.item_id, text, 1.0, start.speculation))

    def failed(self, speculation: int | None = None) -> list[str]:
        start = self.last(fx.StartTranscription, speculation)
        return self.fact(fx.TranscriptionFailed(start.item_id, "no speech", start.speculation))

    def score(self, probability: float | None) -> list[str]:
        return self.fact(fx.TurnScored(self.last(fx.ScoreTurn).speculation, probability))

    def last(self, kind: type, speculation: int | None = None) -> Any:
        found = [o for o in self.outputs if isinstance(o, kind)
                 and (speculation is None or o.speculation == speculation)]
        assert found, f"no {kind.__name__} yet"
        return found[-1]

    # ------------------------------------------------------------ recording

    def _record(self, outputs: list[Any]) -> list[str]:
        flat = self._run(outputs)
        self.outputs += flat
        return [name(o) for o in flat if not isinstance(o, ev.RateLimitsUpdated)]

    def _run(self, outputs: list[Any]) -> list[Any]:
        """Execute the VAD and echo effects inline, as the runtime does."""
        done: list[Any] = []
        for out in outputs:
            if isinstance(out, fx.ScoreSpeech):
                scores = [self.script.popleft() for _ in out.windows]
                done += self._run(self.session.on_fact(fx.SpeechScored(scores)))
            elif isinstance(out, fx.CancelEcho):  # an echo canceller that changes nothing
                done.append(out)
                near = np.full(len(out.mic), self.near_db, dtype=np.float32)
                done += self._run(self.session.on_fact(fx.EchoCancelled(out.mic, near)))
            else:
                done.append(out)
        return done


def name(out: Any) -> str:
    if isinstance(out, ev.InputAudioTranscriptionCompleted):
        return f"completed:{out.transcript}"
    if isinstance(out, ev.ResponseDone):
        return f"response.done:{out.response.status}"
    if isinstance(out, ev.ServerEvent):
        return SHORT.get(out.type, out.type)
    if isinstance(out, fx.StartTranscription):
        return f"StartTranscription#{out.speculation}"
    if isinstance(out, fx.StartResponse):
        return "StartDraft" if out.draft else "StartResponse"
    return type(out).__name__


SERVER_VAD = {"type": "server_vad", "silence_duration_ms": 500}
SEMANTIC = {"type": "semantic_vad", "eagerness": "auto"}
SPECULATE = ["StartTranscription#1"]
# What adopting a draft looks like on the wire: the reference's sequence for a VAD turn.
ADOPT = [*COMMIT, "delta", "completed:what time is it", "created", "AdoptDraft"]


# ---------------------------------------------------------------- server_vad


def talking(h: Harness, seconds: int = 10) -> str:
    """A first turn whose answer (``seconds`` of audio) is being played."""
    drafted(h, "tell me a story")
    h.quiet(420)
    rid = h.last(ev.ResponseCreated).response.id
    h.fact(fx.ClauseStarted(rid, "Once upon a time"))
    h.fact(fx.AudioProduced(rid, np.ones(24000 * seconds, dtype=np.int16)))
    return rid


def drafted(h: Harness, text: str = "what time is it") -> Harness:
    """Speech, a pause, its transcript: the draft is running."""
    h.speak()
    h.quiet(96)
    assert h.result(text) == ["StartDraft"]
    return h


def test_server_vad_draft_ready_before_the_silence_ends_is_adopted() -> None:
    h = Harness(SERVER_VAD)
    assert h.speak() == ["started"]
    assert h.quiet(96) == SPECULATE
    assert h.result("what time is it") == ["StartDraft"]
    assert h.quiet(300) == []  # server_vad keeps its exact silence
    assert h.quiet(200) == ADOPT
    stopped = h.last(ev.InputAudioBufferSpeechStopped)
    started = h.last(ev.InputAudioBufferSpeechStarted)
    # audio_end_ms: where the 500 ms silence window closed (speech ran 256 ms from 0)
    assert stopped.audio_end_ms == 256 + 16 * WINDOW_MS
    assert started.audio_start_ms == 0
    created = h.last(ev.ResponseCreated)
    assert created.response.id == h.last(fx.StartResponse).response_id
    assert h.last(fx.AdoptDraft).response_id == created.response.id


def test_server_vad_draft_still_running_at_the_end_is_adopted() -> None:
    h = Harness(SERVER_VAD)
    h.speak()
    h.quiet(96)
    assert h.result("what time is it") == ["StartDraft"]
    assert h.quiet(420) == ADOPT  # adopted as it is: its output streams when it comes


def test_server_vad_transcript_after_the_end_means_no_draft() -> None:
    h = Harness(SERVER_VAD)
    h.speak()
    assert h.quiet(520) == [*SPECULATE, *COMMIT, "created", "StartResponse"]
    assert h.result("what time is it") == ["delta", "completed:what time is it"]


def test_speech_resuming_discards_the_draft_silently() -> None:
    h = Harness(SERVER_VAD)
    h.speak()
    h.quiet(96)
    h.result("I would like to book a flight to")
    assert h.speak() == ["CancelTranscription", "DiscardDraft"]
    assert h.quiet(96) == ["StartTranscription#2"]
    assert h.result("I would like to book a flight to Paris", 2) == ["StartDraft"]
    h.quiet(500)
    created = h.last(ev.ResponseCreated)
    drafts = [o for o in h.outputs if isinstance(o, fx.StartResponse)]
    assert len(drafts) == 2 and created.response.id == drafts[1].response_id
    # the discarded draft left no trace: one speech_started, one item, one response
    assert sum(isinstance(o, ev.InputAudioBufferSpeechStarted) for o in h.outputs) == 1
    assert sum(isinstance(o, ev.ResponseCreated) for o in h.outputs) == 1
    assert not any(isinstance(o, ev.ServerEvent) and getattr(o, "response_id", None)
                   == drafts[0].response_id for o in h.outputs)
    # the draft answered the whole question
    heard = drafts[1].plan.items[-1]
    assert heard.content[0].transcript == "I would like to book a flight to Paris"


def test_stale_speculative_result_is_ignored() -> None:
    h = Harness(SERVER_VAD)
    h.speak()
    h.quiet(96)
    h.speak()
    h.quiet(96)
    assert h.result("stale", 1) == []
    assert h.result("fresh", 2) == ["StartDraft"]


def test_no_draft_without_create_response() -> None:
    h = Harness({**SERVER_VAD, "create_response": False})
    h.speak()
    h.quiet(96)
    assert h.result("what time is it") == []
    assert h.quiet(420) == [*COMMIT, "delta", "completed:what time is it"]


def test_no_draft_for_an_empty_transcript() -> None:
    h = Harness(SERVER_VAD)
    h.speak()
    h.quiet(96)
    assert h.result("") == []
    assert h.failed() == []  # a second result for the same speculation: ignored
    assert h.quiet(420) == [*COMMIT, "delta", "completed:", "created", "StartResponse"]


def test_conversation_edit_discards_the_draft() -> None:
    h = drafted(Harness(SERVER_VAD))
    item = {"type": "message", "role": "user", "content": [{"type": "input_text",
                                                              "text": "context"}]}
    assert h.handle({"type": "conversation.item.create", "item": item}) == [
        "added", "done", "DiscardDraft"]
    assert h.quiet(420) == [*COMMIT, "delta", "completed:what time is it", "created",
                            "StartResponse"]


def test_manual_commit_discards_the_draft() -> None:
    h = drafted(Harness(SERVER_VAD))
    assert h.handle({"type": "input_audio_buffer.commit"}) == [
        "DiscardDraft", "committed", "added", "done", "StartTranscription#0"]


def test_clear_discards_the_draft() -> None:
    h = drafted(Harness(SERVER_VAD))
    assert h.handle({"type": "input_audio_buffer.clear"}) == [
        "CancelTranscription", "DiscardDraft", "cleared"]
    assert h.quiet(500) == []


def test_reconfiguring_turn_detection_abandons_the_turn() -> None:
    h = drafted(Harness(SERVER_VAD))
    assert h.handle({"type": "session.update", "session": {"type": "realtime", "audio": {
        "input": {"turn_detection": SEMANTIC}}}}) == [
            "CancelTranscription", "DiscardDraft", "session.updated"]
    assert h.quiet(5000) == []


def test_barge_in_cancels_the_answer_and_stops_the_far_end() -> None:
    h = Harness(SERVER_VAD)
    talking(h, 3)
    assert h.session.listener.intake.playout.playing(h.session.listener.intake.received)
    got = h.speak()
    assert got[:2] == ["started", "CancelResponse"] and "response.done:cancelled" in got
    assert not h.session.listener.intake.playout.playing(h.session.listener.intake.received)


def test_idle_timeout_commits_and_answers() -> None:
    h = Harness({**SERVER_VAD, "idle_timeout_ms": 5000})
    h.speak()
    h.quiet(96)
    h.result("hello")
    h.quiet(420)
    rid = h.last(ev.ResponseCreated).response.id
    h.fact(fx.AudioProduced(rid, np.ones(24000, dtype=np.int16)))  # 1 s of answer
    h.fact(fx.ResponseFinished(rid, "stop"))
    assert h.quiet(5900) == []  # the 1 s answer plays, then 5 s of idle... almost
    assert h.quiet(200) == ["timeout", "committed", "added", "done", "created",
                            "StartResponse"]


# -------------------------------------------------------------- semantic_vad


def semantic_pause(h: Harness, text: str = "what time is it") -> None:
    """Speech, then a pause: the speculation at 96 ms, its transcript (and the draft),
    then the end-of-turn model at 192 ms."""
    assert h.speak() == ["started"]
    assert h.quiet(96) == SPECULATE
    assert h.result(text) == ["StartDraft"]
    assert h.quiet(96) == ["ScoreTurn"]


def test_semantic_finished_turn_ends_when_the_model_says_so() -> None:
    h = Harness(SEMANTIC)
    semantic_pause(h)
    assert h.score(0.95) == ADOPT  # the draft's audio streams as soon as it exists
    stopped = h.last(ev.InputAudioBufferSpeechStopped)
    assert stopped.audio_end_ms == 256 + 6 * WINDOW_MS  # far sooner than a fixed silence


def test_semantic_model_waits_for_the_transcript() -> None:
    """The model shares the cores with the draft's LLM, not with the recognizer."""
    h = Harness(SEMANTIC)
    h.speak()
    h.quiet(96)
    assert h.quiet(300) == []  # no transcript yet: no model either
    assert h.result("what time is it") == ["StartDraft", "ScoreTurn"]
    assert h.score(0.95) == ADOPT


def test_semantic_decision_falls_on_a_window_when_the_score_comes_early() -> None:
    h = Harness({"type": "semantic_vad", "eagerness": "low"})  # 480 ms at the least
    semantic_pause(h)
    assert h.score(0.95) == []
    assert h.quiet(256) == []
    assert h.quiet(32) == ADOPT
    assert h.last(ev.InputAudioBufferSpeechStopped).audio_end_ms == 256 + 15 * WINDOW_MS


def test_semantic_unfinished_turn_is_not_cut_at_a_600_ms_pause() -> None:
    h = Harness(SEMANTIC)
    semantic_pause(h, "I would like to book a flight to")
    h.score(0.08)
    assert h.quiet(600 - 192) == []
    assert h.speak() == ["CancelTranscription", "DiscardDraft"]
    h.quiet(96)
    assert h.result("I would like to book a flight to Paris next Friday.", 2) == ["StartDraft"]
    assert h.quiet(96) == ["ScoreTurn"]
    got = h.score(0.9)
    assert got[:1] == ["stopped"] and "AdoptDraft" in got
    assert sum(isinstance(o, ev.InputAudioBufferSpeechStopped) for o in h.outputs) == 1


def test_semantic_transcript_cue_overrides_a_confident_model() -> None:
    h = Harness(SEMANTIC)
    semantic_pause(h, "Can you tell me about the")
    assert h.score(0.9) == []  # the voice sounded finished, but the sentence is not
    assert h.quiet(700) == []


def test_semantic_model_just_unsure_waits_longer() -> None:
    """Just under the threshold the model says "not yet": not a 200 ms cut, nor 4 s."""
    h = Harness(SEMANTIC)
    semantic_pause(h, "What is the best way to?")  # Whisper's question mark proves nothing
    assert h.score(0.49) == []
    assert h.quiet(600) == []
    unsure_ms = EAGERNESS["auto"].unsure_silence // 16
    assert h.quiet(unsure_ms - 600 - 192 + 32)[:1] == ["stopped"]


def test_semantic_question_mark_helps_an_unsure_model() -> None:
    h = Harness(SEMANTIC)
    semantic_pause(h, "Is it going to rain tomorrow?")
    assert h.score(0.35)[:1] == ["stopped"]  # 0.35 -> 0.61 with the question mark
    h = Harness(SEMANTIC)
    semantic_pause(h, "Is it going to rain tomorrow")
    assert h.score(0.35) == []


def test_semantic_unfinished_turn_ends_at_the_maximum_wait() -> None:
    h = Harness(SEMANTIC)
    semantic_pause(h, "so what I want to know is")
    h.score(0.0)
    policy = EAGERNESS["auto"]
    assert h.quiet(policy.max_silence // 16 - 192 - 64) == []
    assert h.quiet(96)[:1] == ["stopped"]
    assert h.last(ev.InputAudioBufferSpeechStopped).audio_end_ms >= 256 + 4000


def test_semantic_model_failure_falls_back_to_silence() -> None:
    h = Harness(SEMANTIC)
    semantic_pause(h)
    h.score(None)
    fallback_ms = EAGERNESS["auto"].fallback // 16
    assert h.quiet(fallback_ms - 192 - 32) == []
    assert h.quiet(64)[:1] == ["stopped"]


def test_semantic_failed_transcription_still_asks_the_model() -> None:
    h = Harness(SEMANTIC)
    h.speak()
    h.quiet(192)
    assert h.failed() == ["ScoreTurn"]  # no draft without words
    assert h.score(0.95)[:1] == ["stopped"]


def test_semantic_score_of_an_earlier_pause_is_ignored() -> None:
    h = Harness(SEMANTIC)
    semantic_pause(h)
    first = h.last(fx.ScoreTurn).speculation
    assert h.speak() == ["CancelTranscription", "DiscardDraft"]
    h.quiet(96)
    assert h.fact(fx.TurnScored(first, 0.99)) == []
    assert h.result("what time is it", 2) == ["StartDraft"]
    assert h.quiet(96) == ["ScoreTurn"]
    assert h.score(0.99) == ADOPT


@pytest.mark.parametrize("eagerness,probability,ends", [
    ("high", 0.35, True), ("auto", 0.45, False), ("medium", 0.6, True), ("low", 0.75, False),
])
def test_eagerness_thresholds(eagerness: str, probability: float, ends: bool) -> None:
    h = Harness({"type": "semantic_vad", "eagerness": eagerness})
    semantic_pause(h, "the weather in Paris")
    h.score(probability)
    h.quiet(480 - 192 + 32)  # past the longest "shortest silence" (low: 480 ms)
    assert any(isinstance(o, ev.InputAudioBufferSpeechStopped) for o in h.outputs) is ends


# -------------------------------------------------------------- backchannels


def test_backchannel_during_playback_is_dropped() -> None:
    h = Harness(SERVER_VAD, backchannel_ms=600)
    rid = talking(h)
    assert h.speak(320) == []  # nothing announced yet
    assert h.quiet(96) == ["StartTranscription#2"]
    assert h.result("Mm-hmm.", 2) == []  # dropped: no event, no item
    assert h.quiet(600) == []
    assert rid in h.session.responses  # the answer goes on


def test_noise_during_playback_is_dropped_too() -> None:
    h = Harness(SERVER_VAD, backchannel_ms=600)
    rid = talking(h)
    h.speak(128)
    h.quiet(96)
    assert h.result("", 2) == []  # Whisper heard no words
    assert rid in h.session.responses


def test_a_short_utterance_waits_for_its_transcript_before_the_turn_ends() -> None:
    h = Harness(SERVER_VAD, backchannel_ms=600)
    talking(h)
    h.speak(320)
    assert h.quiet(600) == ["StartTranscription#2"]  # 500 ms of silence, but undecided
    got = h.result("Stop.", 2)
    assert got[:2] == ["started", "CancelResponse"] and "stopped" in got


def test_words_during_playback_interrupt_after_all() -> None:
    h = Harness(SERVER_VAD, backchannel_ms=600)
    talking(h)
    assert h.speak(320) == []
    h.quiet(96)
    got = h.result("Wait, stop.", 2)
    assert got[:2] == ["started", "CancelResponse"]
    assert h.quiet(420)[:1] == ["stopped"]


def test_long_speech_during_playback_interrupts() -> None:
    h = Harness(SERVER_VAD, backchannel_ms=600)
    talking(h)
    assert h.speak(320) == []
    got = h.speak(320)
    assert got[:2] == ["started", "CancelResponse"]


def test_backchannels_off_any_speech_interrupts() -> None:
    h = Harness(SERVER_VAD)
    talking(h)
    assert h.speak(64)[:2] == ["started", "CancelResponse"]


def test_backchannel_words() -> None:
    for text in ("Mm-hmm.", "Uh-huh", "Yeah, yeah.", "Okay!", "Right.", "I see."):
        assert is_backchannel(text), text
    for text in ("Stop.", "Wait, what?", "No, tell me about Paris", ""):
        assert not is_backchannel(text), text


def test_text_cue() -> None:
    assert text_cue("I would like to book a flight to") == "unfinished"
    assert text_cue("My favourite colour is, um,") == "unfinished"
    assert text_cue("What is the capital of France?") == "question"
    assert text_cue("How many legs does a spider have?") == "question"
    assert text_cue("Where is it from?") == "neutral"  # (also: "What is the best way to?")
    assert text_cue("Can you tell me about the?") == "unfinished"
    assert text_cue("So, um?") == "unfinished"
    assert text_cue("Book a flight to Paris.") == "neutral"


# ----------------------------------------------------------------- echo path


def test_echo_path_feeds_the_far_end_and_then_the_vad() -> None:
    h = Harness(SERVER_VAD, echo=True)
    assert h.speak() == ["started"]  # nothing plays: the input bypasses the canceller
    h.quiet(96)
    h.result("tell me a story")
    h.quiet(420)
    rid = h.last(ev.ResponseCreated).response.id
    h.fact(fx.AudioProduced(rid, np.full(24000, 1000, dtype=np.int16)))  # 1 s
    assert h.quiet(32) == ["CancelEcho"]
    echo = h.last(fx.CancelEcho)
    assert len(echo.far) == len(echo.mic) and np.all(echo.far[16:] > 0.02)
    assert echo.lead is not None  # back from bypassing: what the core still owes
    h.quiet(1200)
    h.quiet(32)
    assert not np.any(h.last(fx.CancelEcho).far)  # played out: silence, echo may still come
    assert h.last(fx.CancelEcho).lead is None
    calls = sum(isinstance(o, fx.CancelEcho) for o in h.outputs)
    h.quiet(3000)  # the echo tail is over: the canceller is bypassed again
    assert sum(isinstance(o, fx.CancelEcho) for o in h.outputs) == calls + 1
    assert h.quiet(64) == []


def test_noise_reduction_sends_all_input_through_the_canceller() -> None:
    """``noise_reduction`` applies as it is set (no turn is abandoned): every chunk goes
    to the canceller's noise suppressor, echo or not; ``null`` bypasses it again."""
    h = Harness(SERVER_VAD, echo=True)
    assert h.quiet(64) == []  # nothing plays: bypassed
    h.handle({"type": "session.update", "session": {"type": "realtime", "audio": {
        "input": {"noise_reduction": {"type": "far_field"}}}}})
    assert h.quiet(64) == ["CancelEcho"]
    assert h.last(fx.CancelEcho).denoise and h.last(fx.CancelEcho).lead is not None
    assert h.speak() == ["CancelEcho", "started"]  # speech detection goes on through it
    h.handle({"type": "session.update", "session": {"type": "realtime", "audio": {
        "input": {"noise_reduction": None}}}})
    calls = sum(isinstance(o, fx.CancelEcho) for o in h.outputs)
    h.speak(64)
    assert sum(isinstance(o, fx.CancelEcho) for o in h.outputs) == calls


def test_echo_gate_keeps_the_echo_from_starting_speech() -> None:
    h = Harness(SERVER_VAD, echo=True)
    h.session.listener.intake.playout.reserve(16000 * 60, 0)  # a minute of reply is playing
    h.near_db = 0.0  # the microphone is no louder than the echo the far end explains
    assert "started" not in h.speak(640)
    h.near_db = 20.0  # someone speaks over it
    assert "started" in h.speak(64)
    h.near_db = 0.0  # speech already going on is not cut by the gate
    assert h.speak(320) == ["CancelEcho"] * 1
    assert "stopped" not in h.quiet(200)
    assert h.speak(64) == ["CancelEcho"]  # ... but echo cannot resume it either


def test_transcription_options_reach_whisper() -> None:
    """language (or a single one of languages) and prompt plus keywords are what Whisper
    is given; several languages leave it to detect."""
    from openrealtime.protocol.session import TranscriptionConfig

    config = TranscriptionConfig(prompt="A hotel booking.", keywords=["Zermatt", "Anna"],
                                 languages=["de"])
    assert config.whisper_language() == "de"
    assert config.whisper_prompt() == "A hotel booking. Zermatt, Anna"
    assert TranscriptionConfig(languages=["de", "fr"]).whisper_language() is None
    assert TranscriptionConfig(language="fr", languages=["de"]).whisper_language() == "fr"
    assert TranscriptionConfig().whisper_prompt() is None
