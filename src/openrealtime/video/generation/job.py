"""One Videos-API job, rendered in a process of its own (``server/video_jobs.py`` starts it):

    python -m openrealtime.video.generation.job JOB_DIR

``JOB_DIR/job.json`` holds the job; its ``spec`` says what to make (``prompt``,
``seconds``, ``size``, ``seed``, the ``reference`` image or clip and, for a remix, the
``source_plan`` file, both in JOB_DIR). The worker writes ``video.mp4`` (with
``video.plan.json``, ``video.srt`` and ``video.report.json`` beside it),
``thumbnail.webp`` and ``spritesheet.jpg``, and reports on stdout, one JSON object a line:
``{"progress": 37}``..., then ``{"done": true}`` or ``{"error": {"code", "message"}}``.
Whatever the libraries print goes to stderr (the server keeps it in ``worker.log``).

The worker lowers its own CPU priority first (``nice``): live voice sessions keep the
processor. It exits when its parent goes away (its stdin closes). Its models are its own,
described by ``OPENREALTIME_VIDEO_WORKER`` (JSON in the environment, so that no key is
written to disk): ``backend`` (fake or local), the LLM that turns a topic into a script
(``llm_url``, ``llm_model``, ``llm_api_key``, as the server's), the Piper voice
(``tts_model``), ``threads`` and ``nice``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .error import GenerationError

WORKER_ENV = "OPENREALTIME_VIDEO_WORKER"
# Progress (percent) at the end of each stage; rendering fills RENDER_FROM..RENDER_TO.
SCRIPT_DONE, PLAN_DONE, RENDER_FROM, RENDER_TO = 5, 10, 15, 95


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    backend: str = "local"
    llm_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = None
    tts_model: str | None = None
    threads: int = 2
    nice: int = 10

    @classmethod
    def from_env(cls) -> WorkerConfig:
        data = json.loads(os.environ.get(WORKER_ENV) or "{}")
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def render_job(job_dir: Path, config: WorkerConfig, progress: Callable[[int], None]) -> None:
    """Make everything ``job.json``'s spec asks for in ``job_dir``."""
    from .pipeline import GenerateRequest, generate
    from .preview import write_previews
    from .render import RenderSettings

    spec: dict[str, Any] = json.loads((job_dir / "job.json").read_text(encoding="utf-8"))["spec"]
    plan_path = job_dir / "input.plan.json"
    plan = _plan(job_dir, spec, config, progress)
    plan.save(plan_path)
    progress(PLAN_DONE)
    span = RENDER_TO - RENDER_FROM
    render = RenderSettings(progress=False, on_frame=lambda done, total: progress(
        RENDER_FROM + span * done // max(1, total)))
    tts = None
    if config.backend == "fake":
        from openrealtime.backends.fake import FakeTTS

        tts = FakeTTS()
    output = job_dir / "video.mp4"
    generate(GenerateRequest(output=output, plan_path=plan_path, render=render, tts=tts),
             log=lambda message: print(message, file=sys.stderr))
    write_previews(output, float(spec["seconds"]), job_dir / "thumbnail.webp",
                   job_dir / "spritesheet.jpg")


def _plan(job_dir: Path, spec: dict[str, Any], config: WorkerConfig,
          progress: Callable[[int], None]) -> Any:
    """The storyboard: the prompt as a script (or the LLM's script for it as a topic),
    the exact size and length, the reference as the first scene's picture."""
    from .plan import load_plan, parse_size
    from .script import parse_script
    from .storyboard import build_plan
    from .topic import looks_like_script

    seconds = float(spec["seconds"])
    text = spec["prompt"]
    if not looks_like_script(text):
        text = asyncio.run(_write_script(text, seconds, config))
        (job_dir / "script.md").write_text(text, encoding="utf-8")
    progress(SCRIPT_DONE)
    source = load_plan(job_dir / spec["source_plan"]) if spec.get("source_plan") else None
    width, height = parse_size(spec["size"])
    plan = build_plan(parse_script(text), _options(source, spec, config, width, height))
    plan.size, plan.width, plan.height, plan.duration_s = spec["size"], width, height, seconds
    if spec.get("reference"):
        _reference_scene(plan, job_dir / spec["reference"])
    return plan


def _options(source: Any, spec: dict[str, Any], config: WorkerConfig, width: int,
             height: int) -> Any:
    """A new video's plan options; a remix takes its source plan's (seed, voice,
    captions, transitions, font, music): the same look with new words."""
    from .plan import NarrationSpec, nearest_aspect
    from .storyboard import PlanOptions

    if source is None:
        return PlanOptions(aspect=nearest_aspect(width, height), seed=int(spec["seed"]),
                           narration=NarrationSpec(voice=_voice(config)))
    transition = next((s.transition for s in source.scenes[1:]), "cut")
    return PlanOptions(
        aspect=source.aspect, seed=source.seed, music=source.music, font=source.font,
        narration=NarrationSpec(voice=source.narration.voice, speed=source.narration.speed),
        transition=transition, transition_s=source.transition_s, captions=source.captions)


def _voice(config: WorkerConfig) -> str | None:
    if config.backend == "fake" or not config.tts_model:
        return None
    from openrealtime.backends.base import BackendError
    from openrealtime.backends.models import piper_voice

    try:
        return str(piper_voice(config.tts_model)[0])
    except BackendError as exc:
        raise GenerationError(f"narration voice: {exc}") from None


def _reference_scene(plan: Any, path: Path) -> None:
    from .asset import IMAGE_SUFFIXES
    from .plan import Visual

    first = plan.scenes[0]
    kind = "image" if path.suffix.lower() in IMAGE_SUFFIXES else "clip"
    first.visual = Visual(kind=kind, asset=str(path), keywords=first.visual.keywords)


async def _write_script(topic: str, seconds: float, config: WorkerConfig) -> str:
    from .topic import write_script_async

    llm = _llm(config)
    try:
        return await write_script_async(topic, llm, seconds=seconds)
    finally:
        close = getattr(llm, "aclose", None)
        if close is not None:
            await close()


def _llm(config: WorkerConfig) -> object:
    from openrealtime.backends.base import BackendError

    try:
        if config.backend == "fake":
            from openrealtime.backends.fake import FakeLLM

            return FakeLLM()
        if config.llm_url:
            from openrealtime.backends.remote.openai_llm import RemoteLLM

            return RemoteLLM(config.llm_url, config.llm_model or "default",
                             api_key=config.llm_api_key)
        from openrealtime.backends.local.llama import LlamaLLM
        from openrealtime.backends.models import SpeechModels
        from openrealtime.backends.stack import local_model_configs

        local = local_model_configs(SpeechModels(), config.llm_model)["llm"]
        return LlamaLLM(n_threads=config.threads, **local)
    except (BackendError, ImportError) as exc:
        raise GenerationError(f"no LLM to write a script for the prompt: {exc}") from None


def _watch_parent() -> None:
    """Exit as soon as stdin closes: the server that started this worker is gone."""
    def watch() -> None:
        while os.read(0, 4096):  # (the raw fd: a buffered read would hold a lock at exit)
            pass
        os._exit(3)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # stray prints (and native libraries) go to stderr, not the channel
    config = WorkerConfig.from_env()
    os.nice(config.nice)
    _watch_parent()
    shown = -1

    def progress(percent: int) -> None:
        nonlocal shown
        if percent > shown:
            shown = percent
            channel.write(json.dumps({"progress": percent}) + "\n")

    try:
        render_job(Path(args[0]), config, progress)
    except GenerationError as exc:
        channel.write(json.dumps({"error": {"code": "generation_failed",
                                            "message": str(exc)[:2000]}}) + "\n")
        return 2
    except Exception as exc:  # a bug: the job fails with its name, the trace goes to the log
        traceback.print_exc()
        channel.write(json.dumps({"error": {"code": "internal_error",
                                            "message": f"{type(exc).__name__}: {exc}"[:2000]}})
                      + "\n")
        return 3
    channel.write(json.dumps({"done": True}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
