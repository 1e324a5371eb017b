"""``openrealtime video ...`` subcommands of this package (argparse only: imports stay light)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register this package's ``openrealtime video`` subcommands on ``sub``."""
    analyze = sub.add_parser(
        "analyze", help="write a timestamped brief of a video (offline)",
        description="Shots, speech, on-screen text, rhythm, chapters and events of a video, "
        "every claim tied to a moment. Writes brief.json, brief.md, transcript.srt, "
        "chapters.txt and keyframes/ into OUTDIR.")
    analyze.add_argument("input", type=Path)
    analyze.add_argument("-o", "--output", type=Path, required=True, metavar="OUTDIR")
    analyze.add_argument("--vlm-url", help="OpenAI-compatible /v1 URL of a vision model "
                         "(captions keyframes)")
    analyze.add_argument("--vlm-model", help="model name at --vlm-url")
    analyze.add_argument("--vlm-api-key")
    analyze.add_argument("--max-frames", type=int, default=8, metavar="N",
                         help="caption at most N keyframes (default 8)")
    analyze.add_argument("--llm-url", help="OpenAI-compatible /v1 URL for the wording "
                         "(default: local SmolLM2)")
    analyze.add_argument("--llm-model", help="model name at --llm-url")
    analyze.add_argument("--llm-api-key")
    analyze.add_argument("--no-llm", action="store_true",
                         help="extractive topic and key points, no language model")
    analyze.add_argument("--chunk-s", type=float, default=30.0, help=argparse.SUPPRESS)
    analyze.add_argument("--quiet", action="store_true", help="no progress bar")
    analyze.set_defaults(run=_analyze)

    search = sub.add_parser("search", help="find moments in an analyzed video",
                            description="Best matching moments over transcript, on-screen "
                            "text and captions of OUTDIR/brief.json.")
    search.add_argument("outdir", type=Path, metavar="OUTDIR")
    search.add_argument("query")
    search.add_argument("-n", "--limit", type=int, default=5)
    search.set_defaults(run=_search)


def _fail(command: str, message: str, code: int) -> int:
    print(f"openrealtime video {command}: {message}", file=sys.stderr)
    return code


def _analyze(args: argparse.Namespace) -> int:
    from .brief import AnalyzeOptions, analyze
    from .media import MediaError
    from .report import clock

    if args.max_frames < 0:
        return _fail("analyze", "--max-frames must be >= 0", 2)
    if bool(args.vlm_url) != bool(args.vlm_model):
        return _fail("analyze", "--vlm-url and --vlm-model go together", 2)
    opts = AnalyzeOptions(use_llm=not args.no_llm, llm_url=args.llm_url,
                          llm_model=args.llm_model, llm_api_key=args.llm_api_key,
                          vlm_url=args.vlm_url, vlm_model=args.vlm_model,
                          vlm_api_key=args.vlm_api_key, max_frames=args.max_frames,
                          chunk_s=max(args.chunk_s, 5.0), progress=not args.quiet)
    try:
        brief = analyze(args.input, args.output, opts)
    except MediaError as exc:
        return _fail("analyze", str(exc), 2)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # never a traceback: one line, non-zero exit
        reason = " ".join(str(exc).split())
        return _fail("analyze", f"failed: {type(exc).__name__}: {reason}", 1)
    r = brief["rhythm"]
    print(f"{brief['topic']}\n{clock(brief['duration_s'])}: {r['shot_count']} shots, "
          f"{len(brief['transcript']['segments'])} speech segments, {len(brief['ocr'])} "
          f"on-screen texts, {len(brief['events'])} events -> {args.output}/brief.md")
    for warning in brief["processing"]["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def _search(args: argparse.Namespace) -> int:
    from .report import clock
    from .search import search

    try:
        hits = search(args.outdir, args.query, args.limit)
    except FileNotFoundError:
        return _fail("search", f"no brief.json in {args.outdir} (run 'video analyze' first)", 2)
    except (ValueError, KeyError, TypeError) as exc:
        return _fail("search", f"cannot read {args.outdir}/brief.json: {exc}", 2)
    if not hits:
        print(f"no match for {args.query!r}", file=sys.stderr)
        return 1
    for hit in hits:
        print(f"{clock(hit.start_s)}  {hit.start_s:7.2f}s  [{hit.source}]  {hit.text}")
    return 0
