"""Scripts, plans and the command line: parsing, editing round trips, bad inputs, modes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from openrealtime.cli import main
from openrealtime.video.generation.error import GenerationError
from openrealtime.video.generation.script import parse_script

from .generation_fixture import NARRATION, SCRIPT, write_tone_wav


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    try:
        code = main(["video", "generate", *args])
    except SystemExit as exc:  # argparse errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_markdown_script_becomes_scenes_with_chart_and_visual() -> None:
    drafts = parse_script(
        "# Title\n\n## Sales\nSales grew fast. **Really** fast.\n\n"
        "| Year | Units |\n|---|---|\n| 2023 | 10 |\n| 2024 | 25 |\n\n"
        "## Beach\nVisual: sunset beach\nWe went to the [sea](http://x).\n\n"
        "```chart\ntitle: Share\nA: 40%\nB: 60%\n```\n")
    assert [d.title for d in drafts] == ["Title", "Sales", "Beach"]
    assert drafts[1].narration == "Sales grew fast. Really fast."
    assert drafts[1].chart.labels == ["2023", "2024"] and drafts[1].chart.values == [10, 25]
    assert drafts[2].visual == "sunset beach" and drafts[2].narration == "We went to the sea."
    assert drafts[2].chart.unit == "%" and drafts[2].chart.title == "Share"


def test_plain_text_paragraphs_are_scenes() -> None:
    drafts = parse_script("First scene here.\n\nSecond one.\nStill second.\n")
    assert [d.narration for d in drafts] == ["First scene here.", "Second one. Still second."]


@pytest.mark.parametrize("text", ["", "# Only a heading\n", "```chart\nA: 1\n```\n"])
def test_scripts_without_narration_are_rejected(text: str) -> None:
    with pytest.raises(GenerationError):
        parse_script(text)


def test_plan_only_then_edit_then_render_from_plan(tmp_path: Path, capsys) -> None:
    script = tmp_path / "s.md"
    script.write_text(SCRIPT)
    code, _, err = run_cli(capsys, str(script), "-o", str(tmp_path / "v.mp4"), "--plan-only",
                           "--aspect", "1:1", "--no-narration")
    assert code == 0, err
    plan_path = tmp_path / "v.plan.json"
    plan = json.loads(plan_path.read_text())
    assert not (tmp_path / "v.mp4").exists()
    assert [s["narration"] for s in plan["scenes"]][1] == "Bees carry pollen from flower to flower. Many fruits depend on them."
    assert all(s["duration_s"] > 0 for s in plan["scenes"])
    plan["scenes"][1]["narration"] = "Edited words."
    plan["scenes"][2]["visual"]["kind"] = "background"
    plan["captions"]["position"] = "top"
    plan_path.write_text(json.dumps(plan))
    code, out, err = run_cli(capsys, "--from-plan", str(plan_path), "-o", str(tmp_path / "w.mp4"), "-q")
    assert code == 0, err
    assert "self-check: OK" in out
    srt = (tmp_path / "w.srt").read_text()
    assert "Edited words." in srt and "Bees carry" not in srt
    report = json.loads((tmp_path / "w.report.json").read_text())
    assert report["checks"]["loudness"]["skipped"]


def test_assets_music_own_narration_and_crossfade(tmp_path: Path, capsys) -> None:
    assets = tmp_path / "assets"
    assets.mkdir()
    gradient = np.linspace(0, 255, 640 * 480 * 3).reshape(480, 640, 3).astype(np.uint8)
    Image.fromarray(gradient).save(assets / "pollen-flower.jpg")
    write_tone_wav(tmp_path / "voice.wav", 8.0)
    write_tone_wav(tmp_path / "music.wav", 3.0, freq=330.0, bursts=False)
    script = tmp_path / "s.md"
    script.write_text(SCRIPT)
    out = tmp_path / "v.mp4"
    code, stdout, err = run_cli(
        capsys, str(script), "-o", str(out), "--aspect", "1:1", "--assets", str(assets),
        "--narration-audio", str(tmp_path / "voice.wav"), "--music", str(tmp_path / "music.wav"),
        "--transition", "crossfade", "--caption-style", "outline", "--caption-position", "center", "-q")
    assert code == 0, err + stdout
    plan = json.loads((tmp_path / "v.plan.json").read_text())
    assert plan["scenes"][1]["visual"]["kind"] == "image"  # "pollen" and "flower" matched
    assert plan["scenes"][1]["visual"]["asset"].endswith("pollen-flower.jpg")
    assert plan["scenes"][2]["transition"] == "crossfade"
    report = json.loads((tmp_path / "v.report.json").read_text())
    assert report["ok"], report
    assert report["duration_s"] == pytest.approx(8.0, abs=0.2)


def test_narration_text_of_the_fixture_is_what_the_script_says() -> None:
    drafts = parse_script(SCRIPT)
    assert " ".join(d.narration for d in drafts if d.narration) == NARRATION


BAD_CASES = {
    "missing script": (["nope.md"], "script not found"),
    "no narration": (["@empty"], "no narration"),
    "missing named asset": (["@named"], "asset 'cat.jpg'"),
    "missing assets dir": (["@ok", "--assets", "no-such-dir"], "assets folder not found"),
    "unknown provider": (["@ok", "--provider", "veo9"], "unknown provider"),
    "bad plan json": (["--from-plan", "@badjson"], "not valid JSON"),
    "invalid plan field": (["--from-plan", "@badplan"], "invalid plan at aspect"),
    "missing music": (["@ok", "--music", "none.mp3"], "music file not found"),
    "two sources": (["@ok", "--topic", "bees"], "exactly one of"),
    "bad speed": (["@ok", "--speed", "9"], "--speed"),
}


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_inputs_give_one_clear_message(case: str, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty.md").write_text("# Title only\n")
    (tmp_path / "named.md").write_text("## Cat\n![a cat](cat.jpg)\nA cat sleeps.\n")
    (tmp_path / "ok.md").write_text("Hello there.\n")
    (tmp_path / "badjson.json").write_text("{not json")
    (tmp_path / "badplan.json").write_text(json.dumps({"title": "t", "aspect": "4:3", "seed": 0,
                                                       "scenes": [{"id": "s1"}]}))
    args, expected = BAD_CASES[case]
    args = [str(tmp_path / (a[1:] + (".json" if "bad" in a else ".md"))) if a.startswith("@") else a for a in args]
    code, out, err = run_cli(capsys, *args, "-o", str(tmp_path / "x.mp4"), "--plan-only")
    assert code != 0
    assert expected in err
    assert "Traceback" not in err + out
    assert len(err.strip().splitlines()) == 1, err


def test_unknown_option_is_a_usage_error(capsys) -> None:
    code, _out, err = run_cli(capsys, "s.md", "-o", "x.mp4", "--sparkles")
    assert code == 2 and "unrecognized arguments: --sparkles" in err and "Traceback" not in err


def test_topic_asks_the_llm_for_a_script(tmp_path: Path) -> None:
    from openrealtime.backends.fake import FakeLLM
    from openrealtime.video.generation import GenerateRequest, generate

    llm = FakeLLM(reply="Sure! Here it is:\n# Tides\n\n## The moon\nThe moon pulls the sea.\n")
    result = generate(GenerateRequest(output=tmp_path / "t.mp4", topic="tides", llm=llm, plan_only=True,
                                      options=_opts(narration="none")), log=lambda _: None)
    assert [s.title for s in result.plan.scenes] == ["Tides", "The moon"]
    assert (tmp_path / "t.script.md").read_text().startswith("# Tides")


def _opts(narration: str):
    from openrealtime.video.generation.plan import NarrationSpec
    from openrealtime.video.generation.storyboard import PlanOptions

    return PlanOptions(narration=NarrationSpec(mode=narration))
