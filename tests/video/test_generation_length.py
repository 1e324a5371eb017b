"""Exact video lengths (``plan.duration_s``): narration fitted by dropping, padding or a
final cut; scripts told from topics. Timelines only (fake TTS: 120 ms per word), no render."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from openrealtime.backends.fake import FakeLLM, FakeTTS
from openrealtime.video.generation.error import GenerationError
from openrealtime.video.generation.narration import build_timeline
from openrealtime.video.generation.plan import Plan, Scene, Visual, load_plan, parse_size
from openrealtime.video.generation.topic import looks_like_script, write_script_async

TTS = FakeTTS()


def plan(*scenes: Scene, seconds: float) -> Plan:
    return Plan(title="t", scenes=list(scenes), duration_s=seconds)


def words(n: int) -> str:
    return " ".join(["bee"] * (n - 1)) + " end."


def check_inside(p: Plan, timeline, seconds: float) -> None:
    assert timeline.total_frames == round(seconds * p.fps)
    assert len(timeline.speech) == timeline.total_frames * (48_000 // p.fps)
    assert all(0 <= c.start_s < c.end_s <= seconds + 1e-3 for c in timeline.cues)
    assert sum(s.duration_s for s in p.scenes) == pytest.approx(seconds, abs=1e-3)


def test_short_narration_is_padded_to_the_length() -> None:
    p = plan(Scene(id="s1", narration="Bees fly."), Scene(id="s2", narration="Bees rest."),
             seconds=8)
    timeline = build_timeline(p, TTS)
    check_inside(p, timeline, 8)
    assert [c.text for c in timeline.cues] == ["Bees fly.", "Bees rest."]
    assert p.scenes[1].start_s > 3  # the extra time is shared, not all at the end


def test_long_narration_loses_its_last_sentences_and_scenes() -> None:
    p = plan(Scene(id="s0", title="Title", min_duration_s=2.5),
             Scene(id="s1", narration=f"{words(10)} {words(10)}"),
             Scene(id="s2", narration=words(10)), seconds=4)
    timeline = build_timeline(p, TTS)
    check_inside(p, timeline, 4)
    assert [s.id for s in p.scenes] == ["s0", "s1"]  # the title card shrank, s2 went
    assert p.scenes[1].narration == words(10) == " ".join(c.text for c in timeline.cues)


def test_one_sentence_longer_than_the_video_is_cut_and_keeps_the_first_picture() -> None:
    p = plan(Scene(id="s0", visual=Visual(kind="image", asset="/x/ref.png")),
             Scene(id="s1", narration=words(40)), seconds=4)
    timeline = build_timeline(p, TTS)
    check_inside(p, timeline, 4)
    assert [s.id for s in p.scenes] == ["s1"]
    assert p.scenes[0].visual.kind == "image" and p.scenes[0].visual.asset == "/x/ref.png"
    assert abs(timeline.speech[-10:]).max() < 1e-3  # faded out, no click


def test_a_fixed_length_needs_tts_narration() -> None:
    p = plan(Scene(id="s1", narration="Bees."), seconds=4)
    p.narration.mode = "none"
    with pytest.raises(GenerationError, match="duration_s"):
        build_timeline(p, TTS)


def test_size_and_length_survive_the_plan_file(tmp_path: Path) -> None:
    p = plan(Scene(id="s1", narration="Bees."), seconds=12)
    p.size, (p.width, p.height) = "1792x1024", parse_size("1792x1024")
    p.save(tmp_path / "p.json")
    loaded = load_plan(tmp_path / "p.json")
    assert (loaded.width, loaded.height, loaded.size, loaded.duration_s) == (1792, 1024, "1792x1024", 12)
    with pytest.raises(GenerationError, match="even"):
        parse_size("721x1280")


@pytest.mark.parametrize(("text", "script"), [
    ("A calico cat playing a grand piano on stage, warm spotlight, slow dolly in.", False),
    ("Why bees matter", False),
    ("# Bees\n\nBees carry pollen.", True),
    ("Bees carry pollen.\n\nFlowers need them.", True),
    ("Visual: bees.jpg\nBees carry pollen.", True),
    ("```chart\nA: 1\n```\nNumbers.", True),
])
def test_scripts_are_told_from_topics(text: str, script: bool) -> None:
    assert looks_like_script(text) is script


def test_the_llm_is_told_the_length() -> None:
    llm = FakeLLM(reply="## Bees\nBees carry pollen.")
    text = asyncio.run(write_script_async("bees", llm, seconds=4))
    system = llm.requests[-1].messages[0]["content"]
    assert "4 seconds" in system and "1 scene" in system and "3 to 5" not in system
    assert text.startswith("# Bees\n")
