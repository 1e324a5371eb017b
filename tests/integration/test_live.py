"""GPT-Live (``/v1/live/sessions``) through the openai SDK's own ``client.live``: the
same core in Live's dialect — session.start/started, audio in and out, timestamped
transcripts both ways, model-decided turns, mute/unmute, a function tool through
Responses delegation, usage, close, and clear refusals of what is not supported."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from openrealtime.backends.base import Backends
from tests.sdk import client
from tests.sound import frames_b64, silence, utterance

TOOLS = [{"type": "function", "name": "get_weather", "description": "The weather.",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]
GA_ONLY = ("input_audio_buffer.", "conversation.", "response.created", "response.done",
           "response.output_", "rate_limits.")


def start_event(**session: Any) -> dict[str, Any]:
    return {"type": "session.start", "event_id": "c_start", "session": {
        "model": "gpt-live-1", "audio": {"format": {"type": "audio/pcm", "rate": 24000},
                                         "output": {"voice": "marin"}},
        "instructions": "You are a weather assistant.", **session}}


async def events_until(conn: Any, kind: str, seen: list[Any], within: float = 10.0) -> Any:
    async with asyncio.timeout(within):
        while True:
            event = await conn.recv()
            seen.append(event)
            if event.type == kind:
                return event


async def talk(conn: Any, audio: Any) -> None:
    for frame in frames_b64(audio):
        await conn.send({"type": "session.input_audio.append", "audio": frame})
        await asyncio.sleep(0.005)


async def test_a_spoken_turn_in_the_live_dialect(server_url: str) -> None:
    seen: list[Any] = []
    async with client(server_url).live.connect() as conn:
        await conn.send(start_event())
        started = await events_until(conn, "session.started", seen)
        assert started.client_event_id == "c_start"
        assert started.session.model == "gpt-live-1" and started.session.status == "active"
        assert started.session.audio.output.voice == "marin"
        await talk(conn, utterance())
        await events_until(conn, "session.usage.updated", seen)
    kinds = [e.type for e in seen]
    assert "session.input_transcript.delta" in kinds
    assert "session.output_audio.delta" in kinds
    assert "session.output_transcript.delta" in kinds
    assert not [k for k in kinds if k.startswith(GA_ONLY)], kinds
    heard = next(e for e in seen if e.type == "session.input_transcript.delta")
    assert heard.delta == "What is the capital of France?"
    assert 0 <= heard.start_ms < heard.end_ms  # the turn's speech on the session timeline
    said = "".join(e.delta for e in seen if e.type == "session.output_transcript.delta")
    assert said.startswith("The capital of France is Paris.")
    audio = [e for e in seen if e.type == "session.output_audio.delta"]
    assert all(not (e.model_extra or {}).get("event_id") for e in audio)  # as Live's


async def test_a_function_tool_through_responses_delegation(server_url: str,
                                                           backends: Backends) -> None:
    llm: Any = backends.llm
    llm.tool_call = ("get_weather", {"city": "Paris"})
    llm.reply = "It is sunny in Paris."
    seen: list[Any] = []
    async with client(server_url).live.connect() as conn:
        await conn.send(start_event(delegation={"type": "responses", "responses": {
            "model": "gpt-5", "tools": TOOLS}}))
        await events_until(conn, "session.started", seen)
        await talk(conn, utterance())
        created = await events_until(conn, "session.delegation.created", seen)
        call = await events_until(conn, "response.event", seen)
        item = call.event["item"]
        assert (item["type"], item["name"], json.loads(item["arguments"])) == (
            "function_call", "get_weather", {"city": "Paris"})
        assert call.delegation_id == created.delegation.id
        assert created.delegation.target == "responses"
        await conn.send({"type": "response.item.create", "event_id": "c_out", "item": {
            "type": "function_call_output", "call_id": item["call_id"],
            "output": '{"sky": "sunny"}'}})
        await conn.send({"type": "response.create", "event_id": "c_go"})
        said = ""
        async with asyncio.timeout(10):
            while "sunny" not in said:
                event = await conn.recv()
                seen.append(event)
                if event.type == "session.output_transcript.delta":
                    said += event.delta
    assert "error" not in [e.type for e in seen]


async def test_mute_unmute_and_close(server_url: str) -> None:
    seen: list[Any] = []
    async with client(server_url).live.connect() as conn:
        await conn.send(start_event())
        await events_until(conn, "session.started", seen)
        await conn.send({"type": "session.input_audio.mute", "event_id": "c_mute"})
        muted = await events_until(conn, "session.input_audio.muted", seen)
        assert muted.client_event_id == "c_mute"
        await talk(conn, utterance())  # the model hears silence
        await conn.send({"type": "session.input_audio.append", "event_id": "c_bad",
                         "audio": "not base64!"})
        bad = await events_until(conn, "error", seen)
        assert (bad.error.code, bad.error.client_event_id) == ("invalid_value", "c_bad")
        seen.remove(bad)
        await conn.send({"type": "session.input_audio.unmute"})
        await events_until(conn, "session.input_audio.unmuted", seen)
        assert "session.input_transcript.delta" not in [e.type for e in seen]
        await talk(conn, silence(0.2))
        await conn.send({"type": "session.close", "event_id": "c_close"})
        closed = await events_until(conn, "session.closed", seen)
    assert closed.reason == "close_requested" and closed.client_event_id == "c_close"
    assert closed.usage.seconds > 2.0  # the audio it was sent


async def test_what_is_not_supported_is_refused_clearly(server_url: str) -> None:
    seen: list[Any] = []
    async with client(server_url).live.connect() as conn:
        await conn.send({"type": "session.input_audio.append", "event_id": "c_early",
                         "audio": frames_b64(silence(0.02))[0]})
        early = await events_until(conn, "error", seen)
        assert early.error.client_event_id == "c_early"
        assert "session.start" in early.error.message
        await conn.send(start_event(delegation={"type": "decisions", "decisions": {
            "model": "m", "questions": []}}))
        refused = await events_until(conn, "error", seen)
        assert refused.error.param == "session.delegation.type"
        await conn.send(start_event())
        await events_until(conn, "session.started", seen)
        for kind in ("decision.create", "session.output_audio.fixture.play"):
            await conn.send({"type": kind, "event_id": f"c_{kind}"})
            error = await events_until(conn, "error", seen)
            assert error.error.client_event_id == f"c_{kind}"
            assert "not supported" in error.error.message


async def test_speaking_over_the_answer_stops_it(server_url: str, backends: Backends) -> None:
    """The model decides barge-in (the VAD and end-of-turn logic): no event says so, the
    answer's audio and words just stop and the new turn is answered."""
    llm: Any = backends.llm
    llm.reply = " ".join(["The sun is a star, and it is very hot."] * 8)
    llm.token_delay_s = 0.05
    seen: list[Any] = []
    async with client(server_url).live.connect() as conn:
        await conn.send(start_event())
        await events_until(conn, "session.started", seen)
        await talk(conn, utterance())
        await events_until(conn, "session.output_audio.delta", seen)
        await talk(conn, utterance())  # over the answer
        second: list[Any] = []  # (the first turn's transcript is already in seen)
        await events_until(conn, "session.input_transcript.delta", second)
        await events_until(conn, "session.output_audio.delta", seen)
    assert llm.stopped_after is not None  # the first answer's LLM stream was cut short
    assert llm.stopped_after < len(llm.reply.split())


