"""WebRTC calls (``/v1/realtime/calls``) with an aiortc caller and the fake models: the
session's events on the data channel ``oai-events``, the voice on an Opus track,
``output_audio_buffer.*`` from the server's own playout, barge-in that stops the audio
and truncates the item to what was heard, the sideband WebSocket, and bad offers."""

from __future__ import annotations

import json
from typing import Any

import httpx
import numpy as np
import pytest
import websockets

from openrealtime.backends.base import Backends
from openrealtime.server.app import create_app
from openrealtime.server.run import running_server
from openrealtime.server.settings import Settings
from tests.sound import utterance
from tests.webrtc_client import calling

pytest.importorskip("aiortc")


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x ** 2))) if len(x) else 0.0


async def test_a_spoken_turn_over_webrtc(server_url: str) -> None:
    async with calling() as caller:
        response = await caller.dial(server_url)
        assert response.status_code == 201, response.text
        assert response.headers["content-type"].startswith("application/sdp")
        assert response.headers["location"].startswith("/v1/realtime/calls/rtc_")
        created = await caller.until("session.created")
        assert created["session"]["type"] == "realtime"
        caller.mic.say(utterance(speech_s=1.0))
        stopped = await caller.until("output_audio_buffer.stopped")
    kinds = [e["type"] for e in caller.seen]
    assert kinds.index("input_audio_buffer.speech_started") < kinds.index(
        "input_audio_buffer.speech_stopped") < kinds.index("response.created")
    done = next(e for e in caller.seen if e["type"] == "response.done")
    started = next(e for e in caller.seen if e["type"] == "output_audio_buffer.started")
    assert done["response"]["status"] == "completed"
    assert started["response_id"] == stopped["response_id"] == done["response"]["id"]
    # (the fake models answer faster than real time: playback starts after response.done
    # here; stopped always comes after it, once the last sample has played)
    assert kinds.index("response.done") < kinds.index("output_audio_buffer.stopped")
    assert "response.output_audio.delta" not in kinds  # the audio went over RTP
    assert rms(caller.audio()) > 0.02  # the fake voice (a tone) arrived through Opus


async def test_talking_over_the_answer_stops_it_and_truncates(server_url: str,
                                                              backends: Backends) -> None:
    llm: Any = backends.llm
    llm.reply = " ".join(["The sun is a star and it is very hot."] * 2)
    tts: Any = backends.tts
    tts.ms_per_word = 500  # a 10-second answer
    async with calling() as caller:
        await caller.dial(server_url)
        await caller.until("session.created")
        caller.mic.say(utterance(speech_s=1.0))
        await caller.until("output_audio_buffer.started", within=20)
        caller.mic.say(utterance(speech_s=1.0, lead_s=0.5))  # over the answer
        await caller.until("input_audio_buffer.speech_started")
        cleared = await caller.until("output_audio_buffer.cleared")
        truncated = await caller.until("conversation.item.truncated")
    heard_ms = truncated["audio_end_ms"]
    assert 200 < heard_ms < 8000  # some, not all, of a 10-second answer
    kinds = [e["type"] for e in caller.seen]
    first_done = next(e for e in caller.seen if e["type"] == "response.done")
    assert cleared["response_id"] == first_done["response"]["id"] or \
        kinds.index("output_audio_buffer.cleared") < kinds.index("response.done")


async def test_multipart_offer_with_a_session_and_a_sideband(server_url: str) -> None:
    session = {"type": "realtime", "instructions": "Be brief.",
               "audio": {"output": {"voice": "cedar"}}}
    async with calling() as caller:
        response = await caller.dial(server_url, session=session)
        assert response.status_code == 201, response.text
        created = await caller.until("session.created")
        assert created["session"]["instructions"] == "Be brief."
        assert created["session"]["audio"]["output"]["voice"] == "cedar"
        call_id = caller.location.rsplit("/", 1)[-1]
        ws_url = server_url.replace("http", "ws") + f"/v1/realtime?call_id={call_id}"
        async with websockets.connect(ws_url) as sideband:
            await sideband.send(json.dumps({"type": "session.update", "session": {
                "type": "realtime", "instructions": "Speak like a pirate."}}))
            updated = await caller.until("session.updated")
            assert updated["session"]["instructions"] == "Speak like a pirate."
            seen_by_backend = json.loads(await sideband.recv())
            assert seen_by_backend["type"] == "session.updated"
        async with httpx.AsyncClient() as http:
            hangup = await http.post(f"{server_url}/v1/realtime/calls/{call_id}/hangup")
            assert hangup.status_code == 200
            missing = await http.post(f"{server_url}/v1/realtime/calls/rtc_nope/hangup")
            assert missing.status_code == 404


async def test_the_beta_sdp_flow(server_url: str) -> None:
    async with calling() as caller:
        response = await caller.dial(server_url, path="/v1/realtime?model=gpt-4o-realtime")
        assert response.status_code == 201
        created = await caller.until("session.created")
        assert created["session"]["object"] == "realtime.session"
        assert "modalities" in created["session"]  # the beta shape


async def test_bad_offers_and_keys_get_clear_errors(backends: Backends) -> None:
    app = create_app(Settings(backend="fake", api_keys="sk-test"), backends=backends)
    async with running_server(app) as url, httpx.AsyncClient() as http:
        sdp = {"Content-Type": "application/sdp"}
        no_key = await http.post(url + "/v1/realtime/calls", content="v=0\r\n", headers=sdp)
        assert no_key.status_code == 401
        key = {**sdp, "Authorization": "Bearer sk-test"}
        garbage = await http.post(url + "/v1/realtime/calls", content="hello", headers=key)
        assert garbage.status_code == 400
        assert garbage.json()["error"]["code"] == "invalid_sdp"
        broken = await http.post(url + "/v1/realtime/calls", headers=key,
                                 content="v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nm=audio x\r\n")
        assert broken.status_code == 400 and broken.json()["error"]["code"] == "invalid_sdp"
        expired = await http.post(url + "/v1/realtime/calls", content="v=0\r\n",
                                  headers={**sdp, "Authorization": "Bearer ek_unknown"})
        assert expired.status_code == 401
        health = (await http.get(url + "/healthz")).json()
        assert health["sessions"] == 0 and health["limits"]["sessions"] == 0


async def test_a_caller_that_vanishes_mid_answer_frees_its_call(server_url: str,
                                                                backends: Backends) -> None:
    """The peer goes away while the answer plays: the session ends, its place and its
    tasks are freed (the leak check of every test covers the tasks)."""
    import asyncio

    tts: Any = backends.tts
    tts.ms_per_word = 500
    async with calling() as caller:
        await caller.dial(server_url)
        await caller.until("session.created")
        caller.mic.say(utterance(speech_s=1.0))
        await caller.until("output_audio_buffer.started")
        await caller.pc.close()  # gone, mid-answer
    async with httpx.AsyncClient() as http:
        for _ in range(100):
            health = (await http.get(server_url + "/healthz")).json()
            if health["sessions"] == 0 and health["limits"]["sessions"] == 0:
                break
            await asyncio.sleep(0.1)
    assert health["sessions"] == 0 and health["limits"]["sessions"] == 0
