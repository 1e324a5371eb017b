"""Run the app with uvicorn: in the foreground (``serve``) or in-process (tests, ``ask``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette

# Leave room for 15 MiB appends (base64 grows them by a third); our own limit answers
# larger frames with an error event instead of a dropped connection.
WS_MAX_SIZE = 32 * 1024 * 1024


def uvicorn_config(app: Starlette, host: str, port: int, log_level: str = "warning"
                   ) -> uvicorn.Config:
    return uvicorn.Config(app, host=host, port=port, log_level=log_level,
                          ws_max_size=WS_MAX_SIZE, ws_ping_interval=20.0,
                          ws_ping_timeout=20.0, lifespan="on",
                          # base64 audio barely compresses; inflating every append
                          # frame was the second-largest cost of listening (py-spy).
                          ws_per_message_deflate=False)


@contextlib.asynccontextmanager
async def running_server(app: Starlette, host: str = "127.0.0.1", port: int = 0
                         ) -> AsyncIterator[str]:
    """Serve ``app`` on loopback inside this event loop; yields ``http://host:port``."""
    server = uvicorn.Server(uvicorn_config(app, host, port))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("server stopped during start-up")
            await asyncio.sleep(0.01)
        bound = server.servers[0].sockets[0].getsockname()
        yield f"http://{host}:{bound[1]}"
    finally:
        server.should_exit = True
        await task
