"""Ephemeral client secrets (``ek_...``): short-lived keys a browser may hold.

A page must not carry the server's API key. It asks its own backend (here: this server,
``POST /v1/realtime/client_secrets``, or the beta ``POST /v1/realtime/sessions``) for a
secret bound to a session configuration, and opens the WebSocket with it.

Reference rules (protocol reference §1.4):

* GA: ``{"expires_after": {"anchor": "created_at", "seconds": 10..7200}, "session": {...}}``;
  default 600 s. Answer ``{"value": "ek_...", "expires_at", "session": <full effective
  session>}``. Unknown session fields and two output modalities are HTTP 400.
* Beta: the body is a beta session (+ optional ``client_secret.expires_after``), default
  TTL one minute; the answer is the beta session with ``client_secret: {value, expires_at}``.
* "A GA secret can open several sessions until it expires; an open session outlives the
  secret."

The store is in memory, per server process (:class:`MemorySecretStore`: expired secrets are
remembered for a while so that a late connection hears "expired" rather than "unknown";
bounded), or in Redis, shared by replicas (``redis_secrets.py``, ``--redis-url``).
"""

from __future__ import annotations

import abc
import json
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from ..protocol.dialect import beta_session_to_ga, ga_session_to_beta
from ..protocol.errors import ProtocolError, invalid_value, unknown_parameter
from ..protocol.session import (
    RealtimeSession,
    apply_transcription_update,
    apply_update,
    transcription_config,
    transcription_view,
)

SECRET_PREFIX = "ek_"
MIN_TTL_S = 10
MAX_TTL_S = 7200
GA_DEFAULT_TTL_S = 600
BETA_DEFAULT_TTL_S = 60
# How long an expired secret is still recognised (to say "expired"), and how many
# secrets the store keeps at most (oldest dropped first).
REMEMBER_EXPIRED_S = 3600
MAX_SECRETS = 10_000


@dataclass(frozen=True)
class ClientSecret:
    value: str
    expires_at: float  # unix seconds
    session: RealtimeSession  # the template each connection starts from
    transcription: bool = False  # its sessions are transcription sessions


Lookup = tuple[Literal["valid", "expired", "unknown"], ClientSecret | None]


