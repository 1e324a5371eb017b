"""``input_image`` parts: validation errors, the session going on, and retrieval."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.images import data_url, error_dialog_png
from tests.integration.test_errors import connect, next_event, still_alive

PNG = error_dialog_png()


def image_item(url: str, event_id: str = "img") -> str:
    return json.dumps({"type": "conversation.item.create", "event_id": event_id, "item": {
        "type": "message", "role": "user", "content": [
            {"type": "input_image", "image_url": url, "detail": "high"},
            {"type": "input_text", "text": "Why does it fail?"}]}})


BAD = [
    ("https://example.com/screen.png", "base64-encoded data URL"),
    ("data:image/png,notbase64", "base64-encoded data URL"),
    ("data:text/plain;base64," + base64.b64encode(b"hello").decode(), "'text/plain'"),
    ("data:image/gif;base64,R0lGODlhAQABAAAAACw=", "'image/gif'"),
    ("data:image/png;base64,!!!not-base64!!!", "cannot be decoded"),
    ("data:image/jpeg;base64," + base64.b64encode(PNG).decode(), "not a image/jpeg image"),
    ("data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(11 * 2**20)).decode(),
     "Image too large"),
]


@pytest.mark.parametrize(("url", "words"), BAD, ids=["http", "no-base64", "text", "gif",
                                                     "bad-base64", "mismatch", "oversized"])
async def test_bad_image_gets_error_and_session_continues(server_url: str, url: str,
                                                           words: str) -> None:
    ws = await connect(server_url)
    try:
        await ws.send(image_item(url, "bad-image"))
        error = (await next_event(ws, "error"))["error"]
        assert error["code"] == "invalid_value"
        assert error["param"] == "item.content[0].image_url"
        assert error["event_id"] == "bad-image"
        assert words in error["message"]
        await still_alive(ws)
    finally:
        await ws.close()


async def test_image_item_is_kept_and_reaches_the_llm_as_text(server_url: str,
                                                                backends: Any) -> None:
    """Without a vision backend the LLM is told an image was shared (fake backends)."""
    ws = await connect(server_url)
    try:
        await ws.send(image_item(data_url(PNG)))
        done = await next_event(ws, "conversation.item.done")
        item_id = done["item"]["id"]
        await ws.send(json.dumps({"type": "conversation.item.retrieve", "item_id": item_id}))
        retrieved = (await next_event(ws, "conversation.item.retrieved"))["item"]
        assert retrieved["content"][0]["image_url"] == data_url(PNG)
        await ws.send(json.dumps({"type": "response.create",
                                  "response": {"output_modalities": ["text"]}}))
        await next_event(ws, "response.done")
        user = [m for m in backends.llm.requests[-1].messages if m["role"] == "user"][-1]
        assert "shared an image" in user["content"]
        assert "Why does it fail?" in user["content"]
    finally:
        await ws.close()
