"""Frame decoding refuses what would break a session later; errors always encode."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openrealtime.protocol import client_events as ce
from openrealtime.protocol.dialect import BetaCodec, GaCodec, beta_session_to_ga
from openrealtime.protocol.errors import ProtocolError, json_type, safe_text
from openrealtime.protocol.frame import MAX_JSON_DEPTH, check_frame, decode_frame
from openrealtime.protocol.server_events import error_event
from openrealtime.protocol.session import (
    MAX_INSTRUCTIONS_CHARS,
    RealtimeSession,
    apply_update,
)
from openrealtime.runtime.bucket import TokenBucket


def nested(depth: int) -> Any:
    value: Any = 0
    for level in range(depth):
        value = {"k": value} if level % 2 else [value]
    return value


def refused(text: str) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        check_frame(decode_frame(text))
    return info.value


@pytest.mark.parametrize(("text", "param"), [
    ('{"type": "\\ud800x"}', "type"),
    ('{"a": {"\\udc00": 1}}', "a.\\udc00"),
    ('{"a": [1, ["ok", "\\ude00\\ud83d"]]}', "a[1][1]"),
    ('{"type": "x\ud800"}', "type"),  # a raw surrogate, as a non-WebSocket transport may hand over
])
def test_lone_surrogates_are_refused_with_their_path(text: str, param: str) -> None:
    exc = refused(text)
    assert exc.code == "invalid_value"
    assert exc.param == param
    assert "surrogate" in exc.message
    error_event(exc.to_error(None)).model_dump_json()  # and the error encodes


def test_surrogate_pairs_and_non_ascii_are_kept() -> None:
    data = decode_frame('{"t": "\\ud83d\\ude00 caf\\u00e9 \u65e5\u672c"}')
    check_frame(data)
    assert data["t"] == "\U0001f600 caf\u00e9 \u65e5\u672c"


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 300, 5000])
def test_deep_nesting_is_refused(depth: int) -> None:
    text = '{"a": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"
    exc = refused(text)
    assert exc.code == "invalid_event"
    assert "nesting too deep" in exc.message


def test_nesting_at_the_limit_is_kept() -> None:
    check_frame(decode_frame(json.dumps({"a": nested(MAX_JSON_DEPTH - 1)})))


def test_unclosed_brackets_do_not_recurse_away() -> None:
    exc = refused("[" * 100_000)
    assert exc.code == "invalid_event"


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "-2e999"])
def test_non_finite_numbers_are_refused(number: str) -> None:
    assert refused('{"x": ' + number + "}").code == "invalid_json"


@pytest.mark.parametrize("text", ["nope", "[]", "1", '"s"', "null", '{"a": 1} x'])
def test_not_an_object(text: str) -> None:
    assert refused(text).code == "invalid_json"


def test_parse_json_does_both() -> None:
    assert ce.parse_json('{"type": "x"}') == {"type": "x"}
    with pytest.raises(ProtocolError):
        ce.parse_json('{"type": "\\ud800"}')


def test_error_detail_is_always_encodable() -> None:
    event = error_event({"type": "invalid_request_error", "code": "c\udfff",
                         "message": "bad \ud800" + "x" * 10_000, "param": "p\ud800",
                         "event_id": "\udc00"})
    wire = json.loads(event.model_dump_json())["error"]
    assert wire["param"] == "p\\ud800"
    assert wire["event_id"] == "\\udc00"
    assert len(wire["message"]) <= 4096


def test_safe_text_and_json_type() -> None:
    assert safe_text("plain") == "plain"
    assert safe_text("a\ud800b") == "a\\ud800b"
    assert [json_type(v) for v in (None, True, 1, 1.5, "s", [], {})] == [
        "null", "a boolean", "a number", "a number", "a string", "an array", "an object"]


@pytest.mark.parametrize(("session", "param"), [
    ({"input_audio_format": ["pcm16"]}, "session.input_audio_format"),
    ({"output_audio_format": {"x": 1}}, "session.output_audio_format"),
    ({"input_audio_format": None}, "session.input_audio_format"),
    ({"input_audio_format": 16}, "session.input_audio_format"),
    ({"input_audio_format": True}, "session.input_audio_format"),
    ({"modalities": [["text"]]}, "session.modalities[0]"),
    ({"modalities": {"text": 1}}, "session.modalities"),
    ({"modalities": None}, "session.modalities"),
])
def test_beta_wrong_types_are_protocol_errors(session: dict[str, Any], param: str) -> None:
    with pytest.raises(ProtocolError) as info:
        beta_session_to_ga(session)
    assert (info.value.code, info.value.param) == ("invalid_type", param)


@pytest.mark.parametrize("response", [
    {"output_audio_format": [1]}, {"modalities": [None]}, {"modalities": 3}])
def test_beta_response_wrong_types(response: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError) as info:
        BetaCodec().decode({"type": "response.create", "response": response})
    assert info.value.code == "invalid_type"
    assert info.value.param is not None and info.value.param.startswith("response.")


def test_beta_errors_name_the_beta_field() -> None:
    update = BetaCodec().decode({"type": "session.update", "session": {
        "turn_detection": {"type": "server_vad", "threshold": "loud"}}})
    with pytest.raises(ProtocolError) as info:
        apply_update(RealtimeSession(), update["session"], voice_locked=False)
    exc = BetaCodec().wire_error(info.value)
    assert exc.param == "session.turn_detection.threshold"
    assert "'session.turn_detection.threshold'" in exc.message
    ga = ProtocolError("x", param="session.audio.output.voice")
    assert GaCodec().wire_error(ga).param == "session.audio.output.voice"
    assert BetaCodec().wire_error(ga).param == "session.voice"


def test_instructions_are_capped() -> None:
    ok = "x" * MAX_INSTRUCTIONS_CHARS
    assert apply_update(RealtimeSession(), {"type": "realtime", "instructions": ok},
                        voice_locked=False).instructions == ok
    with pytest.raises(ProtocolError) as info:
        apply_update(RealtimeSession(), {"type": "realtime", "instructions": ok + "x"},
                     voice_locked=False)
    assert (info.value.code, info.value.param) == ("string_above_max_length",
                                                   "session.instructions")
    with pytest.raises(ProtocolError) as info:
        ce.validate_event({"type": "response.create", "response": {"instructions": ok + "x"}})
    assert (info.value.code, info.value.param) == ("string_above_max_length",
                                                   "response.instructions")


def test_unknown_item_type_lists_the_tags() -> None:
    with pytest.raises(ProtocolError) as info:
        ce.validate_event({"type": "conversation.item.create", "item": {"type": "bogus"}})
    assert info.value.param == "item.type"
    assert "'message', 'function_call' and 'function_call_output'" in info.value.message


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_allows_bursts_then_the_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(10.0, 20.0, clock=clock)
    assert sum(bucket.take() for _ in range(50)) == 20  # the burst, then nothing
    clock.now += 0.5
    assert sum(bucket.take() for _ in range(50)) == 5  # 0.5 s at 10/s
    clock.now += 100.0
    assert sum(bucket.take() for _ in range(50)) == 20  # refills up to the burst only


def test_token_bucket_unlimited() -> None:
    for rate in (0.0, float("inf")):
        bucket = TokenBucket(rate, 1.0, clock=Clock())
        assert all(bucket.take() for _ in range(1000))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=6), children, max_size=3), max_leaves=8)
BETA_SESSION_KEYS = ["modalities", "voice", "speed", "input_audio_format", "output_audio_format",
                     "input_audio_transcription", "input_audio_noise_reduction",
                     "turn_detection", "max_response_output_tokens", "client_secret",
                     "instructions", "tools", "temperature"]
BETA_RESPONSE_KEYS = ["modalities", "voice", "output_audio_format", "max_output_tokens",
                      "max_response_output_tokens", "input", "commit", "instructions"]
ITEM = st.fixed_dictionaries({"type": st.sampled_from(["message", "x"]) | JSON,
                              "role": st.sampled_from(["assistant", "user"]) | JSON,
                              "content": st.lists(JSON | st.fixed_dictionaries(
                                  {"type": st.sampled_from(["text", "audio"]) | JSON}),
                                  max_size=3) | JSON})
BETA_EVENTS = (
    st.fixed_dictionaries({"type": st.just("session.update"), "session": JSON | st.dictionaries(
        st.sampled_from(BETA_SESSION_KEYS), JSON, max_size=4)})
    | st.fixed_dictionaries({"type": st.just("response.create"), "response": JSON
                             | st.dictionaries(st.sampled_from(BETA_RESPONSE_KEYS),
                                               JSON | st.lists(ITEM, max_size=2), max_size=4)})
    | st.fixed_dictionaries({"type": st.just("conversation.item.create"), "item": ITEM | JSON})
    | st.dictionaries(st.sampled_from(["type", "event_id", "session", "item"]), JSON))


@settings(max_examples=500, deadline=None, derandomize=True, database=None)
@given(event=BETA_EVENTS)
def test_any_json_in_a_beta_event_is_a_protocol_error_at_worst(event: dict[str, Any]) -> None:
    """Whatever JSON lands in a beta field, the codec and the validation that follows
    raise ProtocolError or nothing (never TypeError, KeyError, AttributeError...)."""
    codec = BetaCodec()
    try:
        data = codec.decode(event)
        parsed = ce.validate_event(data, codec.supported_types)
        if isinstance(parsed, ce.SessionUpdate):
            apply_update(RealtimeSession(), parsed.session, voice_locked=False,
                         allow_temperature=True)
    except ProtocolError as exc:
        codec.wire_error(exc)
        error_event(exc.to_error(None)).model_dump_json()
