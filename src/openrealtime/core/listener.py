"""The input side of a session, as one state machine: facts in, effects out.

It owns the input audio buffer and everything that decides a user turn:

- **intake**: client audio → 16 kHz → (echo cancellation against what the client is
  playing, :class:`~openrealtime.audio.Playout`) → the input ring and the VAD windows;
- **speech start/stop** from the VAD's probabilities (:class:`.turn.VoiceActivity`);
- **the pending turn** (:class:`.pending.PendingTurn`): the item ``speech_started``
  announced and its speculative transcription, started early in each pause;
- **the end-of-turn decision**: a fixed silence (``server_vad``) or the end-of-turn
  model's score plus the transcript (``semantic_vad``, :class:`.turn.SemanticPolicy`);
- **the speculative reply** (a *draft*): once a pause has a transcript, the answer is
  generated while the turn is still undecided, its output held back. Speech resuming
  discards it silently; the end of the turn hands it to the session, which announces
  it as the response and lets what it already made stream at once;
- **backchannels** (optional): while the assistant is playing, a short "mm-hmm" or
  "okay" is dropped instead of interrupting it.

No asyncio, no clock, no models. Time is the input sample index at 16 kHz. What it
returns is a list of server events, runtime effects and :data:`Signal` s — the points
where the session must act (announce, commit, answer) — in order.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..protocol import server_events as ev
from ..protocol.errors import ProtocolError
from ..protocol.ids import item_id as new_item_id
from ..protocol.ids import response_id as new_response_id
from ..protocol.session import AudioInput
from . import effects as fx
from .intake import SAMPLE_RATE, VAD_WINDOW, Intake, audio_format
from .pending import PendingTurn, Speculation, TranscriptionResult
from .turn import (
    EAGERNESS,
    PauseBegan,
    SemanticPolicy,
    SilencePolicy,
    SpeechBegan,
    SpeechResumed,
    VoiceActivity,
)

MIN_COMMIT_MS = 100
# The speculative transcription starts after this much pause. The VAD's pause starts
# ~40 ms after the last sound (p50; 10 % of the time before it, on a soft final "s"), yet
# Whisper's word error over 136 utterances by 4 voices was the same (0.13-0.14) with the
# audio cut 0, 32, 64, 96 or 128 ms into the pause. One window: 25 ms sooner to the first
# audio than two (bench/turns.py), and 3 drafts in 20 turns were started on a dip
# between words and discarded (before they had made any audio).
SPECULATE_AFTER_MS = 32
# Live captions (transcription sessions) transcribe the growing utterance this often
# (one Whisper tiny.en call, ~100-150 ms on 2 cores, per period of speech).
PARTIAL_EVERY_MS = 700
PARTIAL_FIRST_MS = 400  # ... the first one sooner: a word or two is already worth showing
# semantic_vad asks the end-of-turn model after this much pause: Smart Turn v3.2 calls
# most finished questions unfinished with under ~160 ms of trailing silence and
# separates best at ~250 ms (measured on 4 voices; the VAD's pause starts some 30-60 ms
# after the last sound).
SCORE_AFTER_MS = 192
TURN_WINDOW_S = 8  # the end-of-turn model looks at most at the last 8 s
# What counts as a backchannel: said while the assistant talks, it does not interrupt.
BACKCHANNELS = frozenset({
    "mm", "mmhmm", "mhm", "hmm", "uhhuh", "uh huh", "mm hmm", "yeah", "yes", "yep", "yup",
    "okay", "ok", "right", "sure", "i see", "got it", "cool", "nice", "alright", "all right",
    "ah", "oh", "uh", "um",
})
_NON_WORD = re.compile(r"[^a-z ]+")


def ms(samples: int) -> int:
    return samples * 1000 // SAMPLE_RATE


def is_backchannel(transcript: str) -> bool:
    """"Mm-hmm.", "Yeah, yeah.", "Okay!" — a listener's signal, not a turn."""
    words = _NON_WORD.sub(" ", transcript.lower().replace("-", "")).split()
    if not words or len(words) > 4:
        return False
    return " ".join(words) in BACKCHANNELS or all(w in BACKCHANNELS for w in words)


