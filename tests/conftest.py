"""Shared fixtures: a leak check on every async test, servers with fake backends."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator

import pytest

from openrealtime.backends.base import Backends
from openrealtime.backends.fake import fake_backends
from openrealtime.server.app import create_app
from openrealtime.server.run import running_server
from openrealtime.server.settings import Settings

# Every test server keeps /v1/videos jobs in a folder of this run, never the user's own
# (a server resumes the jobs it finds in its videos_dir).
os.environ.setdefault("OPENREALTIME_VIDEOS_DIR", tempfile.mkdtemp(prefix="openrealtime-videos-"))


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
