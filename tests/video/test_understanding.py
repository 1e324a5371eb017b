"""Video understanding on a synthetic video whose truth is known (issue 5, "Done means").

The 72 s fixture is built and analyzed once per session (with the local models, through
the CLI) and every test reads that one brief.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from openrealtime.cli import main
from openrealtime.video.understanding.event import resolve
from openrealtime.video.understanding.schema import validate
from openrealtime.video.understanding.search import search, stem

from .understanding_fixture import (
    DISSOLVE,
    FADE,
    HARD_CUTS,
    LABELS,
    SILENT_SCENE,
    TEXTBOX_AFTER,
    TEXTBOX_CHANGE_S,
    Fixture,
    build_main,
)


@dataclass
class Analyzed:
    fixture: Fixture
    outdir: Path
    brief: dict[str, Any]
    stdout: str


@pytest.fixture(scope="session")
def understanding_fixture(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    root = tmp_path_factory.mktemp("understanding")
    return build_main(root / "main.mp4")


@pytest.fixture(scope="session")
def understanding_brief(understanding_fixture: Fixture,
                        tmp_path_factory: pytest.TempPathFactory) -> Analyzed:
    import contextlib
    import io

    out = tmp_path_factory.mktemp("understanding_out")
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(["video", "analyze", str(understanding_fixture.path), "-o", str(out),
                     "--quiet"])
    assert code == 0
    brief = json.loads((out / "brief.json").read_text())
    return Analyzed(understanding_fixture, out, brief, stdout.getvalue())


def boundaries(brief: dict[str, Any]) -> list[tuple[float, str]]:
    return [(s["start_s"], s["transition"]) for s in brief["shots"][1:]]


def test_hard_cuts_dissolve_and_fade_are_found(understanding_brief: Analyzed) -> None:
    found = boundaries(understanding_brief.brief)
    gradual = {sum(DISSOLVE) / 2: "dissolve", (FADE[1] + FADE[2]) / 2: "fade"}
    matched = set()
    for cut in HARD_CUTS:
        near = [b for b in found if abs(b[0] - cut) <= 0.5]
        assert near, f"hard cut at {cut} s not found in {found}"
        matched.add(near[0])
    for t, kind in gradual.items():
        near = [b for b in found if abs(b[0] - t) <= 1.0]
        assert near and near[0][1] == kind, f"{kind} at {t} s not found in {found}"
        matched.add(near[0])
    assert len(set(found) - matched) <= 1, f"false cuts: {set(found) - matched}"


def test_labels_are_read_in_their_scene(understanding_brief: Analyzed) -> None:
    brief, fx = understanding_brief.brief, understanding_brief.fixture
    hits = 0
    for scene, label in enumerate(LABELS):
        middle = fx.scene_starts[scene] + 4.0
        shot = next(s for s in brief["shots"] if s["start_s"] <= middle < s["end_s"])
        texts = [o["text"].upper() for o in brief["ocr"] if o["shot_index"] == shot["index"]]
        hits += any(label in t for t in texts)
    assert hits >= 0.9 * len(LABELS)


def test_text_box_change_is_reported(understanding_brief: Analyzed) -> None:
    items = [o for o in understanding_brief.brief["ocr"] if TEXTBOX_AFTER in o["text"].upper()]
    assert items, understanding_brief.brief["ocr"]
    assert abs(items[0]["start_s"] - TEXTBOX_CHANGE_S) <= 1.0


def test_spoken_keywords_have_their_times(understanding_brief: Analyzed) -> None:
    words = [w for s in understanding_brief.brief["transcript"]["segments"] for w in s["words"]]
    for speech in understanding_brief.fixture.speech:
        starts = [w["start_s"] for w in words
                  if stem(w["word"].strip(".,!?").lower().replace("'s", "s"))[:5]
                  == stem(speech.keyword)[:5]]
        assert any(abs(t - speech.start_s) <= 0.7 for t in starts), (speech, starts)


def test_nothing_is_transcribed_in_the_silent_scene(understanding_brief: Analyzed) -> None:
    fx = understanding_brief.fixture
    lo, hi = fx.scene_starts[SILENT_SCENE], fx.scene_starts[SILENT_SCENE + 1]
    words = [w for s in understanding_brief.brief["transcript"]["segments"] for w in s["words"]
             if w["end_s"] > lo + 0.2 and w["start_s"] < hi]
    assert words == []


def test_rhythm_matches_the_fixture(understanding_brief: Analyzed) -> None:
    r, fx = understanding_brief.brief["rhythm"], understanding_brief.fixture
    assert r["shot_count"] == len(fx.scene_starts)
    assert r["mean_shot_s"] == pytest.approx(fx.duration_s / len(fx.scene_starts), abs=0.3)
    assert r["median_shot_s"] == pytest.approx(8.0, abs=0.3)
    assert r["cuts_per_min"] == pytest.approx(8 / (fx.duration_s / 60), abs=0.2)
    spoken_s = sum(s.duration_s for s in fx.speech)
    assert r["speech_ratio"] == pytest.approx(spoken_s / fx.duration_s, abs=0.05)
    wpm = sum(s.words for s in fx.speech) / (spoken_s / 60)
    assert r["speech_wpm"] == pytest.approx(wpm, rel=0.25)


def test_brief_validates_and_every_citation_resolves(understanding_brief: Analyzed) -> None:
    brief, out = understanding_brief.brief, understanding_brief.outdir
    validate(brief)
    starts = [e["start_s"] for e in brief["events"]]
    assert starts == sorted(starts)
    assert {e["kind"] for e in brief["events"]} >= {"shot", "speech", "text", "chapter"}
    for item in brief["events"] + brief["key_points"]:
        for evidence in item["evidence"]:
            resolve(brief, evidence)  # raises LookupError when it points nowhere
    for shot in brief["shots"]:
        assert shot["keyframe"] and (out / shot["keyframe"]).is_file()
    assert brief["topic"] and brief["key_points"]
    assert (out / "chapters.txt").read_text().startswith("0:00 ")
    assert "-->" in (out / "transcript.srt").read_text()
    md = (out / "brief.md").read_text()
    assert "<img src=\"keyframes/" in md and "## Timeline" in md
    assert brief["processing"]["llm"]  # the local model was asked (its answers may be refused)


def test_an_unresolvable_citation_is_detected(understanding_brief: Analyzed) -> None:
    with pytest.raises(LookupError):
        resolve(understanding_brief.brief, {"source": "ocr", "ocr_index": 999})
    with pytest.raises(LookupError):
        resolve(understanding_brief.brief, {"source": "transcript", "segment_index": 0,
                                            "word_start": 0, "word_end": 99})


def scene_of(fx: Fixture, t: float) -> int:
    return fx.scene_at(t)


def test_search_finds_a_spoken_word_and_a_label(understanding_brief: Analyzed,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    fx, out = understanding_brief.fixture, understanding_brief.outdir
    spoken = next(s for s in fx.speech if s.keyword == "football")
    hit = search(out, "football")[0]
    assert abs(hit.start_s - spoken.start_s) <= 0.7 and hit.source == "speech"
    label_hit = search(out, "hotel")[0]
    assert scene_of(fx, label_hit.start_s) == LABELS.index("HOTEL")
    assert label_hit.source == "screen"
    assert main(["video", "search", str(out), "bicycles"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("0:09") and "[speech]" in first
    assert main(["video", "search", str(out), "zebra"]) == 1
