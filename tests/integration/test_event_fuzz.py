"""Property: whatever a client sends, the session survives and says what it rejected.

Hypothesis sends random frames (valid events from a corpus with random mutations:
wrong types, huge and deep values, surrogates, random unicode, missing and unknown
fields and types; raw text and binary frames) over one GA and one beta connection to
the real server with fake backends. After each frame a ``conversation.item.retrieve``
of a missing item with its own event_id is the barrier: its error proves the session
is alive and that everything the frame caused has been sent. Every frame known to be
invalid must have got an ``error``; no frame may cause a ``server_error`` (a bug).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from openrealtime.protocol.dialect import BetaCodec, GaCodec
from openrealtime.protocol.frame import MAX_JSON_DEPTH
from tests.integration.test_errors import connect, next_event

BETA = {"OpenAI-Beta": "realtime=v1"}
MISSING = "item_missing_barrier"

GA_CORPUS: list[dict[str, Any]] = [
    {"type": "session.update", "session": {
        "type": "realtime", "instructions": "Be brief.", "output_modalities": ["text"],
        "audio": {"input": {"turn_detection": None, "format": {"type": "audio/pcm",
                                                                 "rate": 24000}},
                  "output": {"voice": "alloy", "speed": 1.0}},
        "tools": [{"type": "function", "name": "f", "description": "d", "parameters": {
            "type": "object", "properties": {"a": {"type": "string"}}}}],
        "tool_choice": "auto", "max_output_tokens": 100, "tracing": {"group_id": "g"},
        "prompt": {"id": "p"}, "truncation": "auto"}},
    {"type": "input_audio_buffer.append", "audio": base64.b64encode(bytes(960)).decode()},
    {"type": "input_audio_buffer.commit"},
    {"type": "input_audio_buffer.clear"},
    {"type": "conversation.item.create", "previous_item_id": None, "item": {
        "type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "hello"},
            {"type": "input_audio", "audio": base64.b64encode(bytes(4800)).decode()}]}},
    {"type": "conversation.item.create", "item": {
        "type": "function_call_output", "call_id": "c1", "output": "{}"}},
    {"type": "conversation.item.retrieve", "item_id": "nope"},
    {"type": "conversation.item.truncate", "item_id": "nope", "content_index": 0,
     "audio_end_ms": 10},
    {"type": "conversation.item.delete", "item_id": "nope"},
    {"type": "response.create", "response": {
        "conversation": "none", "output_modalities": ["text"], "instructions": "Say hi.",
        "metadata": {"k": "v"}, "max_output_tokens": 20, "tool_choice": "none",
        "input": [{"type": "message", "role": "user",
                   "content": [{"type": "input_text", "text": "hi"}]}]}},
    {"type": "response.cancel", "response_id": "resp_nope"},
    {"type": "output_audio_buffer.clear"},
]
BETA_CORPUS: list[dict[str, Any]] = [
    {"type": "session.update", "session": {
        "modalities": ["text", "audio"], "instructions": "Be brief.", "voice": "alloy",
        "input_audio_format": "pcm16", "output_audio_format": "g711_ulaw",
        "input_audio_transcription": {"model": "whisper-1"}, "turn_detection": None,
        "temperature": 0.8, "max_response_output_tokens": "inf"}},
    {"type": "conversation.item.create", "item": {
        "type": "message", "role": "assistant", "content": [{"type": "text", "text": "hi"}]}},
    {"type": "response.create", "response": {
        "conversation": "none", "modalities": ["text"], "output_audio_format": "pcm16",
        "voice": "alloy", "instructions": "Say hi."}},
    {"type": "input_audio_buffer.append", "audio": base64.b64encode(bytes(960)).decode()},
    {"type": "conversation.item.retrieve", "item_id": "nope"},
]


def nested(depth: int) -> Any:
    value: Any = 0
    for level in range(depth):
        value = {"k": value} if level % 2 else [value]
    return value


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False,
                                                          allow_infinity=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12)
SURROGATES = st.sampled_from(["\ud800", "\udfff", "a\udc00b", "\ude00\ud83d"])
# Values known to make any event invalid wherever they land.
POISON = SURROGATES | st.sampled_from([nested(70), nested(300)])
# Values that may or may not be valid where they land.
MUTANTS = (json_values | st.text() | st.sampled_from(
    ["", "x" * 70_000, "audio/pcmu", "pcm16", "inf", -1, 0, 2**70, 1e308, [], {},
     "conversation.item.create", "message", "user", "assistant", "function"]))
UNKNOWN_TYPES = st.text(max_size=30) | st.sampled_from(
    ["session.created", "transcription_session.update", "response.done", "error", ""])


@dataclass
class Frame:
    dialect: str  # "ga" or "beta"
    payload: str | bytes
    invalid: bool  # known to be invalid: must get an error
    event_id: str | None = None  # the event_id an error must name, when known


def _pick(event: Any, draw: Any) -> tuple[Any, Any]:
    """A random (container, key) inside ``event``, walking down from its top."""
    container, key = event, draw(st.sampled_from(sorted(event)))
    while isinstance(container[key], dict | list) and container[key] and draw(st.booleans()):
        container = container[key]
        keys: list[Any] = sorted(container) if isinstance(container, dict) \
            else list(range(len(container)))
        key = draw(st.sampled_from(keys))
    return container, key


def _dumps(event: Any, ascii_only: bool) -> str:
    text = json.dumps(event, ensure_ascii=ascii_only)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a raw surrogate cannot travel as UTF-8: escape it
        text = json.dumps(event)
    return text


def mutate(event: dict[str, Any], draw: Any, times: int) -> None:
    """Mutate ``event`` in place ``times`` times (its ``event_id`` stays)."""
    for _ in range(times):
        container, key = _pick(event, draw)
        if container is event and key == "event_id":
            continue  # keep the event_id the error must name
        op = draw(st.sampled_from(["replace", "delete", "poison", "add", "type"]))
        if op == "replace":
            container[key] = copy.deepcopy(draw(MUTANTS))
        elif op == "delete" and isinstance(container, dict):
            del container[key]
        elif op == "poison":
            container[key] = copy.deepcopy(draw(POISON))
        elif op == "add" and isinstance(container, dict):
            container[draw(st.text(max_size=10))] = copy.deepcopy(draw(MUTANTS))
        elif op == "type":
            event["type"] = draw(UNKNOWN_TYPES)


@st.composite
def mutated_events(draw: Any) -> Frame:
    dialect = draw(st.sampled_from(["ga", "beta"]))
    event = copy.deepcopy(draw(st.sampled_from(GA_CORPUS if dialect == "ga" else BETA_CORPUS)))
    event_id = f"f{draw(st.integers(0, 10**9))}"
    event["event_id"] = event_id
    mutate(event, draw, draw(st.integers(1, 3)))
    if event.get("type") == "session.close":
        event["type"] = "nope"  # never close the shared connection
    invalid = _known_invalid(event, dialect)
    return Frame(dialect, _dumps(event, draw(st.booleans())), invalid,
                 event_id if invalid else None)


def _known_invalid(event: dict[str, Any], dialect: str) -> bool:
    """An oracle for what must be refused, written apart from the server's checks."""
    supported = (GaCodec if dialect == "ga" else BetaCodec).supported_types
    kind = event.get("type")
    if not isinstance(kind, str) or kind not in supported or kind.startswith("transcription"):
        return True
    return _depth(event) > MAX_JSON_DEPTH or _has_surrogate(event)


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _has_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return any("\ud800" <= c <= "\udfff" for c in value)
    if isinstance(value, dict):
        return any(_has_surrogate(k) or _has_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_surrogate(v) for v in value)
    return False


