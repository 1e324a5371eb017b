"""Out-of-band responses (``conversation: "none"``) run beside the in-band one and
leave the default conversation untouched (reference §5.2). openai SDK, GA dialect."""

from __future__ import annotations

import asyncio
from typing import Any

from openrealtime.backends.base import Backends
from tests.sdk import client, until

IN_BAND_REPLY = "The capital of France is Paris. It is a lovely city on the Seine."
SUMMARY = "SUMMARY: the user asked about France."




async def test_out_of_band_response_beside_an_active_one(server_url: str,
                                                         backends: Backends) -> None:
    llm: Any = backends.llm
    llm.reply = IN_BAND_REPLY
    llm.token_delay_s = 0.03  # the in-band response streams for ~0.4 s
    async with client(server_url).realtime.connect(model="gpt-realtime") as conn:
        assert (await conn.recv()).type == "session.created"
        await conn.session.update(session={"type": "realtime", "instructions": "Be brief."})
        events: list[Any] = []
        await until(conn, "session.updated", events)
        await conn.conversation.item.create(item={
            "type": "message", "role": "user", "id": "item_question",
            "content": [{"type": "input_text", "text": "Tell me about France."}]})
        await until(conn, "conversation.item.done", events)

        events = []
        await conn.response.create(response={"output_modalities": ["text"]})
        inband = (await until(conn, "response.created", events)).response
        # Once the in-band answer is streaming, the fake LLM's next answer is the summary.
        await until(conn, "response.output_text.delta", events)
        llm.reply = SUMMARY
        await conn.response.create(event_id="oob", response={
            "conversation": "none", "metadata": {"purpose": "summary"},
            "output_modalities": ["text"], "instructions": "Summarize in one sentence.",
            "input": [{"type": "item_reference", "id": "item_question"},
                      {"type": "message", "role": "user",
                       "content": [{"type": "input_text", "text": "Summarize."}]}]})
        done: dict[str, Any] = {}
        async with asyncio.timeout(10):
            async for event in conn:
                events.append(event)
                assert event.type != "error", event
                if event.type == "response.done":
                    done[event.response.id] = event.response
                    if len(done) == 2:
                        break

        created = [e.response for e in events if e.type == "response.created"]
        assert created[0].id == inband.id
        oob = created[1]
        assert oob.id != inband.id
        assert oob.conversation_id is None
        assert oob.metadata == {"purpose": "summary"}
        assert oob.status == "in_progress"
        assert inband.conversation_id is not None and inband.metadata is None
        assert set(done) == {inband.id, oob.id}
        # the out-of-band response started while the in-band one was still running
        types_ids = [(e.type, getattr(getattr(e, "response", None), "id", None))
                     for e in events]
        assert types_ids.index(("response.created", oob.id)) < types_ids.index(
            ("response.done", inband.id))

        oob_done, inband_done = done[oob.id], done[inband.id]
        assert oob_done.status == "completed" and inband_done.status == "completed"
        assert oob_done.conversation_id is None
        assert oob_done.metadata == {"purpose": "summary"}
        assert oob_done.output[0].content[0].text == SUMMARY
        assert inband_done.output[0].content[0].text == IN_BAND_REPLY
        oob_item = oob_done.output[0].id
        inband_item = inband_done.output[0].id

        # No conversation.item.* event for the out-of-band output.
        item_events = [e for e in events if e.type.startswith("conversation.item.")]
        assert {e.item.id for e in item_events} == {inband_item}
        assert [e.type for e in item_events] == ["conversation.item.added",
                                                 "conversation.item.done"]
        oob_events = [e for e in events if getattr(e, "response_id", None) == oob.id]
        assert {e.type for e in oob_events} >= {"response.output_item.added",
                                                "response.output_text.delta",
                                                "response.output_item.done"}
        assert all(getattr(e, "item_id", oob_item) == oob_item for e in oob_events)

        # The out-of-band request saw only its own instructions and input.
        assert llm.requests[1].messages == [
            {"role": "system", "content": "Summarize in one sentence."},
            {"role": "user", "content": "Tell me about France.\nSummarize."}]

        # The output is not in the conversation: retrieve fails, the next in-band
        # response does not see it.
        await conn.conversation.item.retrieve(item_id=oob_item, event_id="get_oob")
        error = await until(conn, "error", events)
        assert error.error.event_id == "get_oob"
        await conn.conversation.item.retrieve(item_id=inband_item)
        assert (await until(conn, "conversation.item.retrieved", events)).item.id == inband_item

        llm.token_delay_s = 0.0
        await conn.response.create(response={"output_modalities": ["text"]})
        await until(conn, "response.done", events)
    messages = llm.requests[-1].messages
    assert messages == [{"role": "system", "content": "Be brief."},
                        {"role": "user", "content": "Tell me about France."},
                        {"role": "assistant", "content": IN_BAND_REPLY}]
    assert SUMMARY not in str(messages)


async def test_in_band_while_out_of_band_runs(server_url: str, backends: Backends) -> None:
    """An out-of-band response does not hold the default conversation."""
    llm: Any = backends.llm
    llm.token_delay_s = 0.03
    async with client(server_url).realtime.connect(model="gpt-realtime") as conn:
        assert (await conn.recv()).type == "session.created"
        await conn.response.create(response={"conversation": "none",
                                             "output_modalities": ["text"], "input": []})
        events: list[Any] = []
        oob = (await until(conn, "response.created", events)).response
        await conn.response.create(event_id="inband", response={"output_modalities": ["text"]})
        done: set[str] = set()
        async with asyncio.timeout(10):
            async for event in conn:
                assert event.type != "error", event
                if event.type == "response.done":
                    assert event.response.status == "completed"
                    done.add(event.response.id)
                    if len(done) == 2:
                        break
        assert oob.id in done
        assert llm.requests[0].messages == [
            {"role": "system", "content": llm.requests[1].messages[0]["content"]}]


async def test_cancel_out_of_band_by_id_leaves_in_band_running(
        server_url: str, backends: Backends) -> None:
    llm: Any = backends.llm
    llm.token_delay_s = 0.03
    async with client(server_url).realtime.connect(model="gpt-realtime") as conn:
        assert (await conn.recv()).type == "session.created"
        events: list[Any] = []
        await conn.response.create(response={"output_modalities": ["text"]})
        inband = (await until(conn, "response.created", events)).response
        await conn.response.create(response={"conversation": "none",
                                             "output_modalities": ["text"]})
        oob = (await until(conn, "response.created", events)).response
        assert oob.conversation_id is None
        await conn.response.cancel(response_id=oob.id)
        done: dict[str, Any] = {}
        async with asyncio.timeout(10):
            async for event in conn:
                assert event.type != "error", event
                if event.type == "response.done":
                    done[event.response.id] = event.response
                    if len(done) == 2:
                        break
        assert done[oob.id].status == "cancelled"
        assert done[oob.id].status_details.reason == "client_cancelled"
        assert done[inband.id].status == "completed"
        assert list(done) == [oob.id, inband.id]
