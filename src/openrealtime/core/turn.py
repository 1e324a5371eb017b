"""Server-VAD turn detection over per-window speech probabilities.

Reference semantics: ``speech_started.audio_start_ms`` is where speech was first
detected *minus* ``prefix_padding_ms`` (the start of the audio the model gets);
``speech_stopped.audio_end_ms`` is where the silence window of
``silence_duration_ms`` closed (it includes that silence).

The detector also reports :class:`PauseBegan` / :class:`SpeechResumed` so the runtime
can transcribe speculatively during the silence window instead of after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# Silero's own hysteresis: speech continues until the probability falls 0.15 under
# the start threshold, so a word's weak tail does not end the turn.
HYSTERESIS = 0.15
# Semantic VAD is approximated by a silence window chosen by eagerness.
EAGERNESS_SILENCE_MS = {"low": 1200, "medium": 600, "auto": 600, "high": 250}


@dataclass(frozen=True, slots=True)
class SpeechBegan:
    onset: int  # sample index of the first speech window


@dataclass(frozen=True, slots=True)
class PauseBegan:
    """The speaker has been quiet for ``hold_samples``: ``at`` is the current end."""

    at: int


@dataclass(frozen=True, slots=True)
class SpeechResumed:
    at: int


@dataclass(frozen=True, slots=True)
class SpeechEnded:
    end: int  # sample index where the silence window closed


TurnSignal = SpeechBegan | PauseBegan | SpeechResumed | SpeechEnded


class TurnDetector:
    """Consumes one probability per fixed-size window, in stream order."""

    def __init__(
        self, *, threshold: float, silence_samples: int, window: int, hold_samples: int = 0
    ) -> None:
        self.threshold = threshold
        self.release = max(threshold - HYSTERESIS, 0.01)
        self.silence_samples = silence_samples
        self.window = window
        # How long a pause must last before speculative transcription starts: the
        # VAD drops below threshold on a word's soft tail (a final "s"), and cutting
        # the audio there garbles the last word.
        self.hold_samples = hold_samples
        self.held = False
        self.state: Literal["idle", "speech", "pause"] = "idle"
        self.onset = 0
        self.pause_at = 0
        self.position = 0  # sample index at the end of the last scored window

    def reset(self, position: int) -> None:
        self.state = "idle"
        self.position = position

    def push(self, probability: float) -> TurnSignal | None:
        start = self.position
        self.position += self.window
        if self.state == "idle":
            if probability >= self.threshold:
                self.state, self.onset = "speech", start
                return SpeechBegan(start)
            return None
        if self.state == "speech":
            if probability < self.release:
                self.state, self.pause_at, self.held = "pause", start, False
                return self._hold()
            return None
        # pause
        if probability >= self.threshold:
            self.state = "speech"
            return SpeechResumed(start)
        if self.position - self.pause_at >= self.silence_samples:
            self.state = "idle"
            return SpeechEnded(self.position)
        return self._hold()

    def _hold(self) -> TurnSignal | None:
        if not self.held and self.position - self.pause_at >= self.hold_samples:
            self.held = True
            return PauseBegan(self.position)
        return None
