"""Helpers for the video generation tests: a fixed script, probes, fake provider servers.

The fake servers follow the providers' documented request and response shapes (see the
docstrings of ``sora.py``, ``runway.py`` and ``kling.py``): they check auth, record the
JSON bodies, walk a job through queued -> running -> done over a few polls and serve a
small real MP4.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

SCRIPT = """# Garden Bees

## Why bees matter
Bees carry pollen from flower to flower. Many fruits depend on them.

## A hard year
Some colonies were lost last winter.

## How to help
Plant flowers that bloom all summer.
"""
NARRATION = ("Bees carry pollen from flower to flower. Many fruits depend on them. "
             "Some colonies were lost last winter. Plant flowers that bloom all summer.")
SCENES = 4  # the title card and three headed scenes


def parse_srt(text: str) -> list[tuple[float, float, str]]:
    """[(start_s, end_s, text)] from SubRip text; raises on malformed blocks."""
    cues = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = block.splitlines()
        assert lines[0].strip().isdigit(), block
        m = re.fullmatch(r"(\d\d):(\d\d):(\d\d),(\d\d\d) --> (\d\d):(\d\d):(\d\d),(\d\d\d)", lines[1].strip())
        assert m, lines[1]
        g = [int(x) for x in m.groups()]
        cues.append((g[0] * 3600 + g[1] * 60 + g[2] + g[3] / 1000,
                     g[4] * 3600 + g[5] * 60 + g[6] + g[7] / 1000, " ".join(lines[2:])))
    return cues


def frame_hashes(path: Path) -> list[str]:
    import av

    with av.open(str(path)) as c:
        return [hashlib.sha256(f.to_ndarray(format="rgb24").tobytes()).hexdigest() for f in c.decode(video=0)]


def frames_at(path: Path, times: list[float]) -> list[np.ndarray]:
    """Decoded RGB frames at the given times (one decode pass)."""
    import av

    wanted = sorted(times)
    out: dict[float, np.ndarray] = {}
    with av.open(str(path)) as c:
        for frame in c.decode(video=0):
            while wanted and float(frame.time) + 1 / 60 >= wanted[0]:
                out[wanted.pop(0)] = frame.to_ndarray(format="rgb24")
            if not wanted:
                break
    return [out[t] for t in times]


def tiny_mp4(seconds: float = 1.0, size: tuple[int, int] = (320, 568)) -> bytes:
    """A small real H.264 clip (what a provider would hand back)."""
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as c:
        s = c.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = size[0], size[1], "yuv420p"
        for i in range(int(seconds * 30)):
            img = np.zeros((size[1], size[0], 3), np.uint8)
            img[:, :, 0] = 40 + i * 4
            img[:, :, 2] = 200
            c.mux(s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        c.mux(s.encode(None))
    return buf.getvalue()


def write_tone_wav(path: Path, seconds: float, freq: float = 220.0, rate: int = 22050,
                   bursts: bool = True) -> None:
    from openrealtime.audio import write_wav

    t = np.arange(int(seconds * rate)) / rate
    x = 0.3 * np.sin(2 * np.pi * freq * t)
    if bursts:  # speech-like on/off so the music ducker has something to duck under
        x *= (np.sin(2 * np.pi * 0.7 * t) > -0.3)
    write_wav(path, x.astype(np.float32), rate)


@dataclass
class FakeState:
    """What a fake provider saw and how its jobs behave."""

    kind: str
    polls_to_finish: int = 2
    fail: bool = False
    never_finish: bool = False
    video: bytes = b""
    requests: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)
    polls: dict[str, int] = field(default_factory=dict)
    base: str = ""


def _kling_token_ok(header: str, access: str = "ak-test", secret: str = "sk-test") -> bool:
    try:
        h, p, s = header.removeprefix("Bearer ").split(".")
        expected = hmac.new(secret.encode(), f"{h}.{p}".encode(), hashlib.sha256).digest()
        claims = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    except ValueError:
        return False
    return base64.urlsafe_b64encode(expected).rstrip(b"=").decode() == s and claims["iss"] == access


def _handler(state: FakeState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        def _send(self, code: int, body: Any, ctype: str = "application/json") -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorized(self) -> bool:
            auth = self.headers.get("Authorization", "")
            ok = {"sora": auth == "Bearer sk-openai-test",
                  "runway": auth == "Bearer rw-test" and self.headers.get("X-Runway-Version") == "2024-11-06",
                  "kling": _kling_token_ok(auth)}[state.kind]
            if not ok and not self.path.startswith("/files/"):
                self._send(401, {"error": {"message": "bad credentials"}})
                return False
            return True

        def _record(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            state.requests.append((self.command, self.path, dict(self.headers), body))
            return body

        def do_POST(self) -> None:
            body = self._record()
            if self._authorized():
                self._send(*route(state, "POST", self.path, body))

        def do_GET(self) -> None:
            self._record()
            if self._authorized():
                self._send(*route(state, "GET", self.path, None))

        def do_DELETE(self) -> None:
            self._record()
            if self._authorized():
                self._send(*route(state, "DELETE", self.path, None))

    return Handler


def _progress(state: FakeState, job: str) -> str:
    n = state.polls[job] = state.polls.get(job, 0) + 1
    if state.never_finish or n < state.polls_to_finish:
        return "queued" if n == 1 else "running"
    return "failed" if state.fail else "done"


def route(state: FakeState, method: str, path: str, body: Any) -> tuple[int, Any] | tuple[int, Any, str]:
    """The documented endpoints of each provider, reduced to what the adapters use."""
    if path.startswith("/files/"):
        return 200, state.video, "video/mp4"
    if state.kind == "sora":
        if method == "POST" and path == "/v1/videos":
            return 200, {"id": "video_123", "object": "video", "model": body["model"], "status": "queued",
                         "progress": 0, "seconds": body["seconds"], "size": body["size"]}
        m = re.fullmatch(r"/v1/videos/(\w+)(/content)?", path)
        if m and method == "DELETE":
            return 200, {"id": m.group(1), "object": "video.deleted", "deleted": True}
        if m and m.group(2):
            return 200, state.video, "video/mp4"
        if m:
            st = {"queued": "queued", "running": "in_progress", "done": "completed", "failed": "failed"}[_progress(state, m.group(1))]
            extra = {"error": {"code": "moderation_blocked", "message": "prompt was blocked"}} if st == "failed" else {}
            return 200, {"id": m.group(1), "object": "video", "status": st, "progress": 50, **extra}
    if state.kind == "runway":
        if method == "POST" and path == "/v1/text_to_video":
            return 200, {"id": "17f20503-6c24-4c16-946b-35dbbce2af2f"}
        m = re.fullmatch(r"/v1/tasks/([\w-]+)", path)
        if m and method == "DELETE":
            return 204, b""
        if m:
            st = {"queued": "PENDING", "running": "RUNNING", "done": "SUCCEEDED", "failed": "FAILED"}[_progress(state, m.group(1))]
            out = {"output": [f"{state.base}/files/out.mp4"]} if st == "SUCCEEDED" else {}
            fail = {"failure": "Content moderation", "failureCode": "SAFETY"} if st == "FAILED" else {}
            return 200, {"id": m.group(1), "status": st, "createdAt": "2025-01-01T00:00:00Z", "progress": 0.5, **out, **fail}
    if state.kind == "kling":
        if method == "POST" and path == "/v1/videos/text2video":
            return 200, {"code": 0, "message": "SUCCEED", "request_id": "r1",
                         "data": {"task_id": "kt1", "task_status": "submitted", "created_at": 1, "updated_at": 1}}
        m = re.fullmatch(r"/v1/videos/text2video/(\w+)", path)
        if m:
            st = {"queued": "submitted", "running": "processing", "done": "succeed", "failed": "failed"}[_progress(state, m.group(1))]
            result = {"task_result": {"videos": [{"id": "v1", "url": f"{state.base}/files/k.mp4", "duration": "5"}]}} if st == "succeed" else {}
            return 200, {"code": 0, "message": "SUCCEED", "request_id": "r2",
                         "data": {"task_id": m.group(1), "task_status": st, "task_status_msg": "risk control" if st == "failed" else "", **result}}
    return 404, {"error": {"message": f"no route {method} {path}"}}


@contextmanager
def fake_provider(kind: str, **kwargs: Any) -> Iterator[FakeState]:
    """A fake provider API on 127.0.0.1; ``state.base`` is its root URL."""
    state = FakeState(kind=kind, video=kwargs.pop("video", b"") or tiny_mp4(), **kwargs)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


PROVIDER_ENV = {
    "sora": {"OPENAI_API_KEY": "sk-openai-test"},
    "runway": {"RUNWAYML_API_SECRET": "rw-test"},
    "kling": {"KLING_ACCESS_KEY": "ak-test", "KLING_SECRET_KEY": "sk-test"},
}
BASE_PATH = {"sora": "/v1", "runway": "/v1", "kling": ""}
