"""Ephemeral client secrets in Redis (``--redis-url``), against a real redis-server:
shared by replicas, kept as JSON with the secret's TTL under a configurable prefix."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio
import websockets

from openrealtime.backends.base import Backends
from openrealtime.protocol.session import RealtimeSession
from openrealtime.server import secrets as sec
from openrealtime.server.app import create_app
from openrealtime.server.redis_secrets import RedisSecretStore
from openrealtime.server.run import running_server
from openrealtime.server.settings import Settings
from tests.services import free_port, redis_server, serve, stop


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex[:8]}:"


@pytest.fixture
async def raw(redis_url: str) -> AsyncIterator[redis.asyncio.Redis]:
    client = redis.asyncio.Redis.from_url(redis_url)
    yield client
    await client.aclose()


def a_session() -> RealtimeSession:
    session, _, _ = sec.parse_client_secret_request(
        {"session": {"type": "realtime", "instructions": "Speak like a pirate."}})
    return session


async def test_a_secret_is_json_under_the_prefix_with_its_ttl(
        redis_url: str, prefix: str, raw: redis.asyncio.Redis) -> None:
    store = RedisSecretStore(redis_url, prefix=prefix)
    try:
        await store.ping()
        secret = await store.issue(a_session(), 600)
        keys = [k.decode() async for k in raw.scan_iter(f"{prefix}*")]
        assert keys == [store.key(secret.value)]
        assert keys[0].startswith(f"{prefix}secret:") and secret.value not in keys[0]
        assert 598_000 < await raw.pttl(keys[0]) <= 600_000
        stored = json.loads(await raw.get(keys[0]) or b"{}")
        assert stored["session"]["instructions"] == "Speak like a pirate."
        assert stored["expires_at"] == secret.expires_at
        assert await store.lookup(secret.value) == ("valid", secret)
    finally:
        await store.aclose()


async def test_replicas_share_secrets_until_they_expire(redis_url: str, prefix: str) -> None:
    now = [10_000.0]
    a = RedisSecretStore(redis_url, prefix=prefix)
    b = RedisSecretStore(redis_url, prefix=prefix, clock=lambda: now[0])
    try:
        secret = await a.issue(a_session(), 60)
        now[0] = secret.expires_at - 1
        # not single-use: a GA secret opens sessions until it expires (reference §1.4)
        for _ in range(2):
            status, seen = await b.lookup(secret.value)
            assert status == "valid" and seen is not None
            assert seen.session.instructions == "Speak like a pirate."
        now[0] = secret.expires_at  # b's clock is ahead of Redis's TTL: expired all the same
        assert (await b.lookup(secret.value))[0] == "expired"
        assert await b.lookup("ek_never_issued") == ("unknown", None)
        other = RedisSecretStore(redis_url, prefix="another-deployment:")
        assert (await other.lookup(secret.value))[0] == "unknown"  # the prefix separates
        await other.aclose()
    finally:
        await a.aclose()
        await b.aclose()


async def test_redis_forgets_a_secret_when_it_expires(redis_url: str, prefix: str,
                                                      raw: redis.asyncio.Redis) -> None:
    store = RedisSecretStore(redis_url, prefix=prefix)
    try:
        secret = await store.issue(a_session(), 10)
        await raw.pexpire(store.key(secret.value), 50)  # (rather than wait 10 s)
        await asyncio.sleep(0.15)
        assert await store.lookup(secret.value) == ("unknown", None)
    finally:
        await store.aclose()


async def test_an_unreachable_redis_fails_the_call_not_the_server() -> None:
    store = RedisSecretStore(f"redis://127.0.0.1:{free_port()}/0")
    try:
        with pytest.raises(sec.SecretStoreError, match="does not answer"):
            await store.ping()
        with pytest.raises(sec.SecretStoreError):
            await store.issue(a_session(), 60)
        with pytest.raises(sec.SecretStoreError):
            await store.lookup("ek_x")
    finally:
        await store.aclose()


async def test_a_secret_minted_by_one_replica_opens_a_session_on_another(
        redis_url: str, prefix: str, backends: Backends) -> None:
    settings = Settings(backend="fake", redis_url=redis_url, redis_key_prefix=prefix)
    app_a = create_app(settings, backends=backends)
    app_b = create_app(settings, backends=backends)
    async with running_server(app_a) as a, running_server(app_b) as b, \
            httpx.AsyncClient() as client:
        ga = await client.post(a + "/v1/realtime/client_secrets", json={
            "session": {"type": "realtime", "instructions": "Speak like a pirate."}})
        beta = await client.post(a + "/v1/realtime/sessions",
                                 json={"instructions": "Be brief.", "temperature": 0.7})
        assert ga.status_code == beta.status_code == 200
        for value, instructions in ((ga.json()["value"], "Speak like a pirate."),
                                    (beta.json()["client_secret"]["value"], "Be brief.")):
            async with websockets.connect(
                    b.replace("http", "ws") + "/v1/realtime",
                    additional_headers={"Authorization": f"Bearer {value}"}) as ws:
                created = json.loads(await ws.recv())
            assert created["type"] == "session.created"
            assert created["session"]["instructions"] == instructions
        # B never saw these secrets in its own memory: they came from Redis
        assert isinstance(app_b.state.server.secrets, RedisSecretStore)


async def test_redis_going_down_fails_mints_and_handshakes_clearly(
        tmp_path: Path, backends: Backends) -> None:
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(redis_server(tmp_path))
        app = create_app(Settings(backend="fake", redis_url=url), backends=backends)
        async with running_server(app) as base, httpx.AsyncClient() as client:
            minted = (await client.post(base + "/v1/realtime/client_secrets", json={})).json()
            stack.close()  # Redis stops; the server goes on
            refused = await client.post(base + "/v1/realtime/client_secrets", json={})
            assert refused.status_code == 503
            assert refused.json()["error"]["code"] == "secret_store_unavailable"
            async with websockets.connect(
                    base.replace("http", "ws") + "/v1/realtime",
                    additional_headers={"Authorization": f"Bearer {minted['value']}"}) as ws:
                error = json.loads(await ws.recv())
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await ws.recv()
            assert error["type"] == "error"
            assert error["error"]["code"] == "secret_store_unavailable"
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
            # API-key sessions (here: no keys) do not need Redis
            async with websockets.connect(
                    base.replace("http", "ws") + "/v1/realtime?model=gpt-realtime") as ws:
                assert json.loads(await ws.recv())["type"] == "session.created"
            metrics = (await client.get(base + "/metrics")).text
            assert ('openrealtime_errors_total{code="secret_store_unavailable",'
                    'type="server_error"} 1.0') in metrics


def test_a_server_whose_redis_does_not_answer_does_not_start(tmp_path: Path) -> None:
    port, dead = free_port(), free_port()
    process = serve(port, tmp_path / "serve.log", "--backend", "fake",
                    "--redis-url", f"redis://127.0.0.1:{dead}/0")
    try:
        code = process.wait(30)
    finally:
        stop(process)
    log = (tmp_path / "serve.log").read_text()
    assert code != 0
    assert f"Redis at redis://127.0.0.1:{dead}/0 does not answer" in log
