"""``openrealtime video ...`` subcommands of this package (argparse only: imports stay light)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

ASPECT_CHOICES = ("9:16", "16:9", "1:1")


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register this package's ``openrealtime video`` subcommands on ``sub``."""
    p = sub.add_parser(
        "generate", help="turn a script into a narrated short video (offline)",
        description="Script (text or Markdown; headings mark scenes) -> OUT.mp4 with "
        "OUT.plan.json, OUT.srt and OUT.report.json next to it.")
    p.add_argument("script", nargs="?", type=Path, metavar="SCRIPT")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.mp4")
    src = p.add_argument_group("plan")
    src.add_argument("--plan-only", action="store_true", help="write OUT.plan.json and stop")
    src.add_argument("--from-plan", type=Path, metavar="PLAN", help="render an (edited) plan")
    src.add_argument("--topic", help="have the LLM write the script first")
    src.add_argument("--llm-url", help="OpenAI-compatible LLM for --topic (default: local llama.cpp)")
    src.add_argument("--llm-model")
    src.add_argument("--aspect", choices=ASPECT_CHOICES, help="9:16 (default), 16:9 or 1:1")
    src.add_argument("--assets", type=Path, metavar="DIR", help="your images and clips")
    src.add_argument("--transition", choices=("cut", "crossfade"), help="between scenes (default cut)")
    src.add_argument("--transition-seconds", type=float, metavar="S")
    src.add_argument("--seed", type=int, help="seed for generated visuals (default 0)")
    src.add_argument("--font", help="TrueType/OpenType font file (default: Pillow's bundled font)")
    voice = p.add_argument_group("sound")
    voice.add_argument("--voice", help="Piper .onnx voice model (default: bundled joe voice)")
    voice.add_argument("--speed", type=float, help="speech rate (default 1.0)")
    mode = voice.add_mutually_exclusive_group()
    mode.add_argument("--narration-audio", type=Path, metavar="FILE", help="your own narration")
    mode.add_argument("--no-narration", action="store_true", help="captions only, no voice")
    voice.add_argument("--music", type=Path, metavar="FILE", help="background music, ducked under speech")
    cap = p.add_argument_group("captions")
    cap.add_argument("--caption-position", choices=("bottom", "center", "top"))
    cap.add_argument("--caption-size", type=float, metavar="FRACTION",
                     help="font height as a fraction of frame width (default 0.052)")
    cap.add_argument("--caption-style", choices=("box", "outline", "plain"))
    cap.add_argument("--caption-color", metavar="#RRGGBB")
    cap.add_argument("--caption-lines", type=int, metavar="N", help="max lines per caption (default 2)")
    cap.add_argument("--no-captions", action="store_true", help="no burned-in captions (SRT still written)")
    remote = p.add_argument_group("remote generators")
    remote.add_argument("--provider", help="sora, runway or kling: generate scene visuals remotely")
    remote.add_argument("--max-cost", type=float, default=5.0, metavar="USD",
                        help="refuse to start remote jobs estimated above this (default 5)")
    remote.add_argument("--provider-timeout", type=float, default=900.0, metavar="S")
    enc = p.add_argument_group("encoding")
    enc.add_argument("--preset", default="quick",
                     help="quick (default: x264 ultrafast with CABAC, B-frames and deblocking, "
                     "2x real time on 2 cores) or an x264 preset: veryfast makes files 3x "
                     "smaller, slower")
    enc.add_argument("--crf", type=int, default=21)
    enc.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from .error import GenerationError

    try:
        return _generate(args)
    except GenerationError as exc:
        print(f"openrealtime video generate: {exc}", file=sys.stderr)
        return 2


def _generate(args: argparse.Namespace) -> int:
    from .check import summary
    from .error import GenerationError
    from .generator import RemoteSettings
    from .pipeline import GenerateRequest, generate
    from .plan import CaptionStyle, NarrationSpec
    from .render import RenderSettings
    from .storyboard import PlanOptions

    sources = [x for x in (args.script, args.from_plan, args.topic) if x is not None]
    if len(sources) != 1:
        raise GenerationError("give exactly one of SCRIPT, --from-plan PLAN or --topic TEXT")
    if args.speed is not None and not 0.25 <= args.speed <= 4:
        raise GenerationError(f"--speed must be between 0.25 and 4, got {args.speed}")
    if args.caption_size is not None and not 0.02 <= args.caption_size <= 0.15:
        raise GenerationError("--caption-size must be between 0.02 and 0.15 of the frame width")
    overrides = _overrides(args)
    narration = NarrationSpec(
        mode=overrides.get("mode", "tts"), voice=args.voice, speed=args.speed or 1.0,
        audio=str(args.narration_audio) if args.narration_audio else None)
    captions = CaptionStyle(**{k.removeprefix("caption_"): v for k, v in overrides.items()
                               if k.startswith("caption_")})
    options = PlanOptions(
        aspect=args.aspect or "9:16", seed=args.seed or 0, assets=args.assets, narration=narration,
        music=str(args.music) if args.music else None, transition=args.transition or "cut",
        transition_s=0.5 if args.transition_seconds is None else args.transition_seconds,
        captions=captions, provider=args.provider, font=args.font)
    request = GenerateRequest(
        output=args.output, script=args.script, plan_path=args.from_plan, topic=args.topic,
        options=options, plan_overrides=overrides, plan_only=args.plan_only,
        render=RenderSettings(preset=args.preset, crf=args.crf, progress=not args.quiet),
        remote=RemoteSettings(max_cost_usd=args.max_cost, timeout_s=args.provider_timeout),
        llm_url=args.llm_url, llm_model=args.llm_model)
    result = generate(request)
    if result.report is None:
        return 0
    print(summary(result.report))
    print(f"wrote {result.video_path}, {result.srt_path}, {result.plan_path}, {result.report_path}")
    return 0 if result.report["ok"] else 1


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Options the user actually gave (they override a --from-plan plan's values)."""
    given: dict[str, Any] = {
        "aspect": args.aspect, "seed": args.seed, "font": args.font, "voice": args.voice,
        "speed": args.speed, "transition_s": args.transition_seconds,
        "music": str(args.music) if args.music else None,
        "caption_position": args.caption_position, "caption_size": args.caption_size,
        "caption_style": args.caption_style, "caption_color": args.caption_color,
        "caption_max_lines": args.caption_lines,
    }
    if args.no_captions:
        given["caption_enabled"] = False
    if args.narration_audio:
        given.update(mode="audio", audio=str(args.narration_audio))
    elif args.no_narration:
        given["mode"] = "none"
    return {k: v for k, v in given.items() if v is not None}
