"""The official openai SDK pointed at a local server (only the URL changes)."""

from __future__ import annotations

import asyncio
from typing import Any

from openai import AsyncOpenAI


def client(url: str) -> AsyncOpenAI:
    """``url`` is the server's ``http://host:port``."""
    return AsyncOpenAI(api_key="sk-test", base_url=url + "/v1",
                       websocket_base_url=url.replace("http", "ws") + "/v1")


async def until(conn: Any, kind: str, events: list[Any] | None = None,
                within: float = 10.0) -> Any:
    """Read events (appending them to ``events``) up to the first of type ``kind``."""
    seen: list[Any] = [] if events is None else events
    async with asyncio.timeout(within):
        async for event in conn:
            seen.append(event)
            if event.type == kind:
                return event
    raise AssertionError(f"connection closed before {kind}: {[e.type for e in seen]}")
