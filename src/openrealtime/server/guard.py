"""The server edge's admission rules: session caps, the Origin allow-list, REST bodies.

Each rule refuses before the work it guards is done: a WebSocket over a cap or from a
foreign page gets a plain HTTP answer instead of the upgrade, and a REST body is read
against its cap (a 40 MB POST is never held in memory). :class:`Guard` counts every
refusal by reason; ``/healthz`` shows the counts.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request

from .settings import Settings

# Browsers send these for pages on the operator's own machine (any port: dev servers).
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


@dataclass(frozen=True)
class Refusal:
    """Why a request is turned away: its counter, HTTP status and OpenAI-shaped error."""

    reason: str  # the /healthz counter
    status: int
    code: str
    message: str
    type: str = "invalid_request_error"

    def error(self) -> dict[str, Any]:
        return {"type": self.type, "code": self.code, "message": self.message,
                "param": None, "event_id": None}


class Guard:
    """Counts open sessions (in all, and per client address) and every refusal.

    :meth:`admit` and :meth:`release` run on the event loop with no ``await`` between
    the check and the count, so two handshakes cannot both take the last place.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.origins = settings.origins
        self.open = 0
        self.per_client: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()

    def admit(self, client: str) -> Refusal | None:
        """Take a session place for ``client``, or say why there is none."""
        s = self.settings
        if self.open >= s.max_sessions:
            return self.refuse(Refusal(
                "max_sessions", 503, "server_at_capacity",
                f"The server is at capacity ({s.max_sessions} sessions); try again later.",
                type="server_error"))
        if self.per_client[client] >= s.max_connections_per_client:
            return self.refuse(Refusal(
                "max_connections_per_client", 429, "too_many_connections",
                f"Too many sessions from your address: at most "
                f"{s.max_connections_per_client} may be open at once."))
        self.open += 1
        self.per_client[client] += 1
        return None

    def release(self, client: str) -> None:
        self.open -= 1
        self.per_client[client] -= 1
        if self.per_client[client] <= 0:
            del self.per_client[client]

    def check_origin(self, origin: str | None, host: str | None) -> Refusal | None:
        """None when a request with this ``Origin`` (and ``Host``) header may go on."""
        if origin_allowed(origin, host, self.origins):
            return None
        return self.refuse(Refusal(
            "origin", 403, "origin_not_allowed",
            f"Origin {str(origin)[:200]!r} is not allowed to use this server; the operator can add "
            "it to OPENREALTIME_ALLOWED_ORIGINS."))

    def refuse(self, refusal: Refusal) -> Refusal:
        self.count(refusal.reason)
        return refusal

    def count(self, reason: str) -> None:
        """Count one refusal (also of those decided elsewhere: frames, head timeouts)."""
        self.refused[reason] += 1

    def counters(self) -> dict[str, Any]:
        """What ``/healthz`` shows under ``limits``."""
        s = self.settings
        return {"sessions": self.open, "max_sessions": s.max_sessions,
                "clients": len(self.per_client), "refused": dict(sorted(self.refused.items()))}


def origin_allowed(origin: str | None, host: str | None, allowed: frozenset[str]) -> bool:
    """The ``Origin`` rule: absent (not a browser), listed, ``*``, loopback, same origin.

    Browsers send ``Origin`` on every WebSocket handshake and cross-origin POST, so a page
    on another site cannot leave it out; SDKs and curl send none and are let through (API
    keys, when configured, still apply to them).
    """
    if origin is None or "*" in allowed:
        return True
    origin = origin.strip().lower().rstrip("/")
    if origin in allowed:
        return True
    try:
        parts = urlsplit(origin)
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:  # a port that is not a number
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False  # "null" (sandboxed frames, file:// pages), extensions' schemes
    if parts.hostname in LOOPBACK_HOSTS:
        return True
    if not host:
        return False
    try:
        target = urlsplit("//" + host.strip().lower())
        target_port = target.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        return False
    return (parts.hostname, port) == (target.hostname, target_port)


class BodyTooLarge(Exception):
    pass


async def read_body(request: Request, max_bytes: int, timeout_s: float) -> bytes:
    """The request body, read against ``max_bytes`` and ``timeout_s``.

    Raises :class:`BodyTooLarge` as soon as the declared length or the bytes received
    pass the cap (nothing more is read), ``TimeoutError`` when the client is too slow.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async with asyncio.timeout(timeout_s), contextlib.aclosing(request.stream()) as stream:
        async for chunk in stream:
            size += len(chunk)
            if size > max_bytes:
                raise BodyTooLarge
            chunks.append(chunk)
    return b"".join(chunks)
