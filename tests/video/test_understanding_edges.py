"""Awkward inputs (corrupt, truncated, no audio, no video, vertical, variable frame rate),
the vision-model captions against a fake local endpoint, and the language-model seam."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from openrealtime.backends.base import Finished, LLMRequest, TextDelta
from openrealtime.cli import main
from openrealtime.video.understanding.brief import AnalyzeOptions, analyze
from openrealtime.video.understanding.event import resolve
from openrealtime.video.understanding.media import MediaError
from openrealtime.video.understanding.search import search

from .understanding_fixture import build_edge_cases, speak

QUIET = AnalyzeOptions(use_llm=False, progress=False)


@pytest.fixture(scope="module")
def understanding_edges(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    clips, rate = speak(["Welcome to the weather report."])
    return build_edge_cases(tmp_path_factory.mktemp("understanding_edges"), (clips[0], rate))


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["video", *args])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("name", ["corrupt.mp4", "empty.mp4", "missing.mp4"])
def test_unreadable_files_fail_in_one_line(name: str, understanding_edges: dict[str, Path],
                                           tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = understanding_edges.get(name, tmp_path / name)
    code, err = run_cli(["analyze", str(path), "-o", str(tmp_path / "out"), "--quiet"], capsys)
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("openrealtime video analyze: ") and name in err


def test_truncated_mp4_without_index_fails_cleanly(understanding_edges: dict[str, Path],
                                                   tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    data = understanding_edges["vertical.mp4"].read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])  # the mp4 index (moov) is at the end
    code, err = run_cli(["analyze", str(cut), "-o", str(tmp_path / "out"), "--quiet"], capsys)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err


def test_truncated_mkv_gives_a_partial_brief(understanding_edges: dict[str, Path],
                                             tmp_path: Path) -> None:
    brief = analyze(understanding_edges["truncated.mkv"], tmp_path, QUIET)
    assert 0.5 < brief["duration_s"] < 5.5
    assert brief["processing"]["warnings"]
    assert all(s["end_s"] <= brief["duration_s"] for s in brief["shots"])


def test_no_audio_gives_an_empty_transcript(understanding_edges: dict[str, Path],
                                            tmp_path: Path) -> None:
    brief = analyze(understanding_edges["no_audio.mp4"], tmp_path, QUIET)
    assert brief["source"]["has_audio"] is False
    assert brief["transcript"]["segments"] == []
    assert brief["rhythm"]["speech_ratio"] == 0 and brief["rhythm"]["speech_wpm"] == 0
    assert [s["start_s"] for s in brief["shots"]] == pytest.approx([0.0, 3.0], abs=0.1)


def test_no_video_gives_no_shots_but_speech(understanding_edges: dict[str, Path],
                                            tmp_path: Path) -> None:
    brief = analyze(understanding_edges["no_video.m4a"], tmp_path, QUIET)
    assert brief["shots"] == [] and brief["ocr"] == []
    words = [w for s in brief["transcript"]["segments"] for w in s["words"]]
    assert words and abs(words[0]["start_s"] - 1.0) <= 0.7
    assert brief["duration_s"] == pytest.approx(5.0, abs=0.2)
    assert (tmp_path / "chapters.txt").read_text().startswith("0:00 ")


def test_vertical_video_keeps_times_and_text(understanding_edges: dict[str, Path],
                                             tmp_path: Path) -> None:
    brief = analyze(understanding_edges["vertical.mp4"], tmp_path, QUIET)
    assert (brief["source"]["width"], brief["source"]["height"]) == (360, 640)
    assert [s["start_s"] for s in brief["shots"]] == pytest.approx([0.0, 3.0], abs=0.1)
    texts = {(o["shot_index"], o["text"].upper()) for o in brief["ocr"]}
    assert (0, "MIKE") in texts and (1, "NOVEMBER") in texts


def test_variable_frame_rate_uses_true_timestamps(understanding_edges: dict[str, Path],
                                                  tmp_path: Path) -> None:
    brief = analyze(understanding_edges["vfr.mp4"], tmp_path, QUIET)
    assert [s["start_s"] for s in brief["shots"]] == pytest.approx([0.0, 2.5, 5.0], abs=0.15)
    assert brief["duration_s"] == pytest.approx(7.0, abs=0.2)


def test_media_error_from_the_python_api(tmp_path: Path) -> None:
    with pytest.raises(MediaError):
        analyze(tmp_path / "nothing.mp4", tmp_path / "out", QUIET)


# ------------------------------------------------------------------ vision model


class _FakeVision(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]] = []
    status = 200

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "body": body})
        n = len(type(self).requests)
        reply = json.dumps({"choices": [{"message": {
            "role": "assistant", "content": f"A striped poster number {n} on a wall"}}]})
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(reply.encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def fake_vision() -> Iterator[tuple[str, type[_FakeVision]]]:
    handler = type("Handler", (_FakeVision,), {"requests": [], "status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_captions_from_a_vision_endpoint_within_budget(
        understanding_edges: dict[str, Path], tmp_path: Path,
        fake_vision: tuple[str, type[_FakeVision]]) -> None:
    url, handler = fake_vision
    opts = AnalyzeOptions(use_llm=False, progress=False, vlm_url=url, vlm_model="vis",
                          max_frames=1)
    brief = analyze(understanding_edges["vfr.mp4"], tmp_path, opts)
    assert len(handler.requests) == 1 and handler.requests[0]["path"] == "/v1/chat/completions"
    content = handler.requests[0]["body"]["messages"][0]["content"]
    assert content[1]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert len(brief["captions"]) == 1 and "poster" in brief["captions"][0]["text"]
    event = next(e for e in brief["events"] if e["kind"] == "caption")
    assert all(resolve(brief, ev) for ev in event["evidence"])
    assert search(tmp_path, "striped poster")[0].source == "caption"


def test_a_failing_vision_endpoint_is_a_warning(
        understanding_edges: dict[str, Path], tmp_path: Path,
        fake_vision: tuple[str, type[_FakeVision]]) -> None:
    url, handler = fake_vision
    handler.status = 500
    opts = AnalyzeOptions(use_llm=False, progress=False, vlm_url=url, vlm_model="vis")
    brief = analyze(understanding_edges["no_audio.mp4"], tmp_path, opts)
    assert brief["captions"] == [] and "vision model" in brief["processing"]["warnings"][0]


# ------------------------------------------------------------------ language model


class ScriptedLLM:
    """Answers every request with ``answer``; records the prompts."""

    name = "scripted"

    def __init__(self, answer: str | Exception) -> None:
        self.answer = answer
        self.prompts: list[str] = []

    def count_tokens(self, text: str) -> int:
        return len(text) // 4

    async def stream(self, request: LLMRequest) -> AsyncIterator[Any]:
        self.prompts.append(request.messages[-1]["content"])
        if isinstance(self.answer, Exception):
            raise self.answer
        yield TextDelta(self.answer)
        yield Finished("stop")


def test_llm_wording_is_used_when_grounded(understanding_edges: dict[str, Path],
                                           tmp_path: Path) -> None:
    llm = ScriptedLLM("Welcome to a weather report.")
    brief = analyze(understanding_edges["no_video.m4a"], tmp_path,
                    AnalyzeOptions(llm=llm, progress=False))
    assert brief["topic"] == "Welcome to a weather report."
    assert brief["key_points"][0]["text"] == "Welcome to a weather report."
    # the time comes from the cited words, never from the model
    cited = resolve(brief, brief["key_points"][0]["evidence"][0])
    assert brief["key_points"][0]["start_s"] == cited[0]["start_s"]
    assert all("0:0" not in p for p in llm.prompts)


@pytest.mark.parametrize("answer", ["At 0:03 the team scores 42 goals.",
                                    "The original text is a continuation.", ""])
def test_ungrounded_llm_answers_are_replaced(answer: str, understanding_edges: dict[str, Path],
                                             tmp_path: Path) -> None:
    brief = analyze(understanding_edges["no_video.m4a"], tmp_path,
                    AnalyzeOptions(llm=ScriptedLLM(answer), progress=False))
    spoken = brief["transcript"]["segments"][0]["text"]
    assert brief["key_points"][0]["text"] == spoken


def test_a_failing_llm_falls_back_to_extractive(understanding_edges: dict[str, Path],
                                                tmp_path: Path) -> None:
    brief = analyze(understanding_edges["no_video.m4a"], tmp_path,
                    AnalyzeOptions(llm=ScriptedLLM(RuntimeError("boom")), progress=False))
    assert brief["topic"] and brief["key_points"]
    assert "language model unavailable" in brief["processing"]["warnings"][0]
