"""The remote vision backend against a local OpenAI-compatible fake endpoint that
receives the image itself; its description enters the conversation."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from openrealtime.backends.base import BackendError
from openrealtime.backends.fake import fake_backends
from openrealtime.backends.remote.openai_vlm import RemoteVision
from openrealtime.server.app import create_app
from openrealtime.server.run import running_server
from openrealtime.server.settings import Settings
from tests.images import data_url, error_dialog_png
from tests.integration.test_errors import next_event

PNG = error_dialog_png()


def vision_endpoint(received: list[dict[str, Any]]) -> Starlette:
    async def chat(request: Request) -> JSONResponse:
        body = await request.json()
        received.append(body)
        parts = body["messages"][0]["content"]
        image = next(p for p in parts if p["type"] == "image_url")["image_url"]["url"]
        if not image.startswith("data:image/png;base64,"):
            return JSONResponse({"error": {"message": "no image"}}, status_code=400)
        size = len(base64.b64decode(image.split(",", 1)[1]))
        return JSONResponse({"choices": [{"message": {"role": "assistant", "content":
            f'A dialog titled "Error" says "Could not save report.pdf: disk quota exceeded" '
            f"({size} bytes seen)."}}]})

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


async def test_remote_vision_sends_the_image_and_its_answer_reaches_the_llm() -> None:
    received: list[dict[str, Any]] = []
    async with running_server(vision_endpoint(received)) as vlm_url:
        vision = RemoteVision(vlm_url + "/v1", "qwen2-vl", api_key="k")
        backends = fake_backends()
        backends.vision = vision
        async with running_server(create_app(Settings(backend="fake"),
                                             backends=backends)) as url:
            import websockets

            ws_url = url.replace("http", "ws") + "/v1/realtime?model=gpt-realtime"
            async with websockets.connect(ws_url, max_size=None) as ws:
                await ws.recv()
                await ws.send(json.dumps({"type": "conversation.item.create", "item": {
                    "type": "message", "role": "user", "content": [
                        {"type": "input_image", "image_url": data_url(PNG)},
                        {"type": "input_text", "text": "Why does it fail?"}]}}))
                await ws.send(json.dumps({"type": "response.create",
                                          "response": {"output_modalities": ["text"]}}))
                await next_event(ws, "response.done")
        await vision.aclose()
    assert received[0]["model"] == "qwen2-vl"
    user = [m for m in backends.llm.requests[-1].messages if m["role"] == "user"][-1]
    assert "disk quota exceeded" in user["content"]
    assert f"({len(PNG)} bytes seen)" in user["content"]


async def test_remote_vision_errors_are_backend_errors() -> None:
    vision = RemoteVision("http://127.0.0.1:9/v1", "m", timeout_s=2)
    with pytest.raises(BackendError, match="unreachable"):
        await vision.describe(PNG, "image/png")
    await vision.aclose()
