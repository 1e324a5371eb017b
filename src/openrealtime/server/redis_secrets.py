"""Ephemeral client secrets in Redis, shared by every replica (``--redis-url``).

A secret minted by one replica (``POST /v1/realtime/client_secrets`` or the beta
``/v1/realtime/sessions``) opens sessions on any other: behind a load balancer the mint
and the WebSocket seldom land on the same process. Each secret is one Redis string:

* key ``<prefix>secret:<sha256 of the ek_ value>`` (a ``KEYS``/``SCAN`` listing, a
  monitoring dump or a replica of Redis shows no usable secret);
* value: the session configuration, expiry and kind as JSON (:func:`.secrets.secret_to_json`);
* TTL: the secret's own lifetime, so Redis forgets it when it expires. A connection with
  an expired secret is then refused as an unknown key (``invalid_api_key``, "Incorrect
  API key provided") where the in-memory store says "has expired".

As on the hosted service a secret is not single-use: it opens sessions until it expires
(protocol reference §1.4, "a GA secret can open several sessions"; nothing is said of beta
secrets, which keep the same rule). Lookups still check ``expires_at`` against this
replica's clock, so a replica whose clock runs ahead refuses a little early, never late.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from ..protocol.session import RealtimeSession
from .secrets import (
    ClientSecret,
    Lookup,
    SecretStore,
    SecretStoreError,
    secret_from_json,
    secret_to_json,
)

log = logging.getLogger(__name__)
# Deadlines of one Redis command: a Redis that hangs fails a mint or a handshake in
# seconds instead of holding it.
SOCKET_TIMEOUT_S = 5.0


class RedisSecretStore(SecretStore):
    """The shared store. ``client`` is a ``redis.asyncio.Redis`` (made from ``url`` when
    not given); it is bound to the event loop that first uses it, the server's."""

    def __init__(self, url: str | None = None, *, prefix: str = "openrealtime:",
                 client: Any = None, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        if client is None:
            if url is None:
                raise ValueError("RedisSecretStore needs a url or a client")
            import redis.asyncio

            client = redis.asyncio.Redis.from_url(
                url, socket_timeout=SOCKET_TIMEOUT_S, socket_connect_timeout=SOCKET_TIMEOUT_S)
        self.client = client
        self.prefix = prefix
        self.url = url

    def key(self, value: str) -> str:
        return f"{self.prefix}secret:{hashlib.sha256(value.encode()).hexdigest()}"

    async def ping(self) -> None:
        """Check Redis answers (the server's start-up). Raises SecretStoreError."""
        from redis.exceptions import RedisError

        try:
            await self.client.ping()
        except (RedisError, OSError) as exc:
            raise SecretStoreError(f"Redis at {_safe_url(self.url)} does not answer: {exc}"
                                   ) from exc

    async def issue(self, session: RealtimeSession, ttl_s: int,
                    transcription: bool = False) -> ClientSecret:
        from redis.exceptions import RedisError

        secret = self._new(session, ttl_s, transcription)
        # ms precision: the key lives exactly as long as the secret
        ttl_ms = max(1, math.ceil((secret.expires_at - self.clock()) * 1000))
        try:
            stored = await self.client.set(self.key(secret.value), secret_to_json(secret),
                                           px=ttl_ms, nx=True)
        except (RedisError, OSError) as exc:
            log.error("client secret store: %s", exc)
            raise SecretStoreError(str(exc)) from exc
        if not stored:  # 192 random bits collided: not expected, never overwrite
            raise SecretStoreError("a client secret with this value exists")
        return secret

    async def lookup(self, value: str) -> Lookup:
        from redis.exceptions import RedisError

        try:
            text = await self.client.get(self.key(value))
        except (RedisError, OSError) as exc:
            log.error("client secret store: %s", exc)
            raise SecretStoreError(str(exc)) from exc
        if text is None:
            return "unknown", None
        try:
            secret = secret_from_json(value, text)
        except ValueError:
            log.error("client secret store: an unreadable entry under %s", self.key(value))
            return "unknown", None
        if self.clock() >= secret.expires_at:
            return "expired", secret
        return "valid", secret

    async def aclose(self) -> None:
        await self.client.aclose()


def _safe_url(url: str | None) -> str:
    """``url`` without its password (``redis://:pw@host`` → ``redis://***@host``)."""
    if url is None or "@" not in url:
        return str(url)
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
