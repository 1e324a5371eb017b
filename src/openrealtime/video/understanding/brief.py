"""``analyze``: a video file in, a validated brief and its reports out.

The streaming pass (:mod:`.pipeline`) measures; this module assembles the brief: shots,
transcript, on-screen text, rhythm, chapters, wording (LLM or extractive), captions
(vision model, optional), events with evidence; then validates and writes everything.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import summary
from .event import build_events
from .fusion import reconcile
from .media import Decoder
from .pipeline import PassResult, Stopwatch, StreamingPass
from .report import write_reports
from .rhythm import rhythm
from .schema import SCHEMA, SCHEMA_VERSION, validate


@dataclass(slots=True)
class AnalyzeOptions:
    """How to analyze. Defaults: local models, no vision model, a progress bar."""

    use_llm: bool = True
    llm: Any = None  # an LLM backend object (tests, embedding apps); else built from below
    llm_url: str | None = None  # OpenAI-compatible /v1 base URL; default: local SmolLM2
    llm_model: str | None = None
    llm_api_key: str | None = None
    llm_timeout_s: float = 20.0
    vlm_url: str | None = None
    vlm_model: str | None = None
    vlm_api_key: str | None = None
    max_frames: int = 8  # vision-model budget: keyframes captioned at most
    chunk_s: float = 30.0
    keyframe_every_s: float = 20.0
    progress: bool = True
    fuse_screen_text: bool = True  # on-screen text primes and corrects the transcript
    warnings: list[str] = field(default_factory=list)


def analyze(path: str | Path, outdir: str | Path, options: AnalyzeOptions | None = None
            ) -> dict[str, Any]:
    """Analyze the media file at ``path`` and write the brief into ``outdir``.

    Returns the brief (the content of ``brief.json``). Raises
    :class:`~openrealtime.video.understanding.media.MediaError` for unreadable files.
    Must be called outside a running event loop (it runs the LLM in its own).
    """
    opts = options or AnalyzeOptions()
    outdir = Path(outdir)
    decoder = Decoder(Path(path))
    outdir.mkdir(parents=True, exist_ok=True)
    clock = Stopwatch()
    measured = StreamingPass(decoder, outdir, chunk_s=opts.chunk_s,
                             keyframe_every_s=opts.keyframe_every_s, progress=opts.progress,
                             clock=clock, prime=opts.fuse_screen_text).run()
    brief = _measured_brief(decoder, measured, fuse=opts.fuse_screen_text)
    brief["processing"] = {"llm": None, "vlm": None, "timings_s": {},
                           "warnings": [*measured.warnings, *opts.warnings]}
    with clock.stage("captions"):
        _captions(brief, outdir, opts)
    with clock.stage("llm"):
        chapter_points = _wording(brief, opts)
    brief["events"] = build_events(brief, chapter_points)
    brief["processing"]["timings_s"] = {k: round(v, 3) for k, v in clock.seconds.items()}
    validate(brief)
    with clock.stage("write"):
        (outdir / "brief.json").write_text(json.dumps(brief, indent=1), encoding="utf-8")
        (outdir / "brief.schema.json").write_text(json.dumps(SCHEMA, indent=1), encoding="utf-8")
        write_reports(outdir, brief)
    return brief


def _measured_brief(decoder: Decoder, m: PassResult, *, fuse: bool = True) -> dict[str, Any]:
    info, duration = decoder.info, m.duration_s
    starts = [0.0] + [b.time_s for b in m.boundaries] if info.has_video and duration else []
    kinds = ["start"] + [b.kind for b in m.boundaries]
    shots = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else duration
        kfs = m.keyframes.get(i, [])
        shots.append({"index": i, "start_s": round(start, 3), "end_s": round(max(end, start), 3),
                      "transition": kinds[i], "keyframe": kfs[0]["path"] if kfs else None,
                      "keyframes": kfs})
        m.text.close_shot(i, end)
    ocr = sorted(({"start_s": round(t.start_s, 3), "end_s": round(t.end_s or t.start_s, 3),
                   "text": t.text, "shot_index": t.shot_index,
                   "source": t.source,
                   "box": list(t.box)} for t in m.text.items if t.shot_index < len(shots)),
                 key=lambda o: (o["start_s"], o["shot_index"]))
    segments = [{"start_s": s.start_s, "end_s": s.end_s, "text": s.text,
                 "words": [{"word": w.word, "start_s": w.start_s, "end_s": w.end_s}
                           for w in s.words]} for s in m.segments]
    if fuse:  # spoken words close to on-screen ones of their shot take the screen's spelling
        reconcile({"shots": shots, "ocr": ocr, "transcript": {"segments": segments}})
    return {"schema_version": SCHEMA_VERSION,
            "source": {"path": str(decoder.path), "width": info.width, "height": info.height,
                       "fps": round(info.fps, 3), "has_video": info.has_video,
                       "has_audio": info.has_audio},
            "duration_s": duration, "shots": shots,
            "transcript": {"language": m.language, "segments": segments}, "ocr": ocr,
            "rhythm": rhythm(duration, shots, segments)}


def _captions(brief: dict[str, Any], outdir: Path, opts: AnalyzeOptions) -> None:
    if not (opts.vlm_url and opts.vlm_model):
        return
    from .caption import Captioner

    captioner = Captioner(opts.vlm_url, opts.vlm_model, opts.vlm_api_key)
    keyframes = [{**kf, "shot_index": s["index"]} for s in brief["shots"] for kf in s["keyframes"]]
    brief["captions"], warnings = captioner.caption_all(outdir, keyframes, opts.max_frames)
    brief["processing"]["vlm"] = captioner.name
    brief["processing"]["warnings"] += warnings


def _wording(brief: dict[str, Any], opts: AnalyzeOptions) -> list[dict[str, Any]]:
    """Chapters, topic and key points; the LLM words them when it is there and sensible.

    Returns each chapter's key point ({} for a chapter with nothing seen or said).
    """
    chapters = summary.chapters(brief)
    sources = [summary.chapter_sources(brief, c) for c in chapters]
    for n, (chapter, src) in enumerate(zip(chapters, sources, strict=True), 1):
        chapter["title"] = summary.extractive_title(src, n)
    points = [summary.extractive_point(brief, c, s) for c, s in zip(chapters, sources,
                                                                      strict=True)]
    brief["chapters"], brief["topic"] = chapters, summary.extractive_topic(brief)
    texts = [summary.source_text(brief, s) for s in sources]
    has_words = [bool(s["segments"] or s["ocr"]) for s in sources]
    if opts.use_llm and any(has_words):
        everything = summary.source_text(brief, {
            "segments": list(enumerate(brief["transcript"]["segments"])),
            "ocr": list(enumerate(brief["ocr"]))}, limit=600)
        prompts = [(f"Write a short title for this text: {everything}", everything, 10)]
        prompts += [(f"Summarize in one short sentence: {t}", t, 25)
                    for t, ok in zip(texts, has_words, strict=True) if ok]
        answers = _run_llm(brief, opts, prompts)
        if answers:
            brief["topic"] = answers[0] or brief["topic"]
            worded = iter(answers[1:])
            for point, ok in zip(points, has_words, strict=True):
                if ok and (answer := next(worded)) is not None:
                    point["text"] = answer
    brief["key_points"] = [p for p in points if p]
    return points


def _run_llm(brief: dict[str, Any], opts: AnalyzeOptions, prompts: list[tuple[str, str, int]]
             ) -> list[str | None]:
    async def run() -> list[str | None]:
        llm, owned = opts.llm, opts.llm is None
        if llm is None:
            llm = _make_llm(opts)
        brief["processing"]["llm"] = getattr(llm, "name", type(llm).__name__)
        try:
            return await summary.llm_wording(llm, prompts, opts.llm_timeout_s)
        finally:
            if owned and hasattr(llm, "aclose"):
                await llm.aclose()

    try:
        return asyncio.run(run())
    except Exception as exc:  # any model failure: the extractive wording stands
        reason = " ".join(str(exc).split()) or type(exc).__name__
        brief["processing"]["warnings"].append(f"language model unavailable ({reason}); "
                                               "extractive topic and key points used")
        return []


def _make_llm(opts: AnalyzeOptions) -> Any:
    if opts.llm_url:
        from openrealtime.backends.remote.openai_llm import RemoteLLM

        return RemoteLLM(opts.llm_url, opts.llm_model or "default", api_key=opts.llm_api_key,
                         timeout_s=opts.llm_timeout_s)
    from openrealtime.backends.local.llama import LlamaLLM

    # One thread: llama.cpp's threads busy-wait on each other every token, and when the
    # cores are shared (here: ONNX and CTranslate2 pools, or other processes) two threads
    # ran 10x slower than one. A 135M model is fast enough on one core.
    return LlamaLLM(n_ctx=1024, n_threads=1)
