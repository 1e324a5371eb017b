"""Video generation end to end: a fixed multi-scene script rendered in every aspect ratio.

Each aspect is rendered once (module fixture) and inspected by several tests: streams,
A/V durations, SRT, OCR of the burned captions, cut detection. A second render of one
aspect checks determinism (same plan, identical decoded frames).
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest

from openrealtime.video.generation import GenerateRequest, PlanOptions, generate
from openrealtime.video.generation.check import moov_first, probe
from openrealtime.video.generation.render import RenderSettings

from .generation_fixture import NARRATION, SCENES, SCRIPT, frame_hashes, frames_at, parse_srt

SIZES = {"9:16": (1080, 1920), "16:9": (1920, 1080), "1:1": (1080, 1080)}


@pytest.fixture(scope="module")
def tts():
    from openrealtime.backends.local.piper import PiperTTS

    return PiperTTS(deterministic=True)


def render(folder: Path, aspect: str, tts: object, name: str = "out") -> object:
    script = folder / "script.md"
    script.write_text(SCRIPT, encoding="utf-8")
    request = GenerateRequest(output=folder / f"{name}.mp4", script=script, tts=tts,
                              options=PlanOptions(aspect=aspect, seed=7),
                              render=RenderSettings(progress=False))
    return generate(request, log=lambda _: None)


@pytest.fixture(scope="module", params=list(SIZES))
def rendered(request, tts, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param.replace(":", "x"))
    return request.param, render(folder, request.param, tts)


def test_streams_size_rate_and_faststart(rendered) -> None:
    aspect, result = rendered
    info = probe(result.video_path)
    assert (info["video_streams"], info["audio_streams"]) == (1, 1)
    assert (info["video_codec"], info["audio_codec"]) == ("h264", "aac")
    assert (info["width"], info["height"]) == SIZES[aspect]
    assert info["fps"] == pytest.approx(30.0)
    assert abs(info["video_s"] - info["audio_s"]) <= 0.1
    assert moov_first(result.video_path)


def test_report_passes_and_is_written(rendered) -> None:
    _, result = rendered
    report = json.loads(result.report_path.read_text())
    assert report["ok"], report
    assert report["checks"]["loudness"]["integrated_lufs"] == pytest.approx(-16, abs=1.0)
    assert report["checks"]["loudness"]["true_peak_dbtp"] <= -1.0


def test_srt_parses_ordered_inside_and_matches_narration(rendered) -> None:
    _, result = rendered
    cues = parse_srt(result.srt_path.read_text(encoding="utf-8"))
    duration = probe(result.video_path)["video_s"]
    assert cues
    assert all(start < end for start, end, _ in cues)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(cues))
    assert 0 <= cues[0][0] and cues[-1][1] <= duration
    assert " ".join(text for _, _, text in cues) == NARRATION
    assert result.plan.narration_text == NARRATION


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 2}


def test_ocr_finds_burned_captions(rendered) -> None:
    from rapidocr_onnxruntime import RapidOCR

    aspect, result = rendered
    cues = parse_srt(result.srt_path.read_text(encoding="utf-8"))
    if aspect != "9:16":
        cues = cues[:1]  # full OCR on one aspect keeps CI time reasonable
    frames = frames_at(result.video_path, [(a + b) / 2 for a, b, _ in cues])
    ocr = RapidOCR()
    for (_, _, text), frame in zip(cues, frames, strict=True):
        h = frame.shape[0]
        found, _ = ocr(frame[h // 2:])  # captions sit in the lower half
        seen = _words(" ".join(item[1] for item in found or []))
        expected = _words(text)
        assert len(expected & seen) >= 0.8 * len(expected), (text, seen)


def test_cut_count_is_scenes_minus_one(rendered) -> None:
    from scenedetect import AdaptiveDetector, detect

    _, result = rendered
    assert len(result.plan.scenes) == SCENES
    scenes = detect(str(result.video_path), AdaptiveDetector())
    assert len(scenes) - 1 == SCENES - 1


def test_same_seed_same_plan_and_frames(tts, tmp_path) -> None:
    first = render(tmp_path, "1:1", tts, name="a")
    second = render(tmp_path, "1:1", tts, name="b")
    assert first.plan_path.read_text() == second.plan_path.read_text()
    assert frame_hashes(first.video_path) == frame_hashes(second.video_path)
