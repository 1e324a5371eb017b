"""The official openai SDK pointed at a local server (only the URL changes)."""

from __future__ import annotations

from openai import AsyncOpenAI


def client(url: str) -> AsyncOpenAI:
    """``url`` is the server's ``http://host:port``."""
    return AsyncOpenAI(api_key="sk-test", base_url=url + "/v1",
                       websocket_base_url=url.replace("http", "ws") + "/v1")
