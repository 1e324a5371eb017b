"""The OpenAI Agents SDK's realtime agent runs a tool turn against the server.

The SDK validates every server event with a strict TypeAdapter over the GA union and
logs "Failed to validate server event" for any that fails (reference §8.4): a clean
log is the check that our events match its types.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from openrealtime.backends.base import Backends

agents = pytest.importorskip("agents")
from agents import function_tool  # noqa: E402
from agents.realtime import RealtimeAgent, RealtimeRunner  # noqa: E402

ANSWER = "The station is over the Atlantic right now."
ISS_POSITION = {"latitude": 12.5, "longitude": -47.25}


def make_agent(calls: list[str]) -> RealtimeAgent[Any]:
    @function_tool
    def show_iss() -> str:
        """Show where the International Space Station is now."""
        calls.append("show_iss")
        return json.dumps(ISS_POSITION)

    @function_tool
    def focus_planet(planet: str) -> str:
        """Point the camera at a planet."""
        calls.append(f"focus_planet({planet})")
        return "ok"

    return RealtimeAgent(name="Space guide", instructions="You guide users through space.",
                         tools=[show_iss, focus_planet])


async def run_tool_turn(server_url: str, settings: dict[str, Any],
                        calls: list[str]) -> tuple[list[Any], list[dict[str, Any]]]:
    """One user message → tool call → tool output → answer. Returns (session events,
    raw server events)."""
    runner = RealtimeRunner(make_agent(calls))
    url = server_url.replace("http", "ws") + "/v1/realtime?model=gpt-realtime"
    session = await runner.run(model_config={
        "url": url, "api_key": "sk-test", "initial_model_settings": settings})
    events: list[Any] = []
    raw: list[dict[str, Any]] = []
    async with session:
        await session.send_message("Where is the space station?")
        turns = 0
        async with asyncio.timeout(10):
            async for event in session:
                events.append(event)
                if event.type == "raw_model_event" and event.data.type == "raw_server_event":
                    raw.append(event.data.data)
                if event.type == "agent_end":
                    turns += 1
                    if turns == 2:  # the tool-call response, then the answer
                        break
                if event.type == "error":
                    break
    return events, raw


@pytest.mark.parametrize("modalities", [["audio"], ["text"]])
async def test_agents_sdk_runs_the_tool_and_answers(
        server_url: str, backends: Backends, caplog: pytest.LogCaptureFixture,
        modalities: list[str]) -> None:
    llm: Any = backends.llm
    llm.tool_call = ("show_iss", {})
    llm.reply = ANSWER
    calls: list[str] = []
    caplog.set_level(logging.DEBUG, logger="openai.agents")
    events, raw = await run_tool_turn(server_url, {"output_modalities": modalities}, calls)

    problems = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert not problems, problems
    assert not any("Failed to validate" in r.getMessage() for r in caplog.records)
    errors = [e for e in events if e.type == "error"]
    assert not errors, errors
    assert not [e for e in raw if e.get("type") == "error"], raw

    assert calls == ["show_iss"]
    types = [e.type for e in events]
    assert types.index("tool_start") < types.index("tool_end")
    tool_end = next(e for e in events if e.type == "tool_end")
    assert json.loads(tool_end.output) == ISS_POSITION

    # The runner sent the output and asked for the answer itself.
    assert len(llm.requests) == 2
    messages = llm.requests[-1].messages
    tool_messages = [m for m in messages if m["role"] == "tool"]
    assert [json.loads(m["content"]) for m in tool_messages] == [ISS_POSITION]
    assert tool_messages[0]["tool_call_id"] == "call_fake0001"
    assert [t.name for t in llm.requests[0].tools] == ["show_iss", "focus_planet"]
    assert llm.requests[0].messages[0] == {"role": "system",
                                           "content": "You guide users through space."}

    dones = [e for e in raw if e["type"] == "response.done"]
    assert [d["response"]["status"] for d in dones] == ["completed", "completed"]
    assert dones[0]["response"]["output"][0]["type"] == "function_call"
    answer = dones[1]["response"]["output"][0]["content"][0]
    assert answer.get("transcript", answer.get("text")) == ANSWER
    assert "response.function_call_arguments.done" in [e["type"] for e in raw]