async def test_the_application_adds_context_and_commentary(server_url: str,
                                                            backends: Backends) -> None:
    """Client delegation's side of the application: instructions and thinking become
    context of the next answer; commentary is spoken at once; a delegation id this
    server never issued is refused."""
    llm: Any = backends.llm
    llm.reply = "Your order ships tomorrow."
    seen: list[Any] = []
    async with client(server_url).live.connect() as conn:
        await conn.send(start_event())
        await events_until(conn, "session.started", seen)
        await conn.session.instructions.append(content="Be brief.", delegation_id=None,
                                               event_id="c_instr")
        appended = await events_until(conn, "session.instructions.appended", seen)
        assert appended.client_event_id == "c_instr"
        await conn.session.thinking.append(content="The order is 4411.", delegation_id=None)
        await events_until(conn, "session.thinking.appended", seen)
        await conn.session.commentary.append(content="Order 4411 ships tomorrow.",
                                             delegation_id=None, event_id="c_say")
        said = await events_until(conn, "session.commentary.appended", seen)
        assert said.client_event_id == "c_say" and said.end_ms >= said.start_ms
        await events_until(conn, "session.output_audio.delta", seen)
        await events_until(conn, "session.usage.updated", seen)
        await conn.session.commentary.append(content="x", delegation_id="del_nope",
                                             event_id="c_bad")
        error = await events_until(conn, "error", seen)
        assert error.error.client_event_id == "c_bad" and error.error.param == "delegation_id"
        await conn.send({"type": "session.thinking.append", "content": "x" * 4000,
                         "delegation_id": None, "event_id": "c_long"})
        error = await events_until(conn, "error", seen)
        assert error.error.client_event_id == "c_long" and "500 tokens" in error.error.message
    context = [m for m in llm.requests[-1].messages if m["role"] == "system"]
    texts = " ".join(str(m["content"]) for m in context)
    assert "Be brief." in texts and "4411" in texts and "ships tomorrow" in texts