raw_frames = st.builds(
    Frame,
    dialect=st.sampled_from(["ga", "beta"]),
    payload=st.binary(max_size=64) | st.text(max_size=64).filter(lambda t: not _is_object(t))
    | st.sampled_from(["[" * 5000, "{" * 3000, '{"a":' * 2000, "[]", "null", "1e400",
                       '{"type": NaN}', '{"type": "session.update"' + " " * 10]),
    invalid=st.just(True))


def _is_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


@dataclass
class Live:
    """One connection per dialect, shared by all examples, and a barrier counter."""

    url: str
    sockets: dict[str, Any] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=itertools.count)

    async def socket(self, dialect: str) -> Any:
        if dialect not in self.sockets:
            headers = BETA if dialect == "beta" else {}
            self.sockets[dialect] = await connect(self.url, additional_headers=headers)
        return self.sockets[dialect]

    async def exchange(self, frame: Frame) -> list[dict[str, Any]]:
        """Send ``frame`` and a barrier; every event up to the barrier's error."""
        ws = await self.socket(frame.dialect)
        barrier = f"sync{next(self.ids)}"
        await ws.send(frame.payload)
        await ws.send(json.dumps({"type": "conversation.item.retrieve", "item_id": MISSING,
                                  "event_id": barrier}))
        seen: list[dict[str, Any]] = []
        async with asyncio.timeout(10):
            while True:
                event = json.loads(await ws.recv())
                if event["type"] == "error" and event["error"]["event_id"] == barrier:
                    assert event["error"]["code"] in {"item_retrieve_invalid_item_id",
                                                      "rate_limit_exceeded"}, event
                    return seen
                seen.append(event)


