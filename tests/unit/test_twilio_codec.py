"""TwilioCodec without a server: Twilio messages to GA events, audio to media + marks,
playback tracking from echoed marks, barge-in; and the X-Twilio-Signature check."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest

from openrealtime.protocol import server_events as ev
from openrealtime.protocol.errors import ProtocolError
from openrealtime.protocol.twilio import TwilioCodec, parse_start
from openrealtime.server.twilio import signature_valid, signed_urls, twilio_signature

START = {"event": "start", "sequenceNumber": "1", "streamSid": "MZ1", "start": {
    "streamSid": "MZ1", "callSid": "CA1", "accountSid": "AC1", "tracks": ["inbound"],
    "customParameters": {"instructions": "Be brief.", "voice": "marin",
                         "language": "fr", "caller": "+15550100"},
    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}


def started() -> TwilioCodec:
    codec = TwilioCodec()
    codec.intercept(START)
    return codec


def delta(item_id: str, ms: int) -> ev.ResponseOutputAudioDelta:
    audio = bytes(range(256)) * (ms * 8 // 256 + 1)
    return ev.ResponseOutputAudioDelta(response_id="resp_1", item_id=item_id, output_index=0,
                                       content_index=0,
                                       delta=base64.b64encode(audio[:ms * 8]).decode())


def sent(frames: list[str]) -> list[dict[str, Any]]:
    return [json.loads(f) for f in frames]


def media(payload: bytes = b"\xff" * 160) -> dict[str, Any]:
    return {"event": "media", "streamSid": "MZ1", "media": {
        "track": "inbound", "chunk": "1", "timestamp": "20",
        "payload": base64.b64encode(payload).decode()}}


def mark(name: str) -> dict[str, Any]:
    return {"event": "mark", "streamSid": "MZ1", "mark": {"name": name}}


def speech() -> ev.InputAudioBufferSpeechStarted:
    return ev.InputAudioBufferSpeechStarted(audio_start_ms=0, item_id="item_user")


def test_start_configures_a_phone_session() -> None:
    codec = TwilioCodec()
    ga, replies = codec.intercept(START)
    assert replies == []
    assert ga == [{"type": "session.update", "session": {
        "type": "realtime", "output_modalities": ["audio"], "instructions": "Be brief.",
        "audio": {"input": {"format": {"type": "audio/pcmu"},
                            "transcription": {"model": "whisper-1", "language": "fr"},
                            "turn_detection": {"type": "server_vad", "create_response": True,
                                               "interrupt_response": True}},
                  "output": {"format": {"type": "audio/pcmu"}, "voice": "marin"}}}}]
    assert codec.stream is not None and codec.stream.call_sid == "CA1"
    assert codec.stream.parameters["caller"] == "+15550100"
    with pytest.raises(ProtocolError, match="already started"):
        codec.intercept(START)


@pytest.mark.parametrize(("start", "message"), [
    ({}, "'start' must be an object"),
    ({"start": {"callSid": "CA1"}}, "streamSid"),
    ({"start": {"streamSid": "MZ1", "mediaFormat": {"encoding": "audio/x-l16",
                                                     "sampleRate": 8000, "channels": 1}}},
     "mediaFormat"),
    ({"start": {"streamSid": "MZ1", "customParameters": "x"}}, "customParameters"),
])
def test_a_bad_start_is_refused(start: dict[str, Any], message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        parse_start(start)


def test_caller_audio_becomes_appends_and_stop_closes() -> None:
    codec = TwilioCodec()
    with pytest.raises(ProtocolError, match="before 'start'"):
        codec.intercept(media())
    codec.intercept(START)
    payload = media()["media"]["payload"]
    assert codec.intercept(media()) == ([{"type": "input_audio_buffer.append",
                                          "audio": payload}], [])
    outbound = {**media(), "media": {**media()["media"], "track": "outbound"}}
    assert codec.intercept(outbound) == ([], [])
    assert codec.intercept({"event": "connected"}) == ([], [])
    assert codec.intercept({"event": "something-new"}) == ([], [])
    with pytest.raises(ProtocolError, match="base64"):
        codec.intercept({"event": "media", "media": {"payload": "#"}})
    with pytest.raises(ProtocolError, match="no 'event'"):
        codec.intercept({"type": "session.update"})
    assert codec.intercept({"event": "stop"}) == ([{"type": "session.close"}], [])


def test_a_key_press_becomes_a_user_item() -> None:
    codec = started()
    ga, _ = codec.intercept({"event": "dtmf", "dtmf": {"track": "inbound_track",
                                                       "digit": "#"}})
    assert ga[0]["item"]["content"][0]["text"] == "[The caller pressed # on the keypad.]"
    with pytest.raises(ProtocolError, match="digit"):
        codec.intercept({"event": "dtmf", "dtmf": {}})


def test_outbound_audio_is_cut_into_media_each_followed_by_a_mark() -> None:
    codec = started()
    out = sent(codec.encode(delta("item_a", 250), 0.8))
    assert [m["event"] for m in out] == ["media", "mark"] * 3
    assert all(m["streamSid"] == "MZ1" for m in out)
    assert [m["mark"]["name"] for m in out[1::2]] == ["item_a:100", "item_a:200",
                                                      "item_a:250"]
    audio = b"".join(base64.b64decode(m["media"]["payload"]) for m in out[::2])
    assert audio == base64.b64decode(delta("item_a", 250).delta)
    more = sent(codec.encode(delta("item_a", 40), 0.8))
    assert more[1]["mark"]["name"] == "item_a:290"  # the item's position goes on


def test_barge_in_clears_and_truncates_at_the_last_echoed_mark() -> None:
    codec = started()
    codec.encode(delta("item_a", 300), 0.8)
    codec.intercept(mark("item_a:200"))  # (item_a:100 is taken as played too)
    assert codec.heard == {"item_a": 200} and list(codec.pending) == ["item_a:300"]
    assert sent(codec.encode(speech(), 0.8)) == [{"event": "clear", "streamSid": "MZ1"}]
    # what the clear dropped comes back from Twilio as marks: not heard
    assert codec.intercept(mark("item_a:300")) == ([{"type": "output_audio_buffer.clear"}],
                                                   [])
    ga, _ = codec.intercept(media())  # one interrupt a frame, after the frame's audio
    assert ga[1:] == [{"type": "conversation.item.truncate", "item_id": "item_a",
                       "content_index": 0, "audio_end_ms": 200}]
    assert codec.intercept(media())[0] == [ga[0]]
    assert codec.encode(speech(), 0.8) == []  # nothing left to clear


def test_barge_in_truncates_every_item_not_fully_heard() -> None:
    codec = started()
    codec.encode(delta("item_a", 100), 0.8)
    codec.encode(delta("item_b", 100), 0.8)
    codec.intercept(mark("item_a:100"))
    codec.encode(delta("item_a", 100), 0.8)  # (out of band answers may interleave)
    assert codec.encode(speech(), 0.8)
    truncates = [e for e in codec.interrupts if e["type"] == "conversation.item.truncate"]
    assert [(t["item_id"], t["audio_end_ms"]) for t in truncates] == [("item_b", 0),
                                                                      ("item_a", 100)]


def test_nothing_pending_nothing_cleared_and_errors_are_only_logged(
        caplog: pytest.LogCaptureFixture) -> None:
    codec = started()
    codec.encode(delta("item_a", 100), 0.8)
    codec.intercept(mark("item_a:100"))
    assert codec.encode(speech(), 0.8) == []
    error = ev.error_event({"type": "invalid_request_error", "code": "invalid_json",
                            "message": "Invalid event", "param": None, "event_id": None})
    with caplog.at_level(logging.WARNING):
        assert codec.encode(error, 0.8) == []
        stopped = ev.InputAudioBufferSpeechStopped(audio_end_ms=0, item_id="item_user")
        assert codec.encode(stopped, 0.8) == []  # the rest of the core's events: nothing
    assert "Invalid event (invalid_json)" in caplog.text


def test_twilio_signature_of_the_documented_example() -> None:
    # Twilio's documented example: the URL then the sorted POST parameters, token 12345
    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234",
              "From": "+12349013030", "To": "+18005551212"}
    signed = "https://mycompany.com/myapp.php?foo=1&bar=2" + "".join(
        k + params[k] for k in sorted(params))
    assert twilio_signature("12345", signed) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_signed_urls_follow_the_public_host() -> None:
    urls = signed_urls({"host": "localhost:8765", "x-forwarded-host": "abc.example.com"},
                       "/twilio/media-stream", "")
    assert urls[:3] == ["wss://abc.example.com/twilio/media-stream",
                        "wss://abc.example.com:443/twilio/media-stream",
                        "wss://localhost:8765/twilio/media-stream"]
    assert "wss://localhost/twilio/media-stream" in urls
    token = "secret"
    good = twilio_signature(token, "wss://abc.example.com/twilio/media-stream")
    assert signature_valid(token, good, urls)
    assert not signature_valid(token, good, urls[2:])
    assert not signature_valid("other", good, urls)
