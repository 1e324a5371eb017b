"""The Python API: :func:`generate` turns a script (or a plan, or a topic) into
``OUT.mp4`` plus ``OUT.plan.json``, ``OUT.srt`` and ``OUT.report.json``.

Order matters: narration is synthesized first because it fixes every scene's length;
then remote clips (if any), the mastered soundtrack, the frames, and the self-check.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .error import GenerationError
from .generator import RemoteSettings, check_provider, generate_clips
from .plan import Plan, load_plan
from .render import RenderSettings
from .script import parse_script
from .storyboard import PlanOptions, build_plan


@dataclass(slots=True)
class GenerateRequest:
    """What to make. Exactly one of ``script``, ``script_text``, ``plan_path``, ``topic``."""

    output: Path
    script: Path | None = None
    script_text: str | None = None
    plan_path: Path | None = None
    topic: str | None = None
    options: PlanOptions = field(default_factory=PlanOptions)
    plan_overrides: dict[str, Any] = field(default_factory=dict)  # applied to --from-plan
    plan_only: bool = False
    render: RenderSettings = field(default_factory=RenderSettings)
    remote: RemoteSettings = field(default_factory=RemoteSettings)
    llm_url: str | None = None
    llm_model: str | None = None
    tts: object | None = None  # an already loaded TTS backend (tests, long-running apps)
    llm: object | None = None


@dataclass(slots=True)
class GenerateResult:
    plan: Plan
    plan_path: Path
    video_path: Path | None = None
    srt_path: Path | None = None
    report_path: Path | None = None
    report: dict[str, Any] | None = None


def sidecar(output: Path, suffix: str) -> Path:
    """``OUT.mp4`` -> ``OUT.plan.json`` etc."""
    return output.with_name(output.stem + suffix)


def generate(request: GenerateRequest, log: Callable[[str], None] | None = None) -> GenerateResult:
    """Plan, narrate, render and check one video. Raises :class:`GenerationError`."""
    from .caption import Captioner, write_srt
    from .check import self_check
    from .narration import build_timeline
    from .render import render
    from .sound import master

    log = log or (lambda message: print(message, file=sys.stderr))
    output = request.output
    if output.suffix.lower() != ".mp4":
        raise GenerationError(f"output must be an .mp4 file, got {output}")
    if not output.parent.exists():
        raise GenerationError(f"output folder does not exist: {output.parent}")
    plan = make_plan(request, log)
    check_inputs(plan)
    log(f"plan: {len(plan.scenes)} scenes, {plan.width}x{plan.height}, narration {plan.narration.mode}")
    # the loudness meter's import (SciPy, most of a second) overlaps the narration
    threading.Thread(target=_warm_imports, name="video-imports", daemon=True).start()
    started = time.perf_counter()
    timeline = build_timeline(plan, request.tts)
    if plan.narration.mode == "tts":
        log(f"narration: {len(timeline.cues)} sentences, {timeline.duration_s:.1f} s of video "
            f"({time.perf_counter() - started:.1f} s)")
    plan_path = sidecar(output, ".plan.json")
    plan.save(plan_path)
    result = GenerateResult(plan=plan, plan_path=plan_path)
    if request.plan_only:
        log(f"plan written to {plan_path} ({timeline.duration_s:.1f} s); render it with --from-plan")
        return result
    clips, notes = generate_clips(plan, sidecar(output, ".clips"), request.remote, log)
    captioner = Captioner(plan.captions, plan.width, plan.height, plan.font)
    cues = captioner.fit_cues(timeline.cues)
    speech_present = plan.narration.mode != "none" and bool(timeline.cues)
    audio = master(timeline.speech, plan.music, speech_present)
    stats = render(plan, timeline, cues, audio, output, clips=clips, settings=request.render)
    srt_path = sidecar(output, ".srt")
    write_srt(srt_path, cues, captioner)
    if request.render.progress:
        log(f"rendered {stats.frames} frames ({time.perf_counter() - started:.1f} s so far); "
            "checking the file")
    report = self_check(output, plan, cues, stats, silent=not speech_present and not plan.music)
    report["notes"] = notes
    report_path = sidecar(output, ".report.json")
    report_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    result.video_path, result.srt_path, result.report_path, result.report = output, srt_path, report_path, report
    return result


def _warm_imports() -> None:
    import importlib

    try:
        importlib.import_module("pyloudnorm")
    except ImportError:  # reported where it is used
        pass


def make_plan(request: GenerateRequest, log: Callable[[str], None]) -> Plan:
    """The plan from whichever source the request names."""
    if request.plan_path is not None:
        plan = load_plan(request.plan_path)
        _override(plan, request.plan_overrides)
        return plan
    text = request.script_text
    script_dir = None
    if request.topic:
        from .topic import write_script

        log(f"writing a script about {request.topic!r} with the LLM")
        text = write_script(request.topic, llm_url=request.llm_url, llm_model=request.llm_model,
                            llm=request.llm)
        script_path = sidecar(request.output, ".script.md")
        script_path.write_text(text, encoding="utf-8")
        log(f"script written to {script_path}")
    elif request.script is not None:
        text, script_dir = _read_script(request.script), request.script.parent
    if text is None:
        raise GenerationError("give a SCRIPT file, --from-plan PLAN or --topic TEXT")
    if request.options.provider:
        check_provider(request.options.provider)
    return build_plan(parse_script(text), request.options, script_dir)


def _read_script(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GenerationError(f"script not found: {path}") from None
    except IsADirectoryError:
        raise GenerationError(f"script is a folder, not a file: {path}") from None
    except UnicodeDecodeError:
        raise GenerationError(f"script is not UTF-8 text: {path}") from None


def _override(plan: Plan, overrides: dict[str, Any]) -> None:
    """Command-line options given with --from-plan win over the plan's own values."""
    from .plan import ASPECTS

    for key, value in overrides.items():
        if key == "aspect":
            plan.aspect, (plan.width, plan.height), plan.size = value, ASPECTS[value], None
        elif key in ("voice", "speed", "mode", "audio"):
            setattr(plan.narration, key, value)
        elif key.startswith("caption_"):
            setattr(plan.captions, key.removeprefix("caption_"), value)
        else:
            setattr(plan, key, value)


def check_inputs(plan: Plan) -> None:
    """Every file the plan names exists, before minutes of work start."""
    for scene in plan.scenes:
        asset = scene.visual.asset
        if scene.visual.kind in ("image", "clip") and (not asset or not Path(asset).is_file()):
            raise GenerationError(f"scene {scene.id}: asset not found: {asset}")
    named = {"music": plan.music, "narration audio": plan.narration.audio, "font": plan.font,
             "voice": plan.narration.voice}
    for what, path in named.items():
        if path and not Path(path).is_file():
            raise GenerationError(f"{what} file not found: {path}")
    if plan.narration.mode == "audio" and not plan.narration.audio:
        raise GenerationError("narration mode 'audio' needs --narration-audio FILE")