class SecretStore(abc.ABC):
    """Issues and checks ``ek_`` secrets: the interface of the two stores.

    :class:`MemorySecretStore` (the default) keeps them in this process;
    :class:`.redis_secrets.RedisSecretStore` keeps them in Redis, shared by every replica
    behind a load balancer (a secret minted by one is accepted by the others).
    ``clock`` (unix seconds) is injectable for tests.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock

    def _new(self, session: RealtimeSession, ttl_s: int, transcription: bool) -> ClientSecret:
        value = SECRET_PREFIX + secrets.token_urlsafe(24)
        return ClientSecret(value, self.clock() + ttl_s, session, transcription)

    @abc.abstractmethod
    async def issue(self, session: RealtimeSession, ttl_s: int,
                    transcription: bool = False) -> ClientSecret:
        """A new secret for ``session``, valid ``ttl_s`` seconds. Raises
        :class:`SecretStoreError` when the store cannot be reached."""

    @abc.abstractmethod
    async def lookup(self, value: str) -> Lookup:
        """Whether ``value`` is a valid secret (and which). Reusable until it expires (GA:
        "a secret can open several sessions"). Raises :class:`SecretStoreError`."""

    async def ping(self) -> None:
        """Check the store answers (the server's start-up). Raises SecretStoreError."""
        return None  # (nothing to check or close in memory)

    async def aclose(self) -> None:
        """Release connections (the server's shutdown)."""
        return None  # (nothing to check or close in memory)


class SecretStoreError(Exception):
    """The store cannot be reached (Redis down): the request fails, the server goes on."""


class MemorySecretStore(SecretStore):
    """Secrets in this process's memory: a restart forgets them, other replicas never
    see them. Expired secrets are remembered for a while (to say "expired"); bounded."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        self._secrets: OrderedDict[str, ClientSecret] = OrderedDict()

    async def issue(self, session: RealtimeSession, ttl_s: int,
                    transcription: bool = False) -> ClientSecret:
        self._purge()
        secret = self._new(session, ttl_s, transcription)
        self._secrets[secret.value] = secret
        return secret

    async def lookup(self, value: str) -> Lookup:
        secret = self._secrets.get(value)
        if secret is None:
            return "unknown", None
        if self.clock() >= secret.expires_at:
            return "expired", secret
        return "valid", secret

    def _purge(self) -> None:
        forget_before = self.clock() - REMEMBER_EXPIRED_S
        for value in [v for v, s in self._secrets.items() if s.expires_at < forget_before]:
            del self._secrets[value]
        while len(self._secrets) >= MAX_SECRETS:
            self._secrets.popitem(last=False)


def secret_to_json(secret: ClientSecret) -> str:
    """What a shared store keeps of a secret: its session configuration as JSON (with the
    beta temperature, which the GA dump leaves out), expiry and kind."""
    return json.dumps({"expires_at": secret.expires_at, "transcription": secret.transcription,
                       "temperature": secret.session.temperature,
                       "session": secret.session.model_dump(mode="json")},
                      separators=(",", ":"))


def secret_from_json(value: str, text: str | bytes) -> ClientSecret:
    """The secret :func:`secret_to_json` wrote. Raises ValueError if it is not one."""
    try:
        data = json.loads(text)
        session = RealtimeSession.model_validate(
            {**data["session"], "temperature": data.get("temperature", 0.8)})
        return ClientSecret(value, float(data["expires_at"]), session,
                            bool(data.get("transcription", False)))
    except (KeyError, TypeError, ValidationError) as exc:
        raise ValueError(f"not a stored client secret: {exc}") from exc


def session_for_connection(secret: ClientSecret) -> RealtimeSession:
    """A fresh session (own id and expiry) configured like the secret's template."""
    fresh = RealtimeSession(model=secret.session.model)
    return secret.session.model_copy(update={"id": fresh.id, "expires_at": fresh.expires_at})


# ------------------------------------------------------------------ request parsing


def ttl_from(expires_after: Any, param: str, default_s: int) -> int:
    """Validate ``expires_after`` (``{"anchor": "created_at", "seconds": n}``)."""
    if expires_after is None:
        return default_s
    if not isinstance(expires_after, dict):
        raise ProtocolError(f"Invalid type for '{param}': expected an object.",
                            code="invalid_type", param=param)
    for key in expires_after:
        if key not in ("anchor", "seconds"):
            raise unknown_parameter(f"{param}.{key}")
    anchor = expires_after.get("anchor", "created_at")
    if anchor != "created_at":
        raise invalid_value(anchor, ["created_at"], f"{param}.anchor")
    seconds = expires_after.get("seconds", default_s)
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        raise ProtocolError(f"Invalid type for '{param}.seconds': expected an integer.",
                            code="invalid_type", param=f"{param}.seconds")
    if seconds < MIN_TTL_S:
        raise ProtocolError(
            f"Invalid '{param}.seconds': integer below minimum value. Expected a value >= "
            f"{MIN_TTL_S}, but got {seconds} instead.",
            code="integer_below_min_value", param=f"{param}.seconds")
    if seconds > MAX_TTL_S:
        raise ProtocolError(
            f"Invalid '{param}.seconds': integer above maximum value. Expected a value <= "
            f"{MAX_TTL_S}, but got {seconds} instead.",
            code="integer_above_max_value", param=f"{param}.seconds")
    return seconds


def _ga_session(update: Any, *, allow_temperature: bool = False) -> RealtimeSession:
    """The full effective session a GA ``session`` object describes (defaults elsewhere)."""
    if update is None:
        update = {"type": "realtime"}
    if isinstance(update, dict) and update.get("type") == "transcription":
        return apply_transcription_update(transcription_config(RealtimeSession()), update)
    model = update.get("model") if isinstance(update, dict) else None
    base = RealtimeSession(model=model if isinstance(model, str) and model else "gpt-realtime")
    return apply_update(base, update, voice_locked=False, allow_temperature=allow_temperature)


def parse_client_secret_request(body: Any) -> tuple[RealtimeSession, int, bool]:
    """GA ``POST /v1/realtime/client_secrets`` body → (session, ttl, a transcription
    session?). Raises ProtocolError."""
    if not isinstance(body, dict):
        raise ProtocolError("Invalid type for body: expected an object.", code="invalid_type")
    for key in body:
        if key not in ("expires_after", "session"):
            raise unknown_parameter(key)
    ttl_s = ttl_from(body.get("expires_after"), "expires_after", GA_DEFAULT_TTL_S)
    update = body.get("session")
    transcription = isinstance(update, dict) and update.get("type") == "transcription"
    return _ga_session(update), ttl_s, transcription


def parse_beta_session_request(body: Any) -> tuple[RealtimeSession, int, bool]:
    """Beta ``POST /v1/realtime/sessions`` body → (session, ttl). Raises ProtocolError."""
    if not isinstance(body, dict):
        raise ProtocolError("Invalid type for body: expected an object.", code="invalid_type")
    secret = body.get("client_secret")
    expires_after = secret.get("expires_after") if isinstance(secret, dict) else None
    ttl_s = ttl_from(expires_after, "client_secret.expires_after", BETA_DEFAULT_TTL_S)
    update = beta_session_to_ga({k: v for k, v in body.items() if k != "client_secret"})
    try:
        return _ga_session(update, allow_temperature=True), ttl_s, False
    except ProtocolError as exc:
        # The beta body is the session itself: its fields have no "session." prefix.
        if exc.param and exc.param.startswith("session."):
            exc.param = exc.param.removeprefix("session.")
            exc.message = exc.message.replace("'session.", "'")
        raise


def client_secret_response(secret: ClientSecret) -> dict[str, Any]:
    shown = transcription_view(secret.session) if secret.transcription else secret.session
    return {"value": secret.value, "expires_at": int(secret.expires_at),
            "session": shown.model_dump(mode="json")}


def beta_session_response(secret: ClientSecret) -> dict[str, Any]:
    session = secret.session
    beta = ga_session_to_beta(session.model_dump(mode="json"), session.temperature)
    beta["client_secret"] = {"value": secret.value, "expires_at": int(secret.expires_at)}
    return beta
