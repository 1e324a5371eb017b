"""Where a realtime client puts its key, in the order the reference lists them.

Only headers and the browser subprotocol: Azure's fallback of a key in the query string
(``?api-key=``) is refused (:func:`query_key_error`), because query strings are written to
access logs, proxies' included.
"""

from __future__ import annotations

from collections.abc import Mapping

INSECURE_PREFIX = "openai-insecure-api-key."


def presented_key(headers: Mapping[str, str], subprotocols: list[str]) -> str | None:
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    if headers.get("api-key"):
        return headers["api-key"].strip()
    for proto in subprotocols:
        if proto.startswith(INSECURE_PREFIX):
            return proto[len(INSECURE_PREFIX):]
    return None


def query_key_error() -> dict[str, object]:
    """The ``error`` for a key in the query string (close 3000, like a bad key)."""
    return {"type": "invalid_request_error", "code": "api_key_in_query",
            "message": "API keys are not accepted in the URL (query strings are logged). "
            "Send it in the Authorization header (Bearer), the api-key header, or the "
            "'openai-insecure-api-key.<key>' WebSocket subprotocol.",
            "param": "api-key", "event_id": None}


def auth_error(key: str | None, keys: frozenset[str]) -> dict[str, object] | None:
    """None when allowed; else the ``error`` payload the hosted service sends."""
    if not keys:
        return None
    if key is None:
        return {"type": "invalid_request_error", "code": None,
                "message": "Missing bearer or basic authentication in header",
                "param": None, "event_id": None}
    if key not in keys:
        return {"type": "invalid_request_error", "code": "invalid_api_key",
                "message": f"Incorrect API key provided: {masked(key)}.",
                "param": None, "event_id": None}
    return None


def secret_error(key: str, status: str) -> dict[str, object]:
    """The ``error`` payload for an ``ek_`` secret that is expired or was never issued.

    Refused like a bad key (the reference's ``invalid_api_key``, close 3000), with a
    message that tells the page what to do.
    """
    message = (f"Ephemeral key {masked(key)} has expired; request a new client secret."
               if status == "expired" else f"Incorrect API key provided: {masked(key)}.")
    return {"type": "invalid_request_error", "code": "invalid_api_key", "message": message,
            "param": None, "event_id": None}


def rest_key(headers: Mapping[str, str]) -> str | None:
    """The key of a REST call: ``Authorization: Bearer`` or Azure's ``api-key``."""
    return presented_key(headers, [])


def masked(key: str) -> str:
    return key[:3] + "*" * max(0, len(key) - 7) + key[-4:] if len(key) > 8 else "***"