async def test_the_model_delegates_to_the_application(server_url: str,
                                                      backends: Backends) -> None:
    """Client delegation: the model hands a task over (session.delegation.created, target
    client), says it is on it, and speaks the application's commentary for it."""
    llm: Any = backends.llm
    llm.tool_call = ("delegate_to_application", {"task": "Look up order 4411."})
    llm.reply = "One moment, I am checking."
    seen: list[Any] = []
    async with client(server_url).live.connect() as conn:
        await conn.send(start_event(delegation={"type": "client"}))
        started = await events_until(conn, "session.started", seen)
        assert started.session.delegation.type == "client"
        await talk(conn, utterance())
        created = await events_until(conn, "session.delegation.created", seen)
        assert created.delegation.target == "client" and created.delegation.response_id is None
        await events_until(conn, "session.output_transcript.delta", seen)  # "on it"
        await events_until(conn, "session.usage.updated", seen)  # (the acknowledgement's end)
        llm.reply = "Your order ships tomorrow."
        await conn.session.commentary.append(content="Order 4411 ships tomorrow.",
                                             delegation_id=created.delegation.id,
                                             event_id="c_result")
        said = await events_until(conn, "session.commentary.appended", seen)
        assert said.client_event_id == "c_result"
        await events_until(conn, "session.output_audio.delta", seen)
    assert not any(e.type == "response.event" for e in seen)  # (not a Responses call)
    tools = [t.name for t in llm.requests[0].tools]
    assert tools == ["delegate_to_application"]
    outputs = [m for m in llm.requests[-1].messages if m["role"] == "tool"]
    assert outputs and "delegated" in str(outputs[0]["content"])
    assert "4411" in " ".join(str(m["content"]) for m in llm.requests[-1].messages)


async def test_without_an_explicit_delegation_the_model_has_no_tools(server_url: str,
                                                                    backends: Backends) -> None:
    seen: list[Any] = []
    async with client(server_url).live.connect() as conn:
        await conn.send(start_event())
        await events_until(conn, "session.started", seen)
        await talk(conn, utterance())
        await events_until(conn, "session.output_audio.delta", seen)
    llm: Any = backends.llm
    assert not llm.requests[-1].tools
