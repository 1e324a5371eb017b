"""The official openai SDK drives the server unchanged but for the URL (fake backends)."""

from __future__ import annotations

from typing import Any

from tests.sdk import client
from tests.sound import frames_b64, is_subsequence, utterance

GA_VOICE_TURN = [
    "session.updated",
    "input_audio_buffer.speech_started",
    "input_audio_buffer.speech_stopped",
    "input_audio_buffer.committed",
    "conversation.item.added",
    "conversation.item.done",
    "response.created",
    "response.output_item.added",
    "conversation.item.added",
    "response.content_part.added",
    "response.output_audio_transcript.delta",
    "response.output_audio.delta",
    "response.output_audio.done",
    "response.output_audio_transcript.done",
    "response.content_part.done",
    "conversation.item.done",
    "response.output_item.done",
    "response.done",
    "rate_limits.updated",
]
GA_TEXT_TURN = [
    "conversation.item.added",
    "conversation.item.done",
    "response.created",
    "response.output_item.added",
    "conversation.item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "conversation.item.done",
    "response.output_item.done",
    "response.done",
    "rate_limits.updated",
]
BETA_VOICE_TURN = [
    "session.updated",
    "input_audio_buffer.speech_started",
    "input_audio_buffer.speech_stopped",
    "input_audio_buffer.committed",
    "conversation.item.created",
    "response.created",
    "rate_limits.updated",
    "response.output_item.added",
    "conversation.item.created",
    "response.content_part.added",
    "response.audio_transcript.delta",
    "response.audio.delta",
    "response.audio.done",
    "response.audio_transcript.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.done",
]
BETA_TEXT_TURN = [
    "conversation.item.created",
    "response.created",
    "rate_limits.updated",
    "response.output_item.added",
    "conversation.item.created",
    "response.content_part.added",
    "response.text.delta",
    "response.text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.done",
]


async def until_done(conn: Any, types: list[str], events: list[Any]) -> None:
    async for event in conn:
        types.append(event.type)
        events.append(event)
        if event.type == "response.done":
            return


async def test_ga_voice_and_text_turn(server_url: str) -> None:
    async with client(server_url).realtime.connect(model="gpt-realtime") as conn:
        first = await conn.recv()
        assert first.type == "session.created"
        assert first.session.type == "realtime"
        await conn.session.update(session={
            "type": "realtime", "output_modalities": ["audio"],
            "audio": {"input": {"transcription": {"model": "whisper-1"}}}})
        for frame in frames_b64(utterance()):
            await conn.input_audio_buffer.append(audio=frame)
        types: list[str] = []
        events: list[Any] = []
        await until_done(conn, types, events)
        assert is_subsequence(GA_VOICE_TURN[:-1], types), types
        done = events[-1]
        assert done.response.status == "completed"
        assert done.response.usage.output_token_details.audio_tokens > 0
        message = done.response.output[0]
        assert message.content[0].type == "output_audio"
        assert "Paris" in message.content[0].transcript

        await conn.conversation.item.create(item={
            "type": "message", "role": "user",
            "content": [{"type": "input_text", "text": "And Germany?"}]})
        await conn.response.create(response={"output_modalities": ["text"]})
        types, events = [], []
        await until_done(conn, types, events)
        assert is_subsequence(GA_TEXT_TURN[:-1], types), types
        assert events[-1].response.output[0].content[0].text.startswith("The capital")
        tail = await conn.recv()
        assert tail.type == "rate_limits.updated"


async def test_beta_voice_and_text_turn(server_url: str) -> None:
    async with client(server_url).beta.realtime.connect(
            model="gpt-4o-realtime-preview") as conn:
        first = await conn.recv()
        assert first.type == "session.created"
        assert first.session.modalities == ["audio", "text"]
        await conn.session.update(session={
            "modalities": ["audio", "text"], "voice": "alloy",
            "input_audio_format": "pcm16", "output_audio_format": "pcm16",
            "turn_detection": {"type": "server_vad"}, "temperature": 0.7})
        for frame in frames_b64(utterance()):
            await conn.input_audio_buffer.append(audio=frame)
        types: list[str] = []
        events: list[Any] = []
        await until_done(conn, types, events)
        assert is_subsequence(BETA_VOICE_TURN, types), types
        assert "conversation.item.done" not in types
        assert events[-1].response.output[0].content[0].type == "audio"

        await conn.conversation.item.create(item={
            "type": "message", "role": "user",
            "content": [{"type": "input_text", "text": "And Germany?"}]})
        await conn.response.create(response={"modalities": ["text"]})
        types, events = [], []
        await until_done(conn, types, events)
        assert is_subsequence(BETA_TEXT_TURN, types), types
