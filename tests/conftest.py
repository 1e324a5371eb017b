"""Shared fixtures: a leak check on every async test, servers with fake backends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from openrealtime.backends.base import Backends
from openrealtime.backends.fake import fake_backends
from openrealtime.server.app import create_app
from openrealtime.server.run import running_server
from openrealtime.server.settings import Settings


@pytest.fixture(autouse=True)
async def no_leaked_tasks() -> AsyncIterator[None]:
    """Fail a test that leaves asyncio tasks running behind it."""
    before = asyncio.all_tasks()
    yield
    current = asyncio.current_task()
    for _ in range(50):  # let cancelled tasks finish unwinding
        leaked = [t for t in asyncio.all_tasks() - before if t is not current and not t.done()]
        if not leaked:
            return
        await asyncio.sleep(0.02)
    pytest.fail(f"leaked tasks: {leaked}")


@pytest.fixture
def backends() -> Backends:
    return fake_backends()


@pytest.fixture
async def server_url(backends: Backends) -> AsyncIterator[str]:
    app = create_app(Settings(backend="fake"), backends=backends)
    async with running_server(app) as url:
        yield url
