"""Server-wide counters of turn-taking work, for ``/healthz`` (and operators).

Fed by the session drivers' observer: end-of-turn decisions (how many, what they cost)
and speculative replies (adopted, or discarded with what they had produced in vain).
"""

from __future__ import annotations

from typing import Any


class TurnStats:
    def __init__(self) -> None:
        self.decisions = 0
        self.decision_s = 0.0
        self.adopted = 0
        self.discarded = 0
        self.discarded_audio_s = 0.0
        self.discarded_text_chars = 0

    def __call__(self, kind: str, info: dict[str, Any]) -> None:
        if kind == "turn":
            self.decisions += 1
            self.decision_s += float(info["seconds"])
        elif kind == "draft_adopted":
            self.adopted += 1
        elif kind == "draft_discarded":
            self.discarded += 1
            self.discarded_audio_s += info["work"].audio_s
            self.discarded_text_chars += info["work"].text_chars

    def report(self) -> dict[str, Any]:
        mean_ms = 1000 * self.decision_s / self.decisions if self.decisions else None
        return {
            "end_of_turn": {"decisions": self.decisions,
                            "mean_ms": None if mean_ms is None else round(mean_ms, 1)},
            "drafts": {"adopted": self.adopted, "discarded": self.discarded,
                       "discarded_audio_s": round(self.discarded_audio_s, 2),
                       "discarded_text_chars": self.discarded_text_chars},
        }
