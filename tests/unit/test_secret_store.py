"""The client secret store interface: the in-memory store, and the JSON a shared store
keeps (the Redis store itself: tests/integration/test_redis_secrets.py)."""

from __future__ import annotations

import json

import pytest

from openrealtime.protocol.session import RealtimeSession
from openrealtime.server import secrets as sec
from openrealtime.server.settings import Settings


def parsed(kind: str) -> tuple[RealtimeSession, int, bool]:
    if kind == "ga":
        return sec.parse_client_secret_request({"session": {
            "type": "realtime", "instructions": "Answer in French.",
            "audio": {"output": {"voice": "marin"}}, "max_output_tokens": 200,
            "tools": [{"type": "function", "name": "lookup", "description": "Find it.",
                       "parameters": {"type": "object", "properties": {}}}]}})
    if kind == "transcription":
        return sec.parse_client_secret_request({"session": {"type": "transcription"}})
    return sec.parse_beta_session_request({"voice": "verse", "temperature": 0.7,
                                           "instructions": "Be brief."})


@pytest.mark.parametrize("kind", ["ga", "transcription", "beta"])
def test_a_stored_secret_reads_back_the_same(kind: str) -> None:
    session, _, transcription = parsed(kind)
    secret = sec.ClientSecret("ek_x", 1_800_000_000.5, session, transcription)
    text = sec.secret_to_json(secret)
    assert json.loads(text)["session"]["object"] == "realtime.session"
    back = sec.secret_from_json("ek_x", text.encode())
    assert back == secret
    # the beta temperature is not part of the GA dump, and survives anyway
    assert back.session.temperature == secret.session.temperature
    assert sec.client_secret_response(back) == sec.client_secret_response(secret)
    assert sec.beta_session_response(back) == sec.beta_session_response(secret)


def test_garbage_is_not_a_secret() -> None:
    for text in ("{}", "[]", '{"expires_at": 1, "session": {"type": "nope"}}'):
        with pytest.raises(ValueError, match="not a stored client secret"):
            sec.secret_from_json("ek_x", text)


async def test_memory_store_keeps_todays_rules() -> None:
    now = [1000.0]
    store = sec.MemorySecretStore(clock=lambda: now[0])
    assert isinstance(store, sec.SecretStore)
    session, _, _ = parsed("ga")
    secret = await store.issue(session, 60)
    assert secret.value.startswith("ek_") and secret.expires_at == 1060.0
    # reusable until it expires (protocol reference §1.4)
    assert await store.lookup(secret.value) == ("valid", secret)
    assert await store.lookup(secret.value) == ("valid", secret)
    now[0] = 1060.0
    assert await store.lookup(secret.value) == ("expired", secret)
    assert await store.lookup("ek_unknown") == ("unknown", None)
    await store.ping()
    await store.aclose()


def test_the_store_follows_the_settings() -> None:
    from openrealtime.server.app import RealtimeServer
    from openrealtime.server.redis_secrets import RedisSecretStore

    assert isinstance(RealtimeServer(Settings(backend="fake")).secrets, sec.MemorySecretStore)
    server = RealtimeServer(Settings(backend="fake", redis_url="redis://127.0.0.1:1/0",
                                     redis_key_prefix="or-test:"))
    assert isinstance(server.secrets, RedisSecretStore)
    assert server.secrets.key("ek_abc").startswith("or-test:secret:")
    assert "ek_abc" not in server.secrets.key("ek_abc")  # a listing shows no usable secret
