"""Token counts and their cost: from ``usage`` objects, or from minutes of talk.

Both paths produce :class:`Tokens`, split the way hosted prices are: text and audio, input
served fresh or from the prompt cache, and output. Pricing is then a dot product.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from ..core.response import INPUT_AUDIO_TOKENS_PER_S, OUTPUT_AUDIO_TOKENS_PER_S
from .price import PER_TOKENS, LocalPrices, Prices


@dataclass(frozen=True)
class Tokens:
    """Token counts by billing kind. ``*_in`` exclude cached tokens (those are ``*_cached``)."""

    text_in: int = 0
    text_in_cached: int = 0
    audio_in: int = 0
    audio_in_cached: int = 0
    text_out: int = 0
    audio_out: int = 0

    def __add__(self, other: Tokens) -> Tokens:
        return Tokens(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    @property
    def input_total(self) -> int:
        return self.text_in + self.text_in_cached + self.audio_in + self.audio_in_cached

    @property
    def output_total(self) -> int:
        return self.text_out + self.audio_out


def hosted_cost_usd(tokens: Tokens, prices: Prices) -> float:
    """What ``tokens`` cost at ``prices`` ($ per 1M tokens)."""
    return (tokens.text_in * prices.text_in + tokens.text_in_cached * prices.text_in_cached
            + tokens.audio_in * prices.audio_in
            + tokens.audio_in_cached * prices.audio_in_cached
            + tokens.text_out * prices.text_out + tokens.audio_out * prices.audio_out
            ) / PER_TOKENS


def local_cost_usd(local: LocalPrices, *, cpu_s: float | None = None,
                   wall_s: float | None = None) -> float | None:
    """Self-hosted cost: measured CPU-seconds if known, else ``cores`` x wall-clock time.

    Returns None when neither is known (a recording cut off before its last line).
    """
    if cpu_s is not None:
        return cpu_s / 3600 * local.cpu_hour_usd
    if wall_s is not None:
        return local.cores * wall_s / 3600 * local.cpu_hour_usd
    return None


# ------------------------------------------------------------------ from usage

def _int(data: Mapping[str, Any] | None, key: str) -> int:
    value = (data or {}).get(key)
    return int(value) if isinstance(value, int | float) else 0


def tokens_from_usage(usage: Mapping[str, Any] | None) -> Tokens:
    """Split one ``response.done.response.usage`` object into billing kinds.

    ``cached_tokens`` is a subset of ``input_tokens`` (§7); ``cached_tokens_details`` says
    how much of it is text and how much audio. Without the details (older captures) the
    cache is assumed to hold text first: a conversation's cached prefix starts with the
    instructions. Image tokens are not priced here.
    """
    if not usage:
        return Tokens()
    details = usage.get("input_token_details") or {}
    out = usage.get("output_token_details") or {}
    text_in, audio_in = _int(details, "text_tokens"), _int(details, "audio_tokens")
    if not details:  # no split at all: count everything as text
        text_in = _int(usage, "input_tokens")
    cached = _int(details, "cached_tokens")
    cached_details = details.get("cached_tokens_details")
    if cached_details:
        cached_text = _int(cached_details, "text_tokens")
        cached_audio = _int(cached_details, "audio_tokens")
    else:
        cached_text = min(cached, text_in)
        cached_audio = min(cached - cached_text, audio_in)
    text_out, audio_out = _int(out, "text_tokens"), _int(out, "audio_tokens")
    if not out:
        text_out = _int(usage, "output_tokens")
    return Tokens(text_in=max(text_in - cached_text, 0), text_in_cached=min(cached_text, text_in),
                  audio_in=max(audio_in - cached_audio, 0),
                  audio_in_cached=min(cached_audio, audio_in),
                  text_out=text_out, audio_out=audio_out)


def tokens_from_usages(usages: Iterable[Mapping[str, Any] | None]) -> Tokens:
    total = Tokens()
    for usage in usages:
        total = total + tokens_from_usage(usage)
    return total


# ---------------------------------------------------------------- from minutes

@dataclass(frozen=True)
class ConversationModel:
    """A voice conversation, turn by turn, as the hosted service bills it.

    Each turn of ``60 / turns_per_minute`` seconds: the user speaks ``user_share`` of it
    (10 audio tokens/s in), the assistant answers for ``assistant_share`` of it (20 audio
    tokens/s out); the rest is silence and latency. The server's own accounting uses the
    same rates (``core.response``).

    Every response re-sends the whole conversation so far as input: the instructions,
    every earlier user turn and every earlier answer (the model's own audio goes back in
    as input audio; counted here at the rate it was generated at, 20 tokens/s, an
    assumption). A token is billed at the full price the first time it is sent and at the
    cached price afterwards (prompt caching of the unchanged prefix; its 1024-token
    minimum and cache expiry are ignored). So turn *n* pays for O(n) tokens and a
    conversation of N turns for O(N²): hosted cost grows faster than linearly with length.
    Transcript text tokens of the answers are left out (small next to their audio).

    Until the context window fills: past ``context_limit_tokens`` (gpt-realtime's 32,768
    less its 4,096 output tokens) the service drops the oldest turns, here down to
    ``retention_ratio`` of the limit as its ``retention_ratio`` truncation does, and the
    cached prefix after the instructions is lost for that turn. From then on cost grows
    linearly. ``context_limit_tokens=None`` models an unbounded context.
    """

    turns_per_minute: float = 4.0
    user_share: float = 0.4
    assistant_share: float = 0.5
    instructions_tokens: int = 200
    context_limit_tokens: int | None = 28_672
    retention_ratio: float = 0.8

    @property
    def turn_s(self) -> float:
        return 60.0 / self.turns_per_minute

    def turns(self, minutes: float) -> int:
        """Whole turns in ``minutes`` (at least one: a conversation has a first answer)."""
        return max(1, math.floor(minutes * self.turns_per_minute + 1e-9))

    def tokens(self, minutes: float) -> Tokens:
        """The tokens ``minutes`` of conversation are billed for, summed over turns."""
        user = round(self.turn_s * self.user_share * INPUT_AUDIO_TOKENS_PER_S)
        answer = round(self.turn_s * self.assistant_share * OUTPUT_AUDIO_TOKENS_PER_S)
        total = Tokens()
        turns: deque[int] = deque()  # audio tokens of each earlier turn still in context
        history = 0  # their sum
        cached_audio = 0  # the part of it already sent once as input, hence in the cache
        for turn in range(self.turns(minutes)):
            if self._overflows(history + user):
                while turns and self._overflows(history + user, self.retention_ratio):
                    history -= turns.popleft()
                cached_audio = 0  # the prefix changed after the instructions
            total = total + Tokens(
                text_in=self.instructions_tokens if turn == 0 else 0,
                text_in_cached=self.instructions_tokens if turn else 0,
                audio_in=history - cached_audio + user, audio_in_cached=cached_audio,
                audio_out=answer)
            cached_audio = history + user  # everything this turn sent is cached next turn
            turns.append(user + answer)
            history += user + answer
        return total

    def _overflows(self, audio_tokens: int, ratio: float = 1.0) -> bool:
        limit = self.context_limit_tokens
        return limit is not None and self.instructions_tokens + audio_tokens > ratio * limit
