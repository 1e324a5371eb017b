"""``openrealtime`` command line: serve, ask, say, cost."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

DEMO_QUESTION = "What is the capital of France?"


def _serve(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from .server.app import create_app
    from .server.run import DrainingServer, uvicorn_config
    from .server.settings import Settings

    overrides = {k: v for k, v in {
        "host": args.host, "port": args.port, "backend": args.backend,
        "llm_url": args.llm_url, "llm_model": args.llm_model,
        "llm_api_key": args.llm_api_key,
        "stt_url": args.stt_url, "stt_model": args.stt_model, "stt_api_key": args.stt_api_key,
        "tts_url": args.tts_url, "tts_model": args.tts_model, "tts_api_key": args.tts_api_key,
        "tts_voice": args.tts_voice,
        "vlm_url": args.vlm_url, "vlm_model": args.vlm_model,
        "api_keys": ",".join(args.api_key) if args.api_key else None,
        "record_dir": args.record,
        "max_sessions": args.max_sessions, "drain_timeout_s": args.drain_timeout_s,
        "redis_url": args.redis_url, "redis_key_prefix": args.redis_key_prefix,
        "twilio_auth_token": args.twilio_auth_token,
    }.items() if v is not None}
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:  # one line per problem, not pydantic's report
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"])
            message = str(error["msg"]).removeprefix("Value error, ")
            print(f"openrealtime serve: {where + ': ' if where else ''}{message}",
                  file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if settings.backend == "local":
        from .backends.base import BackendError
        from .backends.stack import local_model_configs

        try:  # names download here; a bad path or no network: one line, not a traceback
            local_model_configs(settings.speech_models(),
                                None if settings.llm_url else settings.llm_model)
        except BackendError as exc:
            print(f"openrealtime serve: {exc.message}", file=sys.stderr)
            return 2
    app = create_app(settings)
    print(f"openrealtime: loading models, then serving ws://{settings.host}:{settings.port}"
          f"/v1/realtime (browser console: http://{settings.host}:{settings.port}/)",
          file=sys.stderr)
    # SIGTERM drains: no new sessions, the open ones go on up to --drain-timeout-s, exit 0
    DrainingServer(uvicorn_config(app, settings.host, settings.port, "info"),
                   app.state.server).run()
    return 0


async def _ask(args: argparse.Namespace) -> int:
    from .audio import read_wav, write_wav
    from .client.ask import RATE, ask_url, image_data_url, to_pcm24k

    try:
        x, rate = read_wav(args.question)
    except (OSError, ValueError, EOFError) as exc:
        print(f"openrealtime ask: cannot read {args.question}: {exc}", file=sys.stderr)
        return 2
    image = None
    if args.image is not None:
        try:
            image = args.image.read_bytes()
            image_data_url(image)
        except (OSError, ValueError) as exc:
            print(f"openrealtime ask: cannot use {args.image}: {exc}", file=sys.stderr)
            return 2
    x = to_pcm24k(x, rate)
    if args.url:
        result = await ask_url(args.url, x, api_key=args.api_key, realtime=not args.fast,
                               image=image, instructions=args.instructions)
    else:
        from .server.app import create_app
        from .server.run import running_server
        from .server.settings import Settings

        print("openrealtime ask: starting an in-process server with the local models...",
              file=sys.stderr)
        settings = Settings(llm_url=args.llm_url, llm_model=args.llm_model)
        async with running_server(create_app(settings)) as url:
            result = await ask_url(url, x, realtime=not args.fast, image=image,
                                   instructions=args.instructions)
    write_wav(args.output, result.audio, RATE)
    print(f"question: {result.question}")
    print(f"answer:   {result.answer}")
    if result.latency_s is not None:
        print(f"latency:  {result.latency_s * 1000:.0f} ms from speech_stopped to first audio, "
              f"{(result.latency_from_speech_end_s or 0) * 1000:.0f} ms from the end of speech")
    print(f"saved {len(result.audio) / RATE:.2f} s of audio to {args.output}")
    # "incomplete": an answer cut short (its length cap, or the loop guard) is an answer.
    return 0 if result.status in ("completed", "incomplete") else 1


def _say(args: argparse.Namespace) -> int:
    from .audio import write_wav
    from .backends.local.piper import PiperTTS

    async def run() -> None:
        import numpy as np

        from .runtime.speakable import speech_text

        tts = PiperTTS(deterministic=True)
        # Piper runs in this process: it gets the speakable form of the text only.
        chunks = [c for piece in speech_text(args.text) async for c in tts.synthesize(piece)]
        if not chunks:
            raise SystemExit(f"openrealtime say: nothing speakable in {args.text!r}")
        lead = np.zeros(int(0.3 * tts.sample_rate), dtype=np.int16)
        write_wav(args.output, np.concatenate([lead, *chunks]), tts.sample_rate)

    asyncio.run(run())
    print(f"wrote {args.output}")
    return 0


def _cost(args: argparse.Namespace) -> int:
    from .cost.estimate import ConversationModel
    from .cost.price import PriceError, PriceTable
    from .cost.recording import RecordingError, read_recording
    from .cost.report import minutes_report, recordings_report

    try:
        table = PriceTable()
        if args.prices is not None:
            table = table.with_file(args.prices)
        for assignment in args.price or []:
            table = table.with_flag(assignment)
        if args.cpu_hour_usd is not None:
            table = table.override("local", {"cpu_hour_usd": args.cpu_hour_usd})
        if args.cores is not None:
            table = table.override("local", {"cores": args.cores})
        blocks = [recordings_report([read_recording(p) for p in args.recordings], table,
                                    args.preset)] if args.recordings else []
        model = ConversationModel(turns_per_minute=args.turns_per_minute)
        for minutes in args.minutes or ([] if args.recordings else [1.0]):
            blocks.append(minutes_report(minutes, table, args.preset, model))
    except (PriceError, RecordingError) as exc:  # both carry a one-line message
        print(f"openrealtime cost: {exc}", file=sys.stderr)
        return 2
    print("\n\n".join(blocks))
    return 0


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="openrealtime", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the realtime server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--backend", choices=["local", "fake"])
    serve.add_argument("--api-key", action="append", help="accepted key (repeatable)")
    serve.add_argument("--llm-url", help="OpenAI-compatible /v1 base URL for the LLM")
    serve.add_argument("--llm-model", help="model name at --llm-url; without it a local "
                       ".gguf file (or REPO_ID:FILE on the Hugging Face hub)")
    serve.add_argument("--llm-api-key", help="API key for --llm-url")
    serve.add_argument("--stt-url", help="OpenAI-compatible /v1 base URL for speech "
                       "recognition (/audio/transcriptions)")
    serve.add_argument("--stt-model", help="model name at --stt-url; without it a "
                       "faster-whisper size (base.en, small...) or model directory")
    serve.add_argument("--stt-api-key", help="API key for --stt-url")
    serve.add_argument("--tts-url", help="OpenAI-compatible /v1 base URL for speech "
                       "(/audio/speech, streamed PCM)")
    serve.add_argument("--tts-model", help="model name at --tts-url; without it a Piper "
                       "voice file (.onnx) or voice name (en_US-amy-medium)")
    serve.add_argument("--tts-api-key", help="API key for --tts-url")
    serve.add_argument("--tts-voice", help="voice at --tts-url for every session voice "
                       "(NAME), or a map: alloy=af_bella,marin=af_sky")
    serve.add_argument("--vlm-url", help="OpenAI-compatible /v1 base URL of a vision model")
    serve.add_argument("--vlm-model", help="model name at --vlm-url")
    serve.add_argument("--record", type=Path, metavar="DIR",
                       help="write each session's server events to DIR/<session id>.jsonl")
    serve.add_argument("--max-sessions", type=int, metavar="N",
                       help="open sessions at most; one more gets HTTP 503 (default 64)")
    serve.add_argument("--drain-timeout-s", type=float, metavar="S",
                       help="on SIGTERM, how long open sessions may go on before they are "
                       "ended (default 30)")
    serve.add_argument("--redis-url", help="keep ephemeral client secrets in Redis "
                       "(redis://host:6379/0), shared by replicas; default: in memory")
    serve.add_argument("--redis-key-prefix", metavar="PREFIX",
                       help="prefix of this server's Redis keys (default openrealtime:)")
    serve.add_argument("--twilio-auth-token", metavar="TOKEN",
                       help="check X-Twilio-Signature on /twilio/media-stream with this "
                       "Twilio auth token (or OPENREALTIME_TWILIO_AUTH_TOKEN, kept out of ps)")
    serve.set_defaults(run=_serve)

    ask = sub.add_parser("ask", help="speak a WAV question to the server, save the answer")
    ask.add_argument("question", type=Path)
    ask.add_argument("-o", "--output", type=Path, default=Path("answer.wav"))
    ask.add_argument("--url", help="server base URL (default: start one in-process)")
    ask.add_argument("--api-key")
    ask.add_argument("--fast", action="store_true", help="stream faster than real time")
    ask.add_argument("--image", type=Path, help="share a PNG/JPEG (e.g. a screenshot) first")
    ask.add_argument("--instructions", help="session instructions for this question")
    ask.add_argument("--llm-url")
    ask.add_argument("--llm-model")
    ask.set_defaults(run=lambda a: asyncio.run(_ask(a)))

    say = sub.add_parser("say", help="synthesize speech to a WAV file with Piper")
    say.add_argument("text", nargs="?", default=DEMO_QUESTION)
    say.add_argument("-o", "--output", type=Path, default=Path("question.wav"))
    say.set_defaults(run=_say)

    cost = sub.add_parser("cost", help="estimate what conversations cost, hosted vs local",
                          description="Price minutes of talk (default: 1) or recorded "
                          "sessions (serve --record) under each hosted preset and on local "
                          "compute.")
    cost.add_argument("recordings", nargs="*", type=Path, metavar="RECORDING.jsonl")
    cost.add_argument("--minutes", type=_positive, action="append",
                      help="minutes of conversation to price (repeatable)")
    cost.add_argument("--preset", help="only this preset (gpt-realtime, ..., or local)")
    cost.add_argument("--prices", type=Path, metavar="FILE",
                      help="JSON or TOML {preset: {field: usd per 1M tokens}} overrides")
    cost.add_argument("--price", action="append", metavar="NAME.FIELD=USD",
                      help="override one price, e.g. gpt-realtime.audio_in=30 (repeatable)")
    cost.add_argument("--cpu-hour-usd", type=float, metavar="X",
                      help="local compute price per CPU-hour (default 0.04)")
    cost.add_argument("--cores", type=float, help="cores a local session holds (default 2)")
    cost.add_argument("--turns-per-minute", type=_positive, default=4.0,
                      help="conversation model for --minutes (default 4)")
    cost.set_defaults(run=_cost)
    video = sub.add_parser("video", help="video understanding and generation")
    video_sub = video.add_subparsers(dest="video_command", required=True)
    from .video.generation.command import add_commands as add_generation
    from .video.understanding.command import add_commands as add_understanding

    add_understanding(video_sub)
    add_generation(video_sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        return 130
    except (ConnectionError, OSError) as exc:
        print(f"openrealtime {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
