"""Phone calls through Twilio Media Streams (``/twilio/media-stream``), with the fake
backends and a simulated Twilio (tests/phone.py): a spoken question answered in μ-law
``media`` with ``mark``s, barge-in (``clear`` at once, the assistant item truncated at
what the caller heard), DTMF, ``stop``, and the refusals: bad messages before ``start``,
no ``start``, a missing or bad credential."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest

from openrealtime.backends.base import Backends
from openrealtime.server import twilio as twilio_server
from openrealtime.server.app import create_app
from openrealtime.server.run import running_server
from openrealtime.server.settings import Settings
from openrealtime.server.twilio import twilio_signature
from tests.phone import call, refused, silence, tone

LONG_REPLY = " ".join(["The capital of France is Paris."] * 6)  # 30 words: 3.6 s of audio
QUESTION = silence(0.3) + tone(1.0) + silence(0.3)
START = {"event": "start", "streamSid": "MZ1", "start": {
    "streamSid": "MZ1", "callSid": "CA1", "customParameters": {},
    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}
CONNECTED = {"event": "connected", "protocol": "Call", "version": "1.0.0"}


class Seen:
    """The server events of every session (the server's observer)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, kind: str, info: dict[str, Any]) -> None:
        self.events.append((kind, info))

    def of(self, kind: str) -> list[Any]:
        return [info["event"] for k, info in self.events if k == kind and "event" in info]


@pytest.fixture
def seen() -> Seen:
    return Seen()


async def serve(backends: Backends, seen: Seen, **settings: Any) -> AsyncIterator[str]:
    app = create_app(Settings(backend="fake", **settings), backends=backends, observer=seen)
    async with running_server(app) as url:
        yield url


@pytest.fixture
async def url(backends: Backends, seen: Seen) -> AsyncIterator[str]:
    async for u in serve(backends, seen):
        yield u


def _answered(llm: Any) -> list[dict[str, Any]]:
    """The assistant messages of the latest LLM request that has any (the next turn's)."""
    for request in reversed(llm.requests):
        said = [m for m in request.messages if m.get("role") == "assistant"]
        if said:
            return said
    return []


@pytest.mark.parametrize("generating", [False, True], ids=["answer-generated",
                                                           "answer-generating"])
async def test_a_call_is_answered_and_barge_in_truncates_to_what_was_heard(
        backends: Backends, seen: Seen, url: str, generating: bool) -> None:
    llm: Any = backends.llm
    llm.reply = LONG_REPLY
    if generating:  # the TTS at real time: the barge-in cancels a running response
        backends.tts.delay_s = 0.1  # type: ignore[attr-defined]
    async with call(url) as peer:
        await peer.start(instructions="You answer the phone.")
        await peer.play(QUESTION)
        await peer.until(lambda: len(peer.echoed) >= 8)  # about 0.8 s of the answer heard
        marks = peer.events("mark")
        item_id = marks[0]["mark"]["name"].rsplit(":", 1)[0]
        assert peer.events("media") and not peer.clears
        # every media is followed by the mark of the position it reaches
        kinds = [m["event"] for m in peer.received]
        assert kinds[:4] == ["media", "mark", "media", "mark"]
        assert np.abs(peer.outbound_samples()).max() > 3000  # the fake TTS's tone
        positions = [int(m["mark"]["name"].rsplit(":", 1)[1]) for m in marks]
        steps = np.diff([0, *positions])
        assert steps.min() > 0 and steps.max() <= 100  # chunks of at most 100 ms

        await peer.play(tone(0.6))  # the caller speaks over the answer
        await peer.until(lambda: peer.clears == 1, within=3.0)
        clear_at = next(i for i, m in enumerate(peer.received) if m["event"] == "clear")
        heard = peer.heard_ms(item_id)
        await peer.until(lambda: bool(seen.of("conversation.item.truncated")), within=3.0)
        await peer.play(silence(0.5))  # the caller's turn ends: the next answer
        await peer.until(lambda: bool(_answered(llm)), within=5.0)
        await peer.stop()

    truncated = seen.of("conversation.item.truncated")
    assert [(t.item_id, t.content_index) for t in truncated] == [(item_id, 0)]
    # at the last mark that had come back when the server heard the caller
    echoed = [int(n.rsplit(":", 1)[1]) for n in peer.echoed]
    assert positions[7] <= truncated[0].audio_end_ms <= heard < 3600
    assert truncated[0].audio_end_ms in echoed
    assert peer.cleared  # marks still waiting were dropped by the clear
    # nothing more of the interrupted answer after the clear
    after = [m for m in peer.received[clear_at:] if m["event"] == "mark"]
    assert all(not m["mark"]["name"].startswith(item_id + ":") for m in after)
    # the second answer's context holds only the words the caller heard
    said = str(_answered(llm)[-1]["content"]).split()
    assert 0 < len(said) < len(LONG_REPLY.split()) // 2, said
    assert LONG_REPLY.startswith(" ".join(said))
    session = seen.of("session.created")[0].session
    assert session.instructions == "You answer the phone."
    assert session.audio.input.format.type == session.audio.output.format.type == "audio/pcmu"
    td = session.audio.input.turn_detection
    assert td.type == "server_vad" and td.interrupt_response and td.create_response
    assert seen.of("response.done")  # the call was answered by the core


async def test_speech_after_the_answer_was_heard_clears_nothing(
        backends: Backends, seen: Seen, url: str) -> None:
    llm: Any = backends.llm
    llm.reply = "Paris, of course."
    async with call(url) as peer:
        await peer.start(turn_detection="semantic_vad")
        await peer.play(QUESTION)
        await peer.until(lambda: bool(peer.events("mark"))
                         and len(peer.echoed) == len(peer.events("mark")))
        await peer.play(tone(0.5) + silence(0.3))
        await peer.until(lambda: len(seen.of("input_audio_buffer.speech_started")) == 2)
        await peer.play(silence(0.2))
        await peer.stop()
    assert peer.clears == 0 and not seen.of("conversation.item.truncated")
    assert peer.ws.close_code == 1000
    td = seen.of("session.created")[0].session.audio.input.turn_detection
    assert td.type == "semantic_vad"


async def test_dtmf_odd_messages_and_stop(seen: Seen, url: str) -> None:
    """After start, what is malformed or unknown is logged and ignored: the call goes
    on (a key press becomes a user item), nothing is sent back, stop closes 1000."""
    async with call(url) as peer:
        await peer.start()
        await peer.send("{not json")
        await peer.send(b"\x00\x01")
        await peer.send({"event": "future-thing", "streamSid": peer.stream_sid})
        await peer.send({"event": "media", "media": {"payload": "***"}})
        await peer.send({"event": "media", "media": {}})
        await peer.send({"event": "mark", "mark": {"name": "never-sent"}})
        await peer.send({"noevent": True})
        await peer.send(CONNECTED)
        await peer.send(START)  # a second start
        await peer.send({"event": "dtmf", "streamSid": peer.stream_sid,
                         "dtmf": {"track": "inbound_track", "digit": "5"}})
        await peer.until(lambda: bool(seen.of("conversation.item.added")), within=3.0)
        await peer.stop()
    assert peer.ws.close_code == 1000
    assert peer.received == []  # Twilio has no error message: errors are only logged
    item = seen.of("conversation.item.added")[0].item
    assert item.role == "user"
    assert item.content[0].text == "[The caller pressed 5 on the keypad.]"
    assert len(seen.of("error_sent")) == 6  # each refused, none ended the call


@pytest.mark.parametrize(("messages", "reason"), [
    (["{not json"], "not a Twilio Media Streams message (invalid JSON)"),
    ([CONNECTED, {"event": "media", "media": {"payload": ""}}],
     "expected 'start' first, not 'media'"),
    ([{"type": "session.update"}], "not a Twilio Media Streams message (no 'event')"),
    ([{"event": "start", "start": {}}], "bad start: 'start.streamSid' is missing."),
    ([{**START, "start": {**START["start"], "mediaFormat": {
        "encoding": "audio/x-l16", "sampleRate": 16000, "channels": 1}}}],
     "bad start: Unsupported 'start.mediaFormat': only audio/x-mulaw at 8000 Hz, mono."),
    ([{**START, "start": {**START["start"], "customParameters": {
        "turn_detection": "psychic"}}}],
     "bad start: Unsupported turn_detection parameter 'psychic': use server_vad or "
     "semantic_vad."),
    ([{**START, "start": {**START["start"], "customParameters": {"instructions": "x" * 70000}}}],
     "bad stream parameter: "),
])
async def test_a_stream_that_does_not_begin_with_start_is_closed(
        url: str, messages: list[Any], reason: str) -> None:
    code, why = await refused(url, messages)
    assert code in (1003, 1008)
    assert why.startswith(reason), why


async def test_no_start_in_time_closes(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(twilio_server, "START_TIMEOUT_S", 0.3)
    assert await refused(url, [CONNECTED]) == (1008, "no 'start' message within 0.3 s")


@pytest.mark.parametrize(("parameters", "expected"), [
    ({}, (3000, "missing api_key parameter")),
    ({"api_key": "sk-wrong"}, (3000, "invalid api_key parameter")),
    ({"api_key": "ek_unknown"}, (3000, "invalid api_key parameter")),
    ({"api_key": "sk-good"}, (1000, "session closed by client")),
])
async def test_api_key_parameter(backends: Backends, seen: Seen, parameters: dict[str, str],
                                 expected: tuple[int, str]) -> None:
    start = {**START, "start": {**START["start"], "customParameters": parameters}}
    async for url in serve(backends, seen, api_keys="sk-good"):
        assert await refused(url, [CONNECTED, start, {"event": "stop"}]) == expected


async def test_an_ephemeral_secret_as_api_key_brings_its_session(
        backends: Backends, seen: Seen) -> None:
    import httpx

    async for url in serve(backends, seen, api_keys="sk-good"):
        async with httpx.AsyncClient() as http:
            minted = await http.post(url + "/v1/realtime/client_secrets",
                                     headers={"Authorization": "Bearer sk-good"},
                                     json={"session": {"type": "realtime",
                                                       "instructions": "Be a receptionist."}})
        secret = minted.json()["value"]
        start = {**START, "start": {**START["start"], "customParameters": {"api_key": secret}}}
        assert await refused(url, [CONNECTED, start, {"event": "stop"}]) == (
            1000, "session closed by client")
    session = seen.of("session.created")[0].session
    assert session.instructions == "Be a receptionist."
    assert session.audio.output.format.type == "audio/pcmu"


@pytest.mark.parametrize("case", ["valid", "forwarded", "missing", "invalid", "other-token"])
async def test_twilio_signature(backends: Backends, seen: Seen, case: str) -> None:
    token = "twilio-auth-token"
    async for url in serve(backends, seen, twilio_auth_token=token, api_keys="sk-good"):
        host = url.removeprefix("http://")
        signed = f"wss://{host}/twilio/media-stream"
        headers: dict[str, str] = {}
        if case == "valid":
            headers["X-Twilio-Signature"] = twilio_signature(token, signed)
        elif case == "forwarded":  # a tunnel: Twilio signed the public URL
            headers["X-Forwarded-Host"] = "abc.trycloudflare.com"
            headers["X-Twilio-Signature"] = twilio_signature(
                token, "wss://abc.trycloudflare.com/twilio/media-stream")
        elif case == "invalid":
            headers["X-Twilio-Signature"] = "AAAA" + twilio_signature(token, signed)[4:]
        elif case == "other-token":
            headers["X-Twilio-Signature"] = twilio_signature("another", signed)
        # a valid signature is enough: no api_key parameter although the server has keys
        result = await refused(url, [CONNECTED, START, {"event": "stop"}], headers=headers)
    expected = {"valid": (1000, "session closed by client"),
                "forwarded": (1000, "session closed by client"),
                "missing": (3000, "missing X-Twilio-Signature")}
    assert result == expected.get(case, (3000, "invalid X-Twilio-Signature"))