@pytest.fixture
async def live(server_url: str) -> AsyncIterator[Live]:
    holder = Live(server_url)
    yield holder
    for ws in holder.sockets.values():
        await ws.close()


def _check(frame: Frame, seen: list[dict[str, Any]]) -> None:
    errors = [e["error"] for e in seen if e["type"] == "error"]
    assert not [e for e in errors if e["type"] == "server_error"], errors
    if frame.invalid:
        assert errors, f"no error for {frame.payload[:200]!r}"
        if frame.event_id is not None:
            assert frame.event_id in [e["event_id"] for e in errors], errors


REPRODUCTIONS = [
    Frame("ga", '{"type": "\\ud800x", "event_id": "e1"}', True, "e1"),
    Frame("beta", '{"type": "\\ud800x", "event_id": "e1"}', True, "e1"),
    Frame("ga", "[" * 5000, True),
    Frame("ga", json.dumps({"type": "session.update", "event_id": "e2", "session": {
        "type": "realtime", "tracing": nested(300)}}), True, "e2"),
    Frame("ga", json.dumps({"type": "session.update", "event_id": "e3", "session": {
        "type": "realtime", "prompt": {"id": "p", "v": nested(300)}}}), True, "e3"),
    Frame("ga", json.dumps({"type": "session.update", "event_id": "e4", "session": {
        "type": "realtime", "tools": [{"type": "function", "name": "f",
                                       "parameters": nested(300)}]}}), True, "e4"),
    Frame("ga", json.dumps({"type": "response.create", "event_id": "e5", "response": {
        "prompt": {"id": "p", "v": nested(300)}, "metadata": {"k": nested(300)}}}),
        True, "e5"),
    Frame("beta", '{"type":"session.update","event_id":"e6",'
          '"session":{"input_audio_format":["pcm16"]}}', True, "e6"),
    Frame("beta", '{"type":"response.create","event_id":"e7",'
          '"response":{"output_audio_format":{"a":1}}}', True, "e7"),
    Frame("ga", b"\x00\xff", True),
]


def _with_examples(test: Any) -> Any:
    for frame in REPRODUCTIONS:
        test = example(frame=frame)(test)
    return test


@_with_examples
@settings(max_examples=400, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow, HealthCheck.data_too_large])
@given(frame=mutated_events() | raw_frames)
async def test_no_frame_drops_the_session(live: Live, frame: Frame) -> None:
    seen = await live.exchange(frame)
    _check(frame, seen)
    codes = sorted({e["error"]["code"] or "none" for e in seen if e["type"] == "error"})
    event(f"{'invalid' if frame.invalid else 'unknown'} -> {','.join(codes) or 'accepted'}")


async def test_sessions_still_answer_after_fuzzing(live: Live) -> None:
    """The barrier itself, outside hypothesis: a session.update after odd frames."""
    for frame in REPRODUCTIONS:
        _check(frame, await live.exchange(frame))
    ws = await live.socket("ga")
    await ws.send(json.dumps({"type": "session.update", "session": {
        "type": "realtime", "instructions": "Still here."}}))
    updated = await next_event(ws, "session.updated")
    assert updated["session"]["instructions"] == "Still here."
