"""Server-side identifiers shaped like the hosted service's (``event_`` + 21 base62 chars)."""

from __future__ import annotations

import random

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Identifiers are not secrets; a fast PRNG seeded from the OS keeps event ids cheap
# on the audio hot path (one id per audio delta).
_rng = random.Random()


def new_id(prefix: str) -> str:
    return prefix + "_" + "".join(_rng.choices(_ALPHABET, k=21))


def event_id() -> str:
    return new_id("event")


def item_id() -> str:
    return new_id("item")


def response_id() -> str:
    return new_id("resp")


def call_id() -> str:
    return new_id("call")
