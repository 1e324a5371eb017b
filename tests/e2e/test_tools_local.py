"""Tool calls with the real local LLM: arguments are valid JSON matching the schema
(grammar-constrained decoding), and the follow-up answer is generated from the output."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from openai import AsyncOpenAI

from openrealtime.backends.base import Backends
from openrealtime.server.app import create_app
from openrealtime.server.run import running_server
from openrealtime.server.settings import Settings

pytestmark = pytest.mark.e2e

TOOLS = [
    {"type": "function", "name": "focus_planet", "description": "Fly the camera to a planet.",
     "parameters": {"type": "object", "properties": {"planet": {
         "type": "string", "enum": ["Mercury", "Venus", "Earth", "Mars", "Jupiter",
                                    "Saturn", "Uranus", "Neptune"]}},
         "required": ["planet"], "additionalProperties": False}},
    {"type": "function", "name": "display_data", "description": "Draw a chart.",
     "parameters": {"type": "object", "properties": {
         "title": {"type": "string"},
         "chart_type": {"type": "string", "enum": ["bar", "line", "pie"]},
         "points": {"type": "array", "items": {"type": "object", "properties": {
             "x": {"type": "number"}, "y": {"type": "number"}},
             "required": ["x", "y"], "additionalProperties": False}}},
         "required": ["title", "chart_type", "points"], "additionalProperties": False}},
    {"type": "function", "name": "show_iss", "description": "Where is the ISS now?",
     "parameters": {"type": "object", "properties": {}, "additionalProperties": False}},
]
SCHEMAS = {t["name"]: t["parameters"] for t in TOOLS}
ASKS = [
    ("Show me Mars.", {"type": "function", "name": "focus_planet"}),
    ("Chart the sizes of the first three planets.", {"type": "function", "name": "display_data"}),
    ("Where is the space station right now?", "required"),
]


async def until_done(conn: Any) -> Any:
    async for event in conn:
        if event.type == "response.done":
            return event
    raise AssertionError("connection closed")


@pytest.mark.parametrize(("question", "choice"), ASKS, ids=["named", "chart", "required"])
async def test_local_llm_tool_call_is_valid(local_backends: Backends, question: str,
                                            choice: Any) -> None:
    app = create_app(Settings(), backends=local_backends)
    async with running_server(app) as url:
        client = AsyncOpenAI(api_key="x", base_url=url + "/v1",
                             websocket_base_url=url.replace("http", "ws") + "/v1")
        async with client.realtime.connect(model="gpt-realtime") as conn:
            await conn.session.update(session={
                "type": "realtime", "output_modalities": ["text"], "tools": TOOLS,
                "instructions": "You control a planetarium. Use the tools."})
            await conn.conversation.item.create(item={
                "type": "message", "role": "user",
                "content": [{"type": "input_text", "text": question}]})
            await conn.response.create(response={"tool_choice": choice})
            done = await until_done(conn)
            assert done.response.status == "completed"
            call = done.response.output[-1]
            assert call.type == "function_call"
            if isinstance(choice, dict):
                assert call.name == choice["name"]
            jsonschema.validate(json.loads(call.arguments), SCHEMAS[call.name])

            output = {"latitude": 51.5, "longitude": -0.12} if call.name == "show_iss" \
                else {"ok": True}
            await conn.conversation.item.create(item={
                "type": "function_call_output", "call_id": call.call_id,
                "output": json.dumps(output)})
            await conn.response.create(response={"tool_choice": "none"})
            answer = await until_done(conn)
            assert answer.response.status == "completed"
            assert answer.response.output[0].content[0].text.strip()
