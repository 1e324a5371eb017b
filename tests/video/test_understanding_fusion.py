"""What is said, checked against what is shown (issue 15, point 2).

A 25 s demo (five scenes, a made-up feature name on screen, an espeak-ng voice saying
"Feature N is called <name>") is analyzed once with the local models; Whisper alone gets
none of the names right (see bench/video_fusion.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from openrealtime.video.understanding.brief import AnalyzeOptions, analyze
from openrealtime.video.understanding.event import resolve
from openrealtime.video.understanding.fusion import matches, norm, reconcile, screen_words
from openrealtime.video.understanding.ocr import Line, TextTrack
from openrealtime.video.understanding.schema import validate
from openrealtime.video.understanding.speech import Segment, Word, repeated
from tests.voices import espeak_available

from .fusion_fixture import Demo, build_demo


@pytest.fixture(scope="module")
def demo_brief(tmp_path_factory: pytest.TempPathFactory) -> tuple[Demo, dict[str, Any]]:
    if not espeak_available():
        pytest.skip("espeak-ng is not installed")
    root = tmp_path_factory.mktemp("fusion")
    demo = build_demo(root / "demo.mp4", scenes=5, scene_s=5.0)
    brief = analyze(demo.path, root / "out", AnalyzeOptions(use_llm=False, progress=False))
    return demo, brief


def _words_in_scene(demo: Demo, brief: dict[str, Any], i: int) -> list[str]:
    return [w["word"] for s in brief["transcript"]["segments"] for w in s["words"]
            if demo.scene_of((w["start_s"] + w["end_s"]) / 2) == i]


def test_spoken_names_are_spelled_as_shown(demo_brief: tuple[Demo, dict[str, Any]]) -> None:
    demo, brief = demo_brief
    for i, name in enumerate(demo.names):
        words = _words_in_scene(demo, brief, i)
        assert name in [w.strip(".,;:!?") for w in words], f"{name}: heard {words}"


def test_evidence_shows_screen_and_speech(demo_brief: tuple[Demo, dict[str, Any]]) -> None:
    demo, brief = demo_brief
    validate(brief)
    fused = {f["shown"]: (seg, f) for seg in brief["transcript"]["segments"]
             for f in seg.get("fused", [])}
    for name in demo.names:
        seg, f = fused[name]
        assert f["source"] == "screen+speech" and f["heard"]
        assert norm(seg["words"][f["word_index"]]["word"]) == norm(name)
        assert name in brief["ocr"][f["ocr_index"]]["text"]
    # speech events and key points cite the on-screen text as well as the words
    cited = [e for e in brief["events"] + brief["key_points"]
             if {"transcript", "ocr"} <= {ev["source"] for ev in e["evidence"]}]
    assert cited
    for item in cited:
        for ev in item["evidence"]:
            resolve(brief, ev)
    named = [k["text"] for k in brief["key_points"] if any(n in k["text"] for n in demo.names)]
    assert named, brief["key_points"]


@pytest.mark.parametrize(("heard", "shown"), [
    ("Taslin", "Tazlin"), ("quillan", "Quillon"), ("rantek", "Brantic"),
    ("Murray Mix", "Mirabex"), ("Salvin", "Solvane"), ("gold", "Golf"), ("Ravick", "Dravik"),
    ("male mora", "Velmora"), ("limit", "Glimmet"), ("Zorvex", "ZORVEX")])
def test_mishearings_match_their_screen_spelling(heard: str, shown: str) -> None:
    assert matches(heard.replace(" ", ""), shown) > 0


@pytest.mark.parametrize(("heard", "shown"), [
    ("called", "Zorvex"), ("feature", "Features"), ("export", "Exported"), ("cancel", "Camera"),
    ("window", "Widget"), ("camera", "Golf")])
def test_other_words_are_left_alone(heard: str, shown: str) -> None:
    assert matches(heard, shown) == 0


def _brief(words: list[str], ocr: list[str]) -> dict[str, Any]:
    ws = [{"word": w, "start_s": 1.0 + 0.3 * i, "end_s": 1.2 + 0.3 * i} for i, w in enumerate(words)]
    return {"shots": [{"index": 0, "start_s": 0.0}, {"index": 1, "start_s": 10.0}],
            "ocr": [{"text": t, "shot_index": 0} for t in ocr] + [{"text": "Quorra",
                                                                    "shot_index": 1}],
            "transcript": {"segments": [{"start_s": 1.0, "end_s": 3.0, "text": " ".join(words),
                                         "words": ws}]}}


def test_reconcile_keeps_both_readings() -> None:
    brief = _brief(["Open", "the", "Murray", "Mix", "panel,", "then", "Quarra."],
                   ["MIRABEX PANEL"])
    assert reconcile(brief) == 1  # "Quarra" is heard in shot 0: shot 1's text is not used
    seg = brief["transcript"]["segments"][0]
    assert seg["text"] == "Open the MIRABEX panel, then Quarra."
    assert [(f["heard"], f["shown"], f["word_index"]) for f in seg["fused"]] == [
        ("Murray Mix", "MIRABEX", 2), ("panel", "PANEL", 3)]
    assert seg["words"][2] == {"word": "MIRABEX", "start_s": 1.6, "end_s": pytest.approx(2.1)}


def test_number_words_are_not_names_and_names_keep_their_capital() -> None:
    # a long Whisper window writes numbers as words: "seven" sounds like Solvane (s-v-n)
    brief = _brief(["Feature", "seven", "is", "called", "salvin.", "Then", "pexaro."],
                   ["FEATURE 7, Solvane", "Pexaro"])
    reconcile(brief)
    seg = brief["transcript"]["segments"][0]
    assert seg["text"] == "Feature seven is called Solvane. Then Pexaro."
    assert [f["heard"] for f in seg["fused"]] == ["Feature", "salvin", "pexaro"]


def test_screen_words_prompt_reads_like_text() -> None:
    track = TextTrack()
    track.observe(1.0, 0, [Line("FEATURE3", 0.9, (0, 0, 9, 9)), Line("Zorvex", 0.9, (0, 20, 9, 29)),
                           Line("API", 0.9, (0, 40, 9, 49))])
    track.observe(2.0, 1, [Line("Other", 0.9, (0, 0, 9, 9))])
    assert screen_words(track, 0) == "Feature 3, Zorvex, API"
    assert screen_words(track, 2) == ""


def test_a_looping_transcript_is_detected() -> None:
    def seg(text: str, seconds: float) -> list[Segment]:
        words = text.split()
        step = seconds / len(words)
        return [Segment(0.0, seconds, text, [Word(w, i * step, (i + 1) * step)
                                             for i, w in enumerate(words)])]

    assert repeated(seg("Feature 10, Dravik, Feature 10, Dravik,", 4.0))
    assert repeated(seg("gold gold gold", 2.0))
    assert repeated(seg("a b c d e f g h i j k l", 1.0))  # 12 words in one second
    assert not repeated(seg("Feature 7 is called Solvane.", 2.0))
    assert not repeated(seg("very very good", 2.0))


def test_fusion_can_be_turned_off(tmp_path: Path,
                                  demo_brief: tuple[Demo, dict[str, Any]]) -> None:
    demo, _ = demo_brief
    brief = analyze(demo.path, tmp_path, AnalyzeOptions(use_llm=False, progress=False,
                                                        fuse_screen_text=False))
    assert not any("fused" in s for s in brief["transcript"]["segments"])


def test_only_shots_misheard_beyond_correction_are_primed() -> None:
    from openrealtime.video.understanding.fusion import needs_priming

    # "norm X" looks like Zorvex but reconcile() cannot correct it: transcribe again primed
    assert needs_priming("Feature well is called norm X.".split(), "FEATURE 1 , ZORVEX")
    # close enough for reconcile(), said right, or not said at all: one unprimed call is enough
    assert not needs_priming("Feature 5 is called Taslin.".split(), "FEATURE 5 , TAZLIN")
    assert not needs_priming("Feature 5 is called Tazlin.".split(), "Feature 5, Tazlin")
    assert not needs_priming("Apples are my favorite fruit.".split(), "Alpha")
    assert not needs_priming("Open the features".split(), "Feature")
    assert not needs_priming("Feature seven is called Solvane.".split(), "Feature 7, Solvane")


def test_doubt_is_per_window_and_a_long_patterned_window_is_not_doubted() -> None:
    """Whisper's fallback tests, window by window: a low probability doubts its window
    only; a compressible text (ten sentences of one pattern) only when its words loop."""
    from types import SimpleNamespace

    import numpy as np

    from openrealtime.video.understanding.speech import SpeechReader

    def seg(seek: int, start: float, text: str, logprob: float = -0.3,
            ratio: float = 1.2) -> SimpleNamespace:
        words = [SimpleNamespace(word=" " + w, start=start + 0.3 * i, end=start + 0.3 * i + 0.25)
                 for i, w in enumerate(text.split())]
        return SimpleNamespace(seek=seek, start=start, end=words[-1].end, words=words,
                               avg_logprob=logprob, compression_ratio=ratio, temperature=0.0)

    calls = []

    class Model:
        model = SimpleNamespace(is_multilingual=False)

        def __init__(self, segments: list[SimpleNamespace]) -> None:
            self.segments = segments

        def transcribe(self, audio: Any, **kw: Any) -> tuple[Any, Any]:
            calls.append(kw)
            return iter(self.segments), SimpleNamespace(language="en")

    audio = np.random.default_rng(0).uniform(-0.3, 0.3, 60 * 16_000).astype(np.float32)
    reader = SpeechReader()
    reader._model = Model([seg(0, 1.0, "Feature one is called Zorvex.", ratio=2.5),
                           seg(0, 5.0, "Feature two is called Quillon."),
                           seg(3000, 35.0, "mumble grumble", logprob=-1.4)])
    reader.transcribe(audio, 100.0, retry=False)
    assert calls[-1]["temperature"] == 0.0
    assert reader.doubtful and reader.doubtful_spans == [(135.0, pytest.approx(135.55))]
    reader._model = Model([seg(0, 1.0, "gold gold gold gold", ratio=2.5)])
    reader.transcribe(audio, 0.0)
    assert "temperature" not in calls[-1] and reader.doubtful_spans == [(1.0, pytest.approx(2.15))]
    # a primed answer (a shot's speech) that compresses that well is redone unprimed
    reader._model = Model([seg(0, 1.0, "Feature one is called Zorvex.", ratio=2.5)])
    reader.transcribe(audio, 0.0, "Feature 1, Zorvex")
    assert reader.fallbacks == 1 and calls[-2]["hotwords"] and "hotwords" not in calls[-1]
