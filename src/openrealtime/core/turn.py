"""Voice activity over per-window speech probabilities, and when a pause ends a turn.

:class:`VoiceActivity` turns one probability per fixed-size window into speech
onsets, pauses and resumptions (with Silero's own hysteresis). Whether a pause ends the
user's turn is a separate decision, made by a policy:

- ``server_vad`` (:class:`SilencePolicy`): the reference's exact rule, a fixed silence.
  ``speech_stopped.audio_end_ms`` is where the silence window of ``silence_duration_ms``
  closed (it includes that silence); ``speech_started.audio_start_ms`` is where speech
  was first detected *minus* ``prefix_padding_ms``.
- ``semantic_vad`` (:class:`SemanticPolicy`): an end-of-turn model scores the
  utterance at the start of the pause; a confident "finished" ends the turn after a
  short silence, an unfinished-sounding one waits longer, up to the reference's maximum
  for the eagerness (low 8 s, medium 4 s, high 2 s; auto = medium). The speculative
  transcript is a second signal: an utterance whose last word cannot end a sentence
  ("…a flight to") counts as less finished, a question mark as more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

# Silero's own hysteresis: speech continues until the probability falls 0.15 under
# the start threshold, so a word's weak tail does not end the turn.
HYSTERESIS = 0.15
SAMPLES_PER_MS = 16


@dataclass(frozen=True, slots=True)
class SpeechBegan:
    onset: int  # sample index of the first speech window


@dataclass(frozen=True, slots=True)
class PauseBegan:
    at: int  # sample index of the first quiet window


@dataclass(frozen=True, slots=True)
class SpeechResumed:
    at: int


Activity = SpeechBegan | PauseBegan | SpeechResumed


class VoiceActivity:
    """Consumes one probability per fixed-size window, in stream order."""

    def __init__(self, *, threshold: float, window: int) -> None:
        self.threshold = threshold
        self.release = max(threshold - HYSTERESIS, 0.01)
        self.window = window
        self.state: Literal["idle", "speech", "pause"] = "idle"
        self.pause_at = 0
        self.position = 0  # sample index at the end of the last scored window

    def reset(self, position: int) -> None:
        self.state = "idle"
        self.position = position

    @property
    def silence(self) -> int:
        """Samples of the current pause so far (0 unless paused)."""
        return self.position - self.pause_at if self.state == "pause" else 0

    def push(self, probability: float) -> Activity | None:
        start = self.position
        self.position += self.window
        if self.state == "idle":
            if probability >= self.threshold:
                self.state = "speech"
                return SpeechBegan(start)
            return None
        if self.state == "speech":
            if probability < self.release:
                self.state, self.pause_at = "pause", start
                return PauseBegan(start)
            return None
        if probability >= self.threshold:
            self.state = "speech"
            return SpeechResumed(start)
        return None


# ------------------------------------------------------------------ end of turn


@dataclass(frozen=True, slots=True)
class SilencePolicy:
    """server_vad: the turn ends after exactly this much silence."""

    silence: int  # samples


# Words after which an English sentence hardly ever ends: a transcript ending in one
# was cut in mid-sentence (the speaker is thinking, or looking for a word). Verbs are not
# among them: questions end in them ("How many legs does a spider have?").
STRONG_CONTINUATIONS = frozenset("""
a an the and or but nor so because since though although if unless whether than my your
his her its our their these those very really such um uh er erm hmm mm ah eh
""".split())
# Words that end unfinished sentences, but questions too ("Where is it from?").
WEAK_CONTINUATIONS = frozenset("""
to of for with without in on at by from into onto about as like that this which whose
""".split())
_WORD = re.compile(r"[a-z']+")


def text_cue(transcript: str) -> Literal["unfinished", "question", "neutral"]:
    """What the last words of a (speculative) transcript say about the turn.

    Whisper writes a question mark after the start of a question even when the speaker
    has not finished it ("What is the best way to?"): after a word that often ends an
    unfinished sentence the mark proves nothing.
    """
    text = transcript.strip().lower()
    if not text:
        return "neutral"
    if text.endswith((",", "...", "…", "-", "—", ":", ";")):
        return "unfinished"
    words = _WORD.findall(text)
    last = words[-1] if words else ""
    if last in STRONG_CONTINUATIONS:
        return "unfinished"
    if text.endswith("?"):
        return "neutral" if last in WEAK_CONTINUATIONS else "question"
    return "unfinished" if last in WEAK_CONTINUATIONS else "neutral"


@dataclass(frozen=True, slots=True)
class SemanticPolicy:
    """semantic_vad: how long a pause must last, given how finished the turn sounds."""

    threshold: float  # P(finished) at or above which the shortest silence suffices
    min_silence: int  # samples
    unsure_silence: int  # just under the threshold: the model itself says "not yet"
    max_silence: int  # the reference's maximum wait for the eagerness
    fallback: int  # the silence used when the end-of-turn model failed

    def finished(self, probability: float, transcript: str) -> float:
        """The model's P(finished), adjusted by the transcript's last words."""
        cue = text_cue(transcript)
        if cue == "unfinished":
            return probability * 0.3
        if cue == "question":
            return 1.0 - (1.0 - probability) * 0.6
        return probability

    def required(self, finished: float | None) -> int:
        """Silence (samples) after which the pause ends the turn."""
        if finished is None:
            return self.fallback
        if finished >= self.threshold:
            return self.min_silence
        doubt = (self.threshold - finished) / self.threshold  # 0 (borderline) .. 1
        return self.unsure_silence + round(
            (self.max_silence - self.unsure_silence) * doubt * doubt)


def _semantic(threshold: float, min_ms: int, unsure_ms: int, max_ms: int,
              fallback_ms: int) -> SemanticPolicy:
    return SemanticPolicy(threshold, min_ms * SAMPLES_PER_MS, unsure_ms * SAMPLES_PER_MS,
                          max_ms * SAMPLES_PER_MS, fallback_ms * SAMPLES_PER_MS)


# eagerness -> (threshold, shortest silence, silence when unsure, the reference's
# maximum wait, silence without the model; ms). "high" ends turns soonest; "auto" is
# "medium". The thresholds come from Smart Turn v3.2 at ~250 ms of silence over 4 voices:
# 0.3 ended 96 % of finished questions and 25 % of unfinished phrases, 0.5: 92 % / 12 %,
# 0.8: 71 % / 12 % (the transcript cue then catches most of the unfinished ones).
EAGERNESS: dict[str, SemanticPolicy] = {
    "high": _semantic(0.3, 192, 500, 2000, 250),
    "medium": _semantic(0.5, 192, 900, 4000, 600),
    "auto": _semantic(0.5, 192, 900, 4000, 600),
    "low": _semantic(0.8, 480, 1500, 8000, 1200),
}
