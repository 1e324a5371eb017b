"""Bounded memory per session: audio retention, the item cap and the response caps.

Synthetic sessions (fake facts, no models, no event loop); the bounds asserted are
computed from :class:`SessionLimits`, never from timings.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import numpy as np
import pytest

from openrealtime.backends.fake import fake_backends
from openrealtime.core import Session
from openrealtime.core import effects as fx
from openrealtime.core.limits import SessionLimits
from openrealtime.protocol import client_events as ce
from openrealtime.protocol import server_events as ev
from openrealtime.protocol.errors import ProtocolError
from openrealtime.protocol.session import RealtimeSession
from openrealtime.runtime.driver import SessionDriver
from tests.sound import frames_b64, pcm16, silence, tone, utterance

OUTPUT_RATE = 24_000
TURN = np.concatenate([tone(0.8), silence(0.6)])  # one user turn, then the end of turn


def event(kind: str, **fields: Any) -> Any:
    return ce.validate_event({"type": kind, **fields})


def session_with(limits: SessionLimits) -> Session:
    session = Session(RealtimeSession(), limits=limits)
    session.handle(event("session.update", session={
        "type": "realtime", "audio": {"input": {"transcription": {"model": "whisper-1"}}}}))
    return session


def run(session: Session, outputs: list[Any]) -> list[Any]:
    """Score speech with an energy VAD, like the fake backend does."""
    done: list[Any] = []
    for out in outputs:
        if isinstance(out, fx.ScoreSpeech):
            scores = [1.0 if float(np.sqrt(np.mean(w ** 2))) > 0.01 else 0.0
                      for w in out.windows]
            done += run(session, session.on_fact(fx.SpeechScored(scores)))
        else:
            done.append(out)
    return done


def speak(session: Session, audio: np.ndarray = TURN) -> list[Any]:
    data = pcm16(audio)
    out: list[Any] = []
    for start in range(0, len(data), 9600):  # 200 ms appends
        chunk = base64.b64encode(data[start:start + 9600]).decode()
        out += run(session, session.handle(event("input_audio_buffer.append", audio=chunk)))
    return out


def answer(session: Session, rid: str, seconds: float, text: str = "Sure, here it is.") -> list[Any]:
    out = session.on_fact(fx.ClauseStarted(rid, text))
    out += session.on_fact(fx.AudioProduced(rid, np.ones(int(OUTPUT_RATE * seconds),
                                                         dtype=np.int16)))
    return out + session.on_fact(fx.ResponseFinished(rid, "stop"))


def voice_turn(session: Session, number: int, answer_s: float = 1.3) -> list[Any]:
    """A spoken question (server VAD), its transcript, and a spoken answer."""
    out = speak(session)
    for start in [o for o in out if isinstance(o, fx.StartTranscription)]:
        out += session.on_fact(fx.TranscriptionCompleted(
            start.item_id, f"question {number}", 0.8, start.speculation))
    response = next(o for o in out if isinstance(o, fx.StartResponse))
    return out + answer(session, response.response_id, answer_s)


def user_items(session: Session) -> list[str]:
    return [i.id or "" for i in session.conversation.items
            if i.type == "message" and i.role == "user"]


def assistant_items(session: Session) -> list[str]:
    return [i.id or "" for i in session.conversation.items
            if i.type == "message" and i.role == "assistant"]


def retrieve(session: Session, item_id: str) -> Any:
    (reply,) = session.handle(event("conversation.item.retrieve", item_id=item_id))
    assert isinstance(reply, ev.ConversationItemRetrieved)
    return reply.item


def truncate(session: Session, item_id: str, audio_end_ms: int) -> list[Any]:
    return session.handle(event("conversation.item.truncate", item_id=item_id,
                                content_index=0, audio_end_ms=audio_end_ms))


def test_200_turns_keep_bounded_audio_and_items() -> None:
    limits = SessionLimits(max_items=60)
    session = session_with(limits)
    bound = limits.max_audio_bytes(OUTPUT_RATE)
    forgotten: list[str] = []
    peak = longest_turn = 0
    for number in range(200):
        out = voice_turn(session, number)
        forgotten += [o.item_id for o in out if isinstance(o, fx.ForgetItem)]
        peak = max(peak, session.conversation.audio_bytes())
        longest_turn = max(longest_turn, *session.conversation.input_samples.values())
        assert session.conversation.audio_bytes() <= bound
    conversation = session.conversation
    # 400 items were created; the oldest left the conversation, each reported once
    assert len(conversation.items) == limits.max_items
    assert len(forgotten) == len(set(forgotten)) == 400 - limits.max_items
    ids = {i.id for i in conversation.items}
    assert not ids & set(forgotten)
    # what is kept per item is bounded by the items themselves
    assert set(conversation.input_samples) <= ids and conversation.released <= ids
    assert len(conversation.input_audio) == limits.input_audio_items
    assert len(conversation.output_audio) == limits.output_audio_items
    assert session.responses == {} and session.awaiting == {}
    # the retained audio is that of the last few turns, not of all 200
    answer_bytes = int(OUTPUT_RATE * 1.3) * 2
    assert peak <= (limits.input_audio_items * longest_turn * 4  # float32
                    + limits.output_audio_items * answer_bytes)
    # every item still has its transcript
    last_user = conversation.get(user_items(session)[-1])
    assert last_user is not None and last_user.content[0].transcript == "question 199"


def test_retrieve_of_an_item_whose_audio_was_released() -> None:
    session = session_with(SessionLimits())
    for number in range(6):
        voice_turn(session, number)
    users, assistants = user_items(session), assistant_items(session)
    old_user, old_answer = retrieve(session, users[0]), retrieve(session, assistants[0])
    assert old_user.content[0].audio is None
    assert old_user.content[0].transcript == "question 0"
    assert old_answer.content[0].audio is None
    assert old_answer.content[0].transcript == "Sure, here it is."
    recent_user, recent_answer = retrieve(session, users[-1]), retrieve(session, assistants[-1])
    assert recent_user.content[0].audio and recent_user.content[0].transcript == "question 5"
    audio = base64.b64decode(recent_answer.content[0].audio)
    assert len(audio) == int(OUTPUT_RATE * 1.3) * 2  # pcm16 at 24 kHz


def test_truncate_of_an_item_whose_audio_was_released() -> None:
    session = session_with(SessionLimits(output_audio_items=2))
    for number in range(3):
        voice_turn(session, number)
    oldest, *_, newest = assistant_items(session)
    with pytest.raises(ProtocolError) as raised:
        truncate(session, oldest, 500)
    assert raised.value.code == "invalid_value" and raised.value.param == "item_id"
    assert "no longer retained" in raised.value.message
    (truncated,) = truncate(session, newest, 500)
    assert isinstance(truncated, ev.ConversationItemTruncated)
    # a user item still gets the usual error, not "no longer retained"
    with pytest.raises(ProtocolError, match="Only assistant messages"):
        truncate(session, user_items(session)[0], 100)


def test_one_long_answer_keeps_at_most_its_cap() -> None:
    session = session_with(SessionLimits(output_audio_item_s=1.0))
    out = session.handle(event("response.create"))
    rid = next(o for o in out if isinstance(o, fx.StartResponse)).response_id
    for clause in ("One two three four.", "Five six seven eight.", "Nine ten."):
        session.on_fact(fx.ClauseStarted(rid, clause))
        session.on_fact(fx.AudioProduced(rid, np.ones(OUTPUT_RATE, dtype=np.int16)))
    session.on_fact(fx.ResponseFinished(rid, "stop"))
    (item_id,) = assistant_items(session)
    audio = session.conversation.output_audio[item_id]
    assert audio.num_samples == 3 * OUTPUT_RATE and audio.held_samples == OUTPUT_RATE
    assert session.conversation.audio_bytes() == OUTPUT_RATE * 2
    assert retrieve(session, item_id).content[0].audio is None  # incomplete: left out
    # truncation still follows the whole timeline
    truncate(session, item_id, 2500)
    item = session.conversation.get(item_id)
    assert item is not None
    assert item.content[0].transcript == "One two three four. Five six seven eight. Nine"
    truncate(session, item_id, 500)  # now within what is held: the audio is whole again
    assert base64.b64decode(retrieve(session, item_id).content[0].audio) == (
        np.ones(OUTPUT_RATE // 2, dtype="<i2").tobytes())


def test_user_item_longer_than_the_cap_is_not_retained() -> None:
    session = session_with(SessionLimits(input_audio_s=1.0))
    long_audio = base64.b64encode(pcm16(tone(2.0))).decode()
    out = session.handle(event("conversation.item.create", item={
        "type": "message", "role": "user",
        "content": [{"type": "input_audio", "audio": long_audio}]}))
    start = next(o for o in out if isinstance(o, fx.StartTranscription))
    assert len(start.audio) == 32_000  # the transcription still gets all of it
    assert session.conversation.audio_bytes() == 0
    assert retrieve(session, start.item_id).content[0].audio is None


def test_usage_counts_released_user_audio() -> None:
    session = session_with(SessionLimits(input_audio_items=1))
    turns = [voice_turn(session, number) for number in range(3)]
    done = [o for o in turns[-1] if isinstance(o, ev.ResponseDone)][-1]
    seconds = sum(session.conversation.input_samples[i] for i in user_items(session)) / 16_000
    assert len(session.conversation.input_audio) == 1
    assert done.response.usage is not None
    assert done.response.usage.input_token_details.audio_tokens == round(seconds * 10)


def test_conversation_cap_drops_the_oldest_items() -> None:
    session = session_with(SessionLimits(max_items=3))

    def create(text: str, **where: Any) -> list[Any]:
        return session.handle(event("conversation.item.create", **where, item={
            "id": text, "type": "message", "role": "user",
            "content": [{"type": "input_text", "text": text}]}))

    for text in ("a", "b", "c"):
        assert not any(isinstance(o, fx.ForgetItem) for o in create(text))
    out = create("d")
    assert [type(o).__name__ for o in out] == ["ConversationItemAdded", "ConversationItemDone",
                                              "ForgetItem"]
    assert out[-1] == fx.ForgetItem("a")
    # inserted first: the oldest *other* item goes
    assert create("e", previous_item_id="root")[-1] == fx.ForgetItem("b")
    with pytest.raises(ProtocolError) as raised:
        session.handle(event("conversation.item.retrieve", item_id="a"))
    assert raised.value.code == "item_retrieve_invalid_item_id"
    assert [i.id for i in session.conversation.items] == ["e", "c", "d"]


def test_delete_tells_the_runtime_to_forget_the_item() -> None:
    session = session_with(SessionLimits())
    voice_turn(session, 0)
    item_id = user_items(session)[0]
    deleted, forget = session.handle(event("conversation.item.delete", item_id=item_id))
    assert isinstance(deleted, ev.ConversationItemDeleted) and deleted.item_id == item_id
    assert forget == fx.ForgetItem(item_id)
    assert item_id not in session.conversation.input_samples


def test_out_of_band_responses_are_capped() -> None:
    session = session_with(SessionLimits(max_out_of_band_responses=2))
    side = {"response": {"conversation": "none"}}
    first = session.handle(event("response.create", **side))
    session.handle(event("response.create", **side))
    with pytest.raises(ProtocolError) as raised:
        session.handle(event("response.create", **side))
    assert raised.value.code == "too_many_active_responses"
    assert len(session.responses) == 2  # nothing was started
    # the in-band response is not counted
    assert any(isinstance(o, fx.StartResponse) for o in session.handle(event("response.create")))
    rid = next(o for o in first if isinstance(o, fx.StartResponse)).response_id
    session.on_fact(fx.ResponseFinished(rid, "stop"))
    assert any(isinstance(o, fx.StartResponse)
               for o in session.handle(event("response.create", **side)))


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError):
        SessionLimits(max_items=1)
    with pytest.raises(ValueError):
        SessionLimits(input_audio_s=-1)


# ------------------------------------------------------------ the runtime's share


async def test_driver_keeps_no_per_turn_state() -> None:
    """The driver's transcript futures and timings do not grow turn by turn."""
    driver = SessionDriver(fake_backends(), RealtimeSession())
    inbox: asyncio.Queue[str | None] = asyncio.Queue()
    done: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def send(text: str) -> None:
        data = json.loads(text)
        if data["type"] in ("response.done", "conversation.item.deleted"):
            await done.put(data)

    async def turns() -> None:
        await inbox.put(json.dumps({"type": "session.update", "session": {
            "type": "realtime", "audio": {"input": {"transcription": {"model": "whisper-1"}}}}}))
        for turn in range(8):
            for frame in frames_b64(utterance(0.6, 0.2, 0.6)):
                await inbox.put(json.dumps({"type": "input_audio_buffer.append", "audio": frame}))
                if turn % 2:  # paced: the speculative transcript is ready before the commit
                    await inbox.join()
                    for _ in range(3):
                        await asyncio.sleep(0)
            await asyncio.wait_for(done.get(), 10)
        user = next(i.id for i in driver.core.conversation.items if i.type == "message")
        await inbox.put(json.dumps({"type": "conversation.item.delete", "item_id": user}))
        await asyncio.wait_for(done.get(), 10)
        await inbox.put(None)

    async def receive() -> str | None:
        frame = await inbox.get()
        inbox.task_done()
        return frame

    feeder = asyncio.create_task(turns())
    await asyncio.wait_for(driver.run(receive, send), 30)
    await feeder
    assert len(driver.core.conversation.items) == 15  # 8 questions + 8 answers - 1 deleted
    assert driver.timings == {}
    # the transcripts are in the items now: the context reads them there
    assert driver.transcripts == {}
