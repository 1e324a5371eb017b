"""Tool calls with the real local LLM: arguments are valid JSON matching the schema
(grammar-constrained decoding), and the follow-up answer is generated from the output.

Sampling is seeded (``LLMRequest.seed``) so each test sees the same answers on every run:
unseeded, the answer depended on how many generations ran before it in the session.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import jsonschema
import pytest

from openrealtime.backends.base import Backends, LLMChunk, LLMRequest
from openrealtime.server.app import create_app
from openrealtime.server.run import running_server
from openrealtime.server.settings import Settings
from tests.sdk import client

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


SEED = 7


class SeededLLM:
    """The real LLM with every request's sampling seeded: the same answer on every run."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.context_tokens = getattr(inner, "context_tokens", None)

    def count_tokens(self, text: str) -> int:
        return int(self.inner.count_tokens(text))

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        # aclosing: when the runtime stops reading, the real stream stops now, not at GC
        async with aclosing(self.inner.stream(dataclasses.replace(request, seed=SEED))) as chunks:
            async for chunk in chunks:
                yield chunk


@pytest.fixture
def seeded(local_backends: Backends) -> Backends:
    return dataclasses.replace(local_backends, llm=SeededLLM(local_backends.llm))


async def until_done(conn: Any, events: list[Any] | None = None) -> Any:
    async for event in conn:
        if events is not None:
            events.append(event)
        if event.type == "response.done":
            return event
    raise AssertionError("connection closed")


async def ask_planetarium(conn: Any, modality: str, question: str, choice: Any) -> None:
    """The planetarium session with TOOLS, one typed question, a response with ``choice``."""
    await conn.session.update(session={
        "type": "realtime", "output_modalities": [modality], "tools": TOOLS,
        "instructions": "You control a planetarium. Use the tools."})
    await conn.conversation.item.create(item={
        "type": "message", "role": "user",
        "content": [{"type": "input_text", "text": question}]})
    await conn.response.create(response={"tool_choice": choice})


@pytest.mark.parametrize(("question", "choice"), ASKS, ids=["named", "chart", "required"])
async def test_local_llm_tool_call_is_valid(seeded: Backends, question: str,
                                            choice: Any) -> None:
    app = create_app(Settings(), backends=seeded)
    async with running_server(app) as url:
        async with client(url).realtime.connect(model="gpt-realtime") as conn:
            await ask_planetarium(conn, "text", question, choice)
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


async def test_local_llm_speaks_after_a_tool_result(seeded: Backends) -> None:
    """A forced call, its output, then a plain ``response.create`` (the session's "auto"):
    the voice answers in words — it neither goes silent nor calls the tool again."""
    app = create_app(Settings(), backends=seeded)
    async with running_server(app) as url:
        async with client(url).realtime.connect(model="gpt-realtime") as conn:
            await ask_planetarium(conn, "audio", "Where is the space station?", "required")
            call = (await until_done(conn)).response.output[-1]
            assert call.type == "function_call"
            await conn.conversation.item.create(item={
                "type": "function_call_output", "call_id": call.call_id,
                "output": json.dumps({"latitude": 51.5, "longitude": -0.12})})
            await conn.response.create()
            events: list[Any] = []
            answer = await until_done(conn, events)
            assert answer.response.status == "completed", answer.response.status_details
            assert [item.type for item in answer.response.output] == ["message"]
            transcript = answer.response.output[0].content[0].transcript
            assert transcript and transcript.strip()
            assert any(e.type == "response.output_audio.delta" for e in events)