# ------------------------------------------------------------------------ signals


@dataclass(slots=True)
class Draft:
    """A speculative reply: started from one speculation, valid for one conversation
    ``revision`` (the session's counter of changes the draft could not know about)."""

    response_id: str
    speculation: int
    revision: int


@dataclass(frozen=True, slots=True)
class TurnBegan:
    """``speech_started`` went out: the session may interrupt the assistant."""

    item_id: str


@dataclass(frozen=True, slots=True)
class DraftWanted:
    """Start the draft: the answer to the turn so far, heard as ``transcript``."""

    response_id: str
    item_id: str
    transcript: str


@dataclass(frozen=True, slots=True)
class Commit:
    """Commit input ``[start, end)`` as the user item ``item_id``.

    ``speculation``: the pending turn's live speculation, which then stands as the
    item's transcription; ``transcribe=False``: no transcription at all (an idle
    timeout's silence); ``respond``: the turn ended by turn detection (the session
    answers it if ``create_response``, with ``draft`` when there is one).
    """

    item_id: str
    start: int
    end: int
    speculation: Speculation | None = None
    draft: Draft | None = None
    transcribe: bool = True
    respond: bool = False


Signal = TurnBegan | DraftWanted | Commit


# ----------------------------------------------------------------------- listener


class Listener:
    """The input side of one session (see the module docstring)."""

    def __init__(self, config: AudioInput, *, capacity_s: int = 120,
                 echo_latency: int | None = None, backchannel_ms: int = 0,
                 draft_revision: Callable[[], int | None] = lambda: None,
                 partials: bool = False) -> None:
        self.intake = Intake(capacity_s, echo_latency)
        self.ring = self.intake.ring
        self.pending = PendingTurn()
        self.backchannel = backchannel_ms * SAMPLE_RATE // 1000  # 0: any speech interrupts
        # The session's conversation revision if a draft may start now (the session
        # answers turns and has no answer running), else None.
        self.draft_revision = draft_revision
        self.buffer_start = 0  # first sample of the uncommitted input buffer
        self.idle_deadline: int | None = None  # where idle_timeout_ms fires (None: off)
        self.draft: Draft | None = None
        self.score: float | None = None  # the end-of-turn model on the current pause
        self.score_failed = False
        self.speculated = False  # the current pause has its speculation
        self.scored = False  # ... and its end-of-turn score was asked for
        self.tentative = False  # speech during playback, not announced yet (backchannel?)
        self.onset = 0  # where the pending turn's speech was first heard
        # Live captions (transcription sessions): the growing utterance is transcribed
        # every PARTIAL_EVERY_MS of speech (the first after PARTIAL_FIRST_MS), its words become
        # delta events as they settle.
        self.partials = partials
        self.partial: int | None = None  # the number of the partial transcript in flight
        self.partial_from = 0  # where the turn's speech stood when the last one started
        self.captioned: dict[str, str] = {}  # item -> the transcript its deltas gave so far
        self.configure(config)

    # ---------------------------------------------------------------- configuration

    def configure(self, config: AudioInput) -> list[Any]:
        """(Re)configure from the session; a turn in progress is abandoned."""
        self.update(config)
        self.intake.configure(audio_format(config.format))
        td = config.turn_detection
        self.vad: VoiceActivity | None = None
        self.policy: SilencePolicy | SemanticPolicy | None = None
        if td is not None:
            threshold = td.threshold if td.type == "server_vad" else 0.5
            self.vad = VoiceActivity(threshold=threshold, window=VAD_WINDOW)
            self.vad.reset(self.intake.position)
            self.policy = (SilencePolicy(td.silence_duration_ms * 16) if td.type == "server_vad"
                           else EAGERNESS[td.eagerness])
        self.intake.scoring = self.vad is not None
        return self._abandon()

    def update(self, config: AudioInput) -> None:
        """Settings that apply as they are, without abandoning a turn."""
        self.config = config
        self.intake.denoise = config.noise_reduction is not None

    def stt_options(self) -> dict[str, Any]:
        tr = self.config.transcription
        return {"language": tr.whisper_language() if tr else None,
                "prompt": tr.whisper_prompt() if tr else None}

    # ------------------------------------------------------------------- VAD facts

    def on_speech(self, probabilities: list[float]) -> list[Any]:
        out: list[Any] = []
        vad = self.vad
        if vad is None:
            return out
        for p in probabilities:
            if not self.intake.may_start() and vad.state != "speech":
                p = 0.0  # the echo, not the user: it may not start (or resume) speech
            activity = vad.push(p)
            if isinstance(activity, SpeechBegan):
                out += self._begin(activity.onset)
            elif isinstance(activity, SpeechResumed):
                out += self._resume()
            elif isinstance(activity, PauseBegan):
                self._new_pause()
            if vad.state == "idle":
                out += self._idle_check()
            elif vad.state == "speech":
                out += self._confirm_if_long()
            elif self.pending.item_id is not None:
                out += self._in_pause()
            if vad.state == "speech" and self.partials:
                out += self._caption()
        return out

    def _caption(self) -> list[Any]:
        """Transcribe the utterance so far for live captions, when due and none runs."""
        assert self.vad is not None
        item_id = self.pending.item_id
        if (item_id is None or self.tentative or self.partial is not None
                or self.vad.position - self.partial_from < PARTIAL_EVERY_MS * 16):
            return []
        self.partial, self.partial_from = self.pending.number(), self.vad.position
        audio = self.ring.read(self.pending.speech_start, self.vad.position)
        return [fx.StartTranscription(item_id, audio, speculation=self.partial, partial=True,
                                      **self.stt_options())]

    def _captioned(self, fact: TranscriptionResult) -> list[Any]:
        """A partial transcript: the words it adds to what the captions said, all but
        its last (a word cut off mid-way may still change)."""
        self.partial = None
        if not isinstance(fact, fx.TranscriptionCompleted) or fact.item_id != self.pending.item_id:
            return []
        words = fact.transcript.split()[:-1]
        return self.caption(fact.item_id, " ".join(words))

    def caption(self, item_id: str, text: str) -> list[Any]:
        """The delta that extends the item's captions to ``text``; none where ``text`` does
        not extend them (deltas cannot take words back: the completed event has the
        final transcript)."""
        said = self.captioned.get(item_id, "")
        if not text.startswith(said) or len(text) <= len(said):
            return []
        self.captioned[item_id] = text
        while len(self.captioned) > 8:  # (items cleared before their commit)
            del self.captioned[next(iter(self.captioned))]
        return [ev.InputAudioTranscriptionDelta(item_id=item_id, delta=text[len(said):])]

    def _begin(self, onset: int) -> list[Any]:
        self.idle_deadline = None
        td = self.config.turn_detection
        pad = (td.prefix_padding_ms if td is not None and td.type == "server_vad" else 300) * 16
        self.pending.begin(new_item_id(), max(onset - pad, self.buffer_start, self.ring.start))
        self._new_pause()
        self.onset = onset
        self.partial_from = onset - (PARTIAL_EVERY_MS - PARTIAL_FIRST_MS) * 16
        self.tentative = self.backchannel > 0 and self.intake.playout.playing(onset)
        return [] if self.tentative else self._announce()

    def _announce(self) -> list[Any]:
        self.tentative = False
        item_id = self.pending.item_id
        assert item_id is not None
        return [ev.InputAudioBufferSpeechStarted(audio_start_ms=ms(self.pending.speech_start),
                                                 item_id=item_id), TurnBegan(item_id)]

    def _confirm_if_long(self) -> list[Any]:
        """A tentative utterance that lasts is no backchannel: announce it now."""
        assert self.vad is not None
        if self.tentative and self.vad.position - self.onset >= self.backchannel:
            return self._announce()
        return []

    def _resume(self) -> list[Any]:
        out: list[Any] = []
        item_id = self.pending.item_id
        if item_id is not None and self.pending.resume():
            out.append(fx.CancelTranscription(item_id))
        out += self.drop_draft()
        return out + self._confirm_if_long()

    def _new_pause(self) -> None:
        self.speculated = self.scored = self.score_failed = False
        self.score = None

    def _in_pause(self) -> list[Any]:
        assert self.vad is not None
        out: list[Any] = []
        if not self.speculated and self.vad.silence >= SPECULATE_AFTER_MS * 16:
            out += self._speculate()
        return out + self._ask_model() + self._end_if_over()

    def _speculate(self) -> list[Any]:
        """Transcribe the turn so far, early in the pause (the draft's question)."""
        assert self.vad is not None and self.pending.item_id is not None
        self.speculated = True
        audio = self.ring.read(self.pending.speech_start, self.vad.position)
        return [fx.StartTranscription(self.pending.item_id, audio,
                                      speculation=self.pending.speculate(),
                                      **self.stt_options())]

    def _ask_model(self) -> list[Any]:
        """semantic_vad: has the speaker finished? (the whole utterance, up to now)

        Asked once the pause is long enough for the model *and* the speculative
        transcript is in: the model then shares the cores with the draft's LLM (one
        thread) rather than with the speech recognizer, which the draft waits for.
        """
        vad, spec = self.vad, self.pending.speculation
        if (not isinstance(self.policy, SemanticPolicy) or self.scored or vad is None or vad.state != "pause"
                or vad.silence < SCORE_AFTER_MS * 16 or spec is None or spec.result is None):
            return []
        assert self.pending.item_id is not None
        self.scored = True
        start = max(self.pending.speech_start, vad.position - TURN_WINDOW_S * SAMPLE_RATE)
        return [fx.ScoreTurn(self.pending.item_id, spec.number,
                             self.ring.read(start, vad.position))]

    # -------------------------------------------------------------- other facts

    def on_transcription(self, fact: TranscriptionResult) -> list[Any] | None:
        """A speculative result of the pending turn; None if it is not one (the session
        then treats it as a committed item's result)."""
        if fact.speculation != 0 and fact.speculation == self.partial:
            return self._captioned(fact)
        if not self.pending.offer(fact):
            return None
        text = fact.transcript if isinstance(fact, fx.TranscriptionCompleted) else ""
        out: list[Any] = []
        if self.tentative:
            if not text or is_backchannel(text):  # (Whisper hears noise as nothing)
                return self._drop_backchannel()
            if self.vad is not None and self.vad.state != "pause":
                return out  # still speaking: the length rule decides
            out += self._announce()
        revision = self.draft_revision()
        if text and revision is not None and self.draft is None:
            spec = self.pending.speculation
            assert spec is not None and self.pending.item_id is not None
            self.draft = Draft(new_response_id(), spec.number, revision)
            out.append(DraftWanted(self.draft.response_id, self.pending.item_id, text))
        return out + self._ask_model() + self._end_if_over()

    def on_turn_scored(self, fact: fx.TurnScored) -> list[Any]:
        spec = self.pending.speculation
        if spec is None or spec.number != fact.speculation:
            return []  # an earlier pause's score
        self.score, self.score_failed = fact.probability, fact.probability is None
        return self._end_if_over()

    # ------------------------------------------------------------------ the decision

    def _end_if_over(self) -> list[Any]:
        vad = self.vad
        if (vad is None or vad.state != "pause" or self.pending.item_id is None
                or not self._turn_over(vad.silence)):
            return []
        return self._end(vad.position)

    def _turn_over(self, silence: int) -> bool:
        policy = self.policy
        if isinstance(policy, SilencePolicy):  # (a short utterance in the middle of the
            # reply waits for its transcript: a backchannel leaves no trace)
            spec = self.pending.speculation
            undecided = self.tentative and (spec is None or spec.result is None)
            return silence >= policy.silence and not undecided
        assert isinstance(policy, SemanticPolicy)
        if silence >= policy.max_silence:
            return True
        spec = self.pending.speculation
        if spec is None or spec.result is None or (self.score is None and not self.score_failed):
            return False  # the transcript or the model's score is still to come
        text = spec.result.transcript if isinstance(spec.result, fx.TranscriptionCompleted) else ""
        finished = None if self.score is None else policy.finished(self.score, text)
        return silence >= policy.required(finished)

    def _end(self, position: int) -> list[Any]:
        assert self.vad is not None
        item_id, start = self.pending.item_id, self.pending.speech_start
        assert item_id is not None
        out: list[Any] = []
        if self.tentative:  # a long pause after an unknown short utterance: a turn after all
            out += self._announce()
        draft, self.draft = self.draft, None
        self.vad.state = "idle"
        out += [ev.InputAudioBufferSpeechStopped(audio_end_ms=ms(position), item_id=item_id),
                Commit(item_id, start, position, self.pending.end(), draft, respond=True)]
        return out

    def _drop_backchannel(self) -> list[Any]:
        """Forget a backchannel utterance: no event, no item, the assistant talks on."""
        assert self.vad is not None
        self.pending.end()
        self.tentative = False
        if self.vad.state == "pause":
            self.vad.state = "idle"
        self.buffer_start = max(self.buffer_start, self.vad.position)
        return []

    # ------------------------------------------------------------------ client events

    def commit(self) -> list[Any]:
        """``input_audio_buffer.commit``: the whole buffer becomes an item (no answer).

        A manual commit takes the whole buffer, not the speculated span: its own
        transcription replaces a speculation still running (whose result is then stale).
        """
        available = self.ring.end - self.buffer_start
        if available < MIN_COMMIT_MS * 16 - 16:  # allow the resampler's 1-sample delay
            raise ProtocolError(
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"{MIN_COMMIT_MS}ms of audio, but buffer only has {available / 16:.2f}ms of audio.",
                code="input_audio_buffer_commit_empty")
        item_id = self.pending.item_id or new_item_id()
        out = self._abandon(cancel=False)
        return [*out, Commit(item_id, self.buffer_start, self.ring.end)]

    def clear(self) -> list[Any]:
        out = self._abandon()
        self.buffer_start = self.ring.end
        return [*out, ev.InputAudioBufferCleared()]

    def _abandon(self, *, cancel: bool = True) -> list[Any]:
        """Forget the pending turn (commit, clear, reconfiguration)."""
        out: list[Any] = []
        item_id = self.pending.item_id
        if self.pending.end() is not None and item_id is not None and cancel:
            out.append(fx.CancelTranscription(item_id))
        out += self.drop_draft()
        self.tentative = False
        if self.vad is not None:
            self.vad.reset(self.intake.position)
        return out

    def drop_draft(self) -> list[Any]:
        """Discard the draft, if any (speech resumed, the conversation changed)."""
        draft, self.draft = self.draft, None
        return [] if draft is None else [fx.DiscardDraft(draft.response_id)]

    # ------------------------------------------------------------------ idle timeout

    def arm_idle(self, timeout_ms: int | None) -> None:
        """GA ``idle_timeout_ms``: start the clock when the answer has been played.

        Over WebSocket the server cannot see playback; it assumes the client plays the
        audio as it is sent (see :class:`Playout`).
        """
        if timeout_ms is None:
            return
        self.idle_deadline = max(self.ring.end, self.intake.playout.end) + timeout_ms * 16

    def _idle_check(self) -> list[Any]:
        assert self.vad is not None
        if self.idle_deadline is None or self.vad.position < self.idle_deadline:
            return []
        self.idle_deadline = None
        position = self.vad.position
        item_id = new_item_id()
        return [ev.InputAudioBufferTimeoutTriggered(audio_start_ms=ms(self.buffer_start),
                                                    audio_end_ms=ms(position), item_id=item_id),
                Commit(item_id, self.buffer_start, position, transcribe=False, respond=True)]
