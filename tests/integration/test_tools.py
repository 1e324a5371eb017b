"""Function calling through the official openai SDK (GA and beta), fake backends.

Reference §3.2 (iii): the function call item's lifecycle, the client's
``function_call_output`` + ``response.create``, and what reaches the LLM.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from openrealtime.backends.base import Backends
from tests.sdk import client
from tests.sdk import until as read_until

TOOLS: list[dict[str, Any]] = [
    {"type": "function", "name": "focus_planet", "description": "Point the camera at a planet.",
     "parameters": {"type": "object", "properties": {"planet": {"type": "string"}},
                    "required": ["planet"]}},
    {"type": "function", "name": "display_data", "description": "Show a chart.",
     "parameters": {"type": "object", "properties": {
         "title": {"type": "string"},
         "chart_type": {"type": "string", "enum": ["bar", "line", "pie"]},
         "points": {"type": "array", "items": {
             "type": "object", "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
             "required": ["x", "y"]}}},
         "required": ["title", "chart_type", "points"]}},
    {"type": "function", "name": "show_iss", "description": "Show where the ISS is now.",
     "parameters": {"type": "object", "properties": {}}},
]
ISS_POSITION = json.dumps({"latitude": 12.5, "longitude": -47.25})
ANSWER = "The station is over the Atlantic right now."

GA_TOOL_TURN = [
    "response.created",
    "response.output_item.added",
    "conversation.item.added",
    "response.function_call_arguments.delta",
    "response.function_call_arguments.done",
    "conversation.item.done",
    "response.output_item.done",
    "response.done",
    "rate_limits.updated",
]
BETA_TOOL_TURN = [
    "response.created",
    "rate_limits.updated",
    "response.output_item.added",
    "conversation.item.created",
    "response.function_call_arguments.delta",
    "response.function_call_arguments.done",
    "response.output_item.done",
    "response.done",
]


def collapse(types: list[str]) -> list[str]:
    """Runs of the same delta type count once (``delta*`` in the reference)."""
    out: list[str] = []
    for t in types:
        if not (out and out[-1] == t and t.endswith(".delta")):
            out.append(t)
    return out


async def recv(conn: Any, within: float = 5.0) -> Any:
    async with asyncio.timeout(within):
        return await conn.recv()


async def until(conn: Any, kind: str, within: float = 5.0) -> list[Any]:
    """Events up to and including the first of type ``kind``."""
    events: list[Any] = []
    await read_until(conn, kind, events, within)
    return events


async def ga_setup(conn: Any, **session: Any) -> None:
    assert (await recv(conn)).type == "session.created"
    await conn.session.update(session={"type": "realtime", "output_modalities": ["text"],
                                       "tools": TOOLS, **session})
    updated = await recv(conn)
    assert updated.type == "session.updated", updated
    assert [t.name for t in updated.session.tools] == ["focus_planet", "display_data", "show_iss"]


async def ask(conn: Any, text: str) -> None:
    await conn.conversation.item.create(item={
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})
    assert [e.type for e in await until(conn, "conversation.item.done")] == [
        "conversation.item.added", "conversation.item.done"]


async def test_ga_tool_call_turn(server_url: str, backends: Backends) -> None:
    llm: Any = backends.llm
    llm.tool_call = ("show_iss", {})
    llm.reply = ANSWER
    async with client(server_url).realtime.connect(model="gpt-realtime") as conn:
        await ga_setup(conn)
        await ask(conn, "Where is the space station?")
        await conn.response.create()
        events = await until(conn, "response.done")
        events.append(await recv(conn))
        types = [e.type for e in events]
        assert collapse(types) == GA_TOOL_TURN, types
        by_type = {e.type: e for e in events}

        added = by_type["response.output_item.added"].item
        assert (added.type, added.status, added.name, added.arguments) == (
            "function_call", "in_progress", "show_iss", "")
        call_id, item_id = added.call_id, added.id
        assert call_id and item_id
        conv_added = by_type["conversation.item.added"]
        assert conv_added.item.id == item_id and conv_added.item.status == "in_progress"
        deltas = [e for e in events if e.type == "response.function_call_arguments.delta"]
        assert "".join(d.delta for d in deltas) == "{}"
        assert all(d.call_id == call_id and d.item_id == item_id for d in deltas)
        args_done = by_type["response.function_call_arguments.done"]
        assert (args_done.name, args_done.arguments, args_done.call_id, args_done.item_id) == (
            "show_iss", "{}", call_id, item_id)
        for kind in ("conversation.item.done", "response.output_item.done"):
            item = by_type[kind].item
            assert (item.id, item.status, item.arguments) == (item_id, "completed", "{}"), kind
        done = by_type["response.done"].response
        assert done.status == "completed" and done.status_details is None
        assert [(o.type, o.id, o.status, o.call_id, o.name) for o in done.output] == [
            ("function_call", item_id, "completed", call_id, "show_iss")]
        assert done.conversation_id is not None

        request = llm.requests[-1]
        assert [t.name for t in request.tools] == ["focus_planet", "display_data", "show_iss"]
        assert request.tools[1].parameters == TOOLS[1]["parameters"]
        assert request.tool_choice == "auto"

        # The client runs the tool and hands back its result.
        await conn.conversation.item.create(item={
            "type": "function_call_output", "call_id": call_id, "output": ISS_POSITION})
        out_events = await until(conn, "conversation.item.done")
        assert [e.type for e in out_events] == ["conversation.item.added",
                                                "conversation.item.done"]
        for e in out_events:
            assert e.previous_item_id == item_id
            assert (e.item.type, e.item.call_id, e.item.output) == (
                "function_call_output", call_id, ISS_POSITION)

        # The output alone starts nothing: the client asks for the answer.
        await conn.response.create()
        answer = await until(conn, "response.done")
        final = answer[-1].response
        assert final.status == "completed"
        assert final.output[0].type == "message"
        assert final.output[0].content[0].text == ANSWER
        assert not any(e.type.startswith("response.function_call") for e in answer)

    messages = llm.requests[-1].messages
    assert len(llm.requests) == 2
    call_index = next(i for i, m in enumerate(messages) if m.get("tool_calls"))
    assert messages[call_index] == {"role": "assistant", "content": None, "tool_calls": [{
        "id": call_id, "type": "function",
        "function": {"name": "show_iss", "arguments": "{}"}}]}
    assert messages[call_index + 1] == {"role": "tool", "tool_call_id": call_id,
                                        "content": ISS_POSITION}
    assert messages[call_index - 1] == {"role": "user", "content": "Where is the space station?"}


async def response_request(conn: Any, llm: Any, **response: Any) -> Any:
    """Run one response with these params; return (LLM request, response.done)."""
    await conn.response.create(response=response)
    events = await until(conn, "response.done")
    return llm.requests[-1], events[-1].response


async def test_tool_choice_reaches_the_llm(server_url: str, backends: Backends) -> None:
    llm: Any = backends.llm
    async with client(server_url).realtime.connect(model="gpt-realtime") as conn:
        await ga_setup(conn, tool_choice="required")
        await ask(conn, "Show me Mars.")

        request, _ = await response_request(conn, llm)
        assert request.tool_choice == "required"

        llm.tool_call = ("focus_planet", {"planet": "Mars"})
        request, done = await response_request(
            conn, llm, tool_choice={"type": "function", "name": "focus_planet"})
        assert request.tool_choice == {"type": "function", "name": "focus_planet"}
        assert [(o.type, o.name, o.arguments) for o in done.output] == [
            ("function_call", "focus_planet", '{"planet": "Mars"}')]

        llm.tool_call = ("show_iss", {})
        request, done = await response_request(conn, llm, tool_choice="none")
        assert request.tool_choice == "none"
        assert [o.type for o in done.output] == ["message"]  # "none": no call was made

        request, _ = await response_request(conn, llm)  # session's choice again
        assert request.tool_choice == "required"
        llm.tool_call = None


async def test_response_tools_override_session_tools(server_url: str,
                                                     backends: Backends) -> None:
    llm: Any = backends.llm
    async with client(server_url).realtime.connect(model="gpt-realtime") as conn:
        await ga_setup(conn)
        await ask(conn, "Plot something.")

        request, _ = await response_request(conn, llm, tools=[TOOLS[1]])
        assert [t.name for t in request.tools] == ["display_data"]
        assert request.tools[0].parameters == TOOLS[1]["parameters"]

        llm.tool_call = ("show_iss", {})
        request, done = await response_request(conn, llm, tools=[])
        assert list(request.tools) == []
        assert [o.type for o in done.output] == ["message"]  # no tools: no call

        request, done = await response_request(conn, llm)
        assert [t.name for t in request.tools] == ["focus_planet", "display_data", "show_iss"]
        assert [o.type for o in done.output] == ["function_call"]


async def test_function_call_output_for_unknown_call_is_an_error(
        server_url: str, backends: Backends) -> None:
    async with client(server_url).realtime.connect(model="gpt-realtime") as conn:
        await ga_setup(conn)
        await conn.conversation.item.create(event_id="evt_out", item={
            "type": "function_call_output", "call_id": "call_nope", "output": "{}"})
        error = await recv(conn)
        assert error.type == "error"
        assert error.error.type == "invalid_request_error"
        assert error.error.event_id == "evt_out"
        assert "call_nope" in error.error.message
        # nothing was added; the session goes on
        await ask(conn, "Still there?")


async def test_cancelled_tool_call_is_never_completed(server_url: str,
                                                      backends: Backends) -> None:
    llm: Any = backends.llm
    llm.tool_call = ("display_data", {"title": "Orbits", "chart_type": "line",
                                      "points": [{"x": 1, "y": 2}]})
    llm.token_delay_s = 0.3  # the second half of the arguments comes 300 ms later
    async with client(server_url).realtime.connect(model="gpt-realtime") as conn:
        await ga_setup(conn)
        await ask(conn, "Chart the orbits.")
        await conn.response.create()
        events = await until(conn, "response.function_call_arguments.delta")
        await conn.response.cancel()
        events += await until(conn, "response.done")
        events.append(await recv(conn))
        types = [e.type for e in events]
        assert "response.function_call_arguments.done" not in types, types
        assert collapse(types) == [t for t in GA_TOOL_TURN
                                   if t != "response.function_call_arguments.done"], types
        by_type = {e.type: e for e in events}
        item_id = by_type["response.output_item.added"].item.id
        for kind in ("conversation.item.done", "response.output_item.done"):
            item = by_type[kind].item
            assert (item.id, item.type, item.status) == (item_id, "function_call",
                                                         "incomplete"), kind
        done = by_type["response.done"].response
        assert done.status == "cancelled"
        assert done.status_details.reason == "client_cancelled"
        assert [(o.id, o.status) for o in done.output] == [(item_id, "incomplete")]

        # No late argument delta or completion after response.done.
        await conn.conversation.item.retrieve(item_id=item_id)
        retrieved = await until(conn, "conversation.item.retrieved")
        assert [e.type for e in retrieved] == ["conversation.item.retrieved"]
        assert retrieved[-1].item.status == "incomplete"


async def test_beta_tool_call_turn(server_url: str, backends: Backends) -> None:
    llm: Any = backends.llm
    llm.tool_call = ("show_iss", {})
    llm.reply = ANSWER
    async with client(server_url).beta.realtime.connect(
            model="gpt-4o-realtime-preview") as conn:
        assert (await recv(conn)).type == "session.created"
        assert (await recv(conn)).type == "conversation.created"  # beta's opening pair
        await conn.session.update(session={"modalities": ["text"], "tools": TOOLS,
                                           "tool_choice": "auto"})
        updated = await recv(conn)
        assert updated.type == "session.updated"
        assert [t.name for t in updated.session.tools] == [t["name"] for t in TOOLS]
        await conn.conversation.item.create(item={
            "type": "message", "role": "user",
            "content": [{"type": "input_text", "text": "Where is the space station?"}]})
        assert (await recv(conn)).type == "conversation.item.created"
        await conn.response.create()
        events = await until(conn, "response.done")
        types = [e.type for e in events]
        assert collapse(types) == BETA_TOOL_TURN, types
        assert "conversation.item.added" not in types and "conversation.item.done" not in types
        by_type = {e.type: e for e in events}
        call = by_type["response.output_item.added"].item
        assert (call.type, call.status, call.name, call.arguments) == (
            "function_call", "in_progress", "show_iss", "")
        created = by_type["conversation.item.created"]
        assert created.item.id == call.id
        assert by_type["response.function_call_arguments.done"].arguments == "{}"
        assert by_type["response.function_call_arguments.done"].call_id == call.call_id
        assert by_type["response.output_item.done"].item.status == "completed"
        done = by_type["response.done"].response
        assert done.status == "completed"
        assert [(o.type, o.call_id) for o in done.output] == [("function_call", call.call_id)]

        await conn.conversation.item.create(item={
            "type": "function_call_output", "call_id": call.call_id, "output": ISS_POSITION})
        out = await recv(conn)
        assert out.type == "conversation.item.created"
        assert (out.previous_item_id, out.item.type) == (call.id, "function_call_output")

        await conn.response.create()
        answer = await until(conn, "response.done")
        assert "response.text.delta" in [e.type for e in answer]
        final = answer[-1].response
        assert final.status == "completed"
        assert (final.output[0].content[0].type, final.output[0].content[0].text) == (
            "text", ANSWER)

    messages = llm.requests[-1].messages
    assert {"role": "tool", "tool_call_id": call.call_id, "content": ISS_POSITION} in messages
    assert any(m.get("tool_calls") for m in messages)


async def test_client_created_call_and_output_reach_the_llm(server_url: str,
                                                            backends: Backends) -> None:
    """History replay: a client may create the function_call item itself."""
    llm: Any = backends.llm
    async with client(server_url).realtime.connect(model="gpt-realtime") as conn:
        await ga_setup(conn)
        await ask(conn, "Show me Mars.")
        await conn.conversation.item.create(item={
            "type": "function_call", "call_id": "call_client1", "name": "focus_planet",
            "arguments": '{"planet": "Mars"}'})
        call = (await until(conn, "conversation.item.done"))[-1].item
        assert (call.type, call.status, call.call_id) == ("function_call", "completed",
                                                          "call_client1")
        await conn.conversation.item.create(item={
            "type": "function_call_output", "call_id": "call_client1", "output": "ok"})
        assert (await until(conn, "conversation.item.done"))[-1].previous_item_id == call.id
        await conn.response.create()
        assert (await until(conn, "response.done"))[-1].response.status == "completed"
    assert llm.requests[-1].messages[-2:] == [
        {"role": "assistant", "content": None, "tool_calls": [{
            "id": "call_client1", "type": "function",
            "function": {"name": "focus_planet", "arguments": '{"planet": "Mars"}'}}]},
        {"role": "tool", "tool_call_id": "call_client1", "content": "ok"}]


async def test_cancelled_tool_call_stays_out_of_the_llm_context(
        server_url: str, backends: Backends) -> None:
    llm: Any = backends.llm
    llm.tool_call = ("display_data", {"title": "Orbits", "chart_type": "line", "points": []})
    llm.token_delay_s = 0.3
    async with client(server_url).realtime.connect(model="gpt-realtime") as conn:
        await ga_setup(conn)
        await ask(conn, "Chart the orbits.")
        await conn.response.create()
        await until(conn, "response.function_call_arguments.delta")
        await conn.response.cancel()
        await until(conn, "rate_limits.updated")
        llm.token_delay_s = 0.0
        await ask(conn, "Never mind.")
        await conn.response.create()
        await until(conn, "response.done")
    messages = llm.requests[-1].messages
    assert not any(m.get("tool_calls") for m in messages), messages
