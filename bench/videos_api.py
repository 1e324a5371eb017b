"""Wall time of Videos-API jobs (/v1/videos) on this CPU, through the openai SDK.

Starts the server in this process (fake realtime models: nothing else competes for the
CPU) with a temporary videos_dir, then creates videos one after the other and reports,
per job, the time from ``create`` to ``completed`` as a client sees it (polling every
100 ms) and the length and size of the MP4. The video worker narrates with Piper
(``--narration piper``, the default, as a local server does) or the fake tone
(``--narration fake``, as the tests do). Not a test: prints figures, asserts nothing.

    .venv/bin/python bench/videos_api.py [--seconds 8] [--size 720x1280] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import tempfile
import time
import warnings
from pathlib import Path

SCRIPT = """# Garden bees

## Why they matter
Bees carry pollen from flower to flower. Many fruits depend on them.

## How to help
Plant flowers that bloom all summer.
"""


async def run(args: argparse.Namespace) -> None:
    import av
    from openai import AsyncOpenAI

    from openrealtime.server.app import create_app
    from openrealtime.server.run import running_server
    from openrealtime.server.settings import Settings

    warnings.filterwarnings("ignore", "The Sora API", DeprecationWarning)
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(Settings(backend="fake", videos_dir=Path(folder)))
        app.state.videos.jobs.worker["backend"] = "local" if args.narration == "piper" else "fake"
        async with running_server(app) as url:
            client = AsyncOpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
            walls = []
            for i in range(args.repeat):
                started = time.perf_counter()
                video = await client.videos.create_and_poll(
                    prompt=SCRIPT, seconds=args.seconds, size=args.size, poll_interval_ms=100)
                wall = time.perf_counter() - started
                if video.status != "completed":
                    print(f"job {i}: {video.status}: {video.error}")
                    continue
                data = (await client.videos.download_content(video.id)).content
                with av.open(io.BytesIO(data)) as c:
                    v = c.streams.video[0].codec_context
                    length = c.duration / 1_000_000
                    print(f"job {i}: {wall:.2f} s wall for {length:.2f} s at {v.width}x{v.height} "
                          f"({len(data) / 1e6:.2f} MB, {wall / length:.2f} s per video second)")
                walls.append(wall)
            await client.close()
    if walls:
        print(f"median {statistics.median(walls):.2f} s per {args.seconds} s {args.size} video "
              f"({args.narration} narration, {args.repeat} jobs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", default="8", choices=("4", "8", "12"))
    parser.add_argument("--size", default="720x1280",
                        choices=("720x1280", "1280x720", "1024x1792", "1792x1024"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--narration", default="piper", choices=("piper", "fake"))
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
