"""``record_dir``: the real server on loopback writes a session's events, and
``openrealtime cost`` prices the recording."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import websockets

from openrealtime.backends.fake import fake_backends
from openrealtime.cli import main
from openrealtime.server.app import create_app
from openrealtime.server.run import running_server
from openrealtime.server.settings import Settings


async def test_session_is_recorded_and_priced(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    app = create_app(Settings(backend="fake", record_dir=tmp_path), backends=fake_backends())
    received: list[str] = []
    async with running_server(app) as url:
        ws_url = url.replace("http", "ws") + "/v1/realtime?model=gpt-realtime"
        async with websockets.connect(ws_url) as ws:
            await ws.send(json.dumps({"type": "conversation.item.create", "item": {
                "type": "message", "role": "user",
                "content": [{"type": "input_text", "text": "What is the capital of France?"}]}}))
            await ws.send(json.dumps({"type": "response.create",
                                      "response": {"output_modalities": ["text"]}}))
            async for message in ws:
                assert isinstance(message, str)
                received.append(message)
                if json.loads(message)["type"] == "rate_limits.updated":
                    break  # GA: the last event of a response, after response.done
    # The session ends (and the recorder closes) before the server has shut down.
    _check_recording(tmp_path, received, capsys)


def _check_recording(tmp_path: Path, received: list[str],
                     capsys: pytest.CaptureFixture[str]) -> None:
    session_id = json.loads(received[0])["session"]["id"]
    path = tmp_path / f"{session_id}.jsonl"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    lines = path.read_text().splitlines()
    first, last = json.loads(lines[0]), json.loads(lines[-1])
    assert first["type"] == "recording.started" and first["model"] == "gpt-realtime"
    assert last["type"] == "recording.stopped"
    assert last["duration_s"] > 0 and last["cpu_s"] >= 0
    # Text events are recorded exactly as sent, in order.
    assert lines[1:1 + len(received)] == received
    assert last["events"] == len(lines) - 2
    types = [json.loads(x)["type"] for x in lines[1:-1]]
    assert types[0] == "session.created" and "response.done" in types

    assert main(["cost", str(path)]) == 0
    out = capsys.readouterr().out
    assert "1 recording(s), 1 responses" in out
    text_in = int(out.split("text in ")[1].split()[0].replace(",", ""))
    text_out = int(out.split("text out ")[1].split(",")[0].replace(",", ""))
    assert text_in > 0 and text_out > 0
    assert "gpt-realtime " in out and "local (" in out
