"""Run the app with uvicorn: in the foreground (``serve``) or in-process (tests, ``ask``).

uvicorn is configured from :class:`Settings`, with two additions of ours at the socket
level, where the app cannot see: :class:`GuardedH11Protocol` (a deadline for request
heads, a cap on open connections) and :class:`SecretRedactor` (no key in the logs).
``serve`` runs :class:`DrainingServer`: SIGTERM drains the sessions before uvicorn stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
import socket
from collections.abc import AsyncIterator, Callable
from types import FrameType
from typing import TYPE_CHECKING, Any, ClassVar

import h11
import uvicorn
from starlette.applications import Starlette
from uvicorn.protocols.http.h11_impl import H11Protocol

from .settings import Settings

if TYPE_CHECKING:
    from .app import RealtimeServer

# Query parameters that carry credentials, and values shaped like OpenAI keys or our
# ephemeral secrets wherever they appear in a logged line.
_SECRET_PARAM = re.compile(
    r"(?i)((?:^|[?&;])(?:api[-_]?key|key|token|access[-_]?token|client[-_]?secret|secret|"
    r"password|authorization)=)[^&;\s\"]*")
_SECRET_VALUE = re.compile(r"\b(sk|ek|rk)([-_])[A-Za-z0-9_\-]{4,}")
REDACTED_LOGGERS = ("uvicorn.access", "uvicorn.error")


def redact(text: str) -> str:
    """``text`` with credential query values and key-shaped strings masked."""
    text = _SECRET_PARAM.sub(r"\1***", text)
    return _SECRET_VALUE.sub(r"\1\2***", text)


class SecretRedactor(logging.Filter):
    """Masks keys in uvicorn's log lines (the path with its query string is logged).

    Keys are refused in the query string, but a client may still send one; it must not
    reach a log file. The arguments are rewritten in place, not the formatted message:
    uvicorn's access formatter unpacks ``record.args``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def install_redactor() -> None:
    """Add :class:`SecretRedactor` to uvicorn's loggers, once (``dictConfig`` keeps it)."""
    for name in REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, SecretRedactor) for f in logger.filters):
            logger.addFilter(SecretRedactor())


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for request heads and a connection cap.

    uvicorn arms its keep-alive timer only after a response and cancels it on the next
    byte, so a socket that sends a partial request line or header one byte at a time
    (slowloris) stays open forever. Here a timer starts when the connection is made and
    again after each response; if no new request has arrived when it fires, the socket
    is closed. A request in progress belongs to the app (and its own deadlines); a
    WebSocket upgrade cancels the timer.
    """

    header_timeout_s: ClassVar[float] = 10.0
    max_connections: ClassVar[int | None] = None
    # Called with a reason ("header_timeout", "max_connections") for /healthz.
    on_refuse: ClassVar[Callable[[str], None] | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._armed_cycle: object = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        cap = self.max_connections
        if cap is not None and len(self.connections) > cap:
            # Closed before a byte is read: a flood of sockets costs a file descriptor each
            # for a moment, not a request parser (and never the sessions' CPU).
            self._refused("max_connections")
            transport.abort()
            return
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        # Armed before the parent handles a pipelined request, which replaces self.cycle.
        self._arm_head_timer()
        super().on_response_complete()

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        self._cancel_head_timer()
        super().handle_websocket_upgrade(event)

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._armed_cycle = self.cycle
        self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_timeout)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timeout(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self.transport.get_protocol() is not self:
            return
        if self.cycle is not self._armed_cycle:
            return  # a request arrived since: the app has it, or its response re-armed us
        self._refused("header_timeout")
        self.transport.close()

    def _refused(self, reason: str) -> None:
        callback = type(self).on_refuse
        if callback is not None:
            callback(reason)


def guarded_protocol(settings: Settings, on_refuse: Callable[[str], None] | None
                     ) -> type[GuardedH11Protocol]:
    """A :class:`GuardedH11Protocol` subclass carrying these settings (uvicorn builds the
    protocol per connection from a class)."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {
        "header_timeout_s": settings.header_timeout_s,
        "max_connections": settings.max_connections,
        "on_refuse": staticmethod(on_refuse) if on_refuse is not None else None,
    })


class DrainingServer(uvicorn.Server):
    """uvicorn's server, whose SIGTERM drains the sessions first.

    uvicorn's own SIGTERM handling closes every WebSocket at once (close 1012) and, once
    stopped, raises the signal again, so the process dies of it. Here the first SIGTERM
    starts :meth:`RealtimeServer.drain` (no new sessions, ``/readyz`` 503, the open ones
    go on up to ``drain_timeout_s``); when it is done uvicorn shuts down as usual (the
    model workers stop) and the process exits 0. A second SIGTERM, or SIGINT (Ctrl+C),
    stops at once, uvicorn's way.

    uvicorn installs its handlers with ``signal.signal`` and calls :meth:`handle_exit`
    between two bytecodes of the main thread: it only sets a flag, and :meth:`on_tick`
    (uvicorn's main loop, every 0.1 s) starts the drain on the event loop.
    """

    def __init__(self, config: uvicorn.Config, realtime: RealtimeServer | None) -> None:
        super().__init__(config)
        self.realtime = realtime
        self.drain_requested = False
        self._drain: asyncio.Task[None] | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if (sig == signal.SIGTERM and self.realtime is not None and not self.drain_requested
                and not self.should_exit):
            self.drain_requested = True
            return
        super().handle_exit(sig, frame)

    async def on_tick(self, counter: int) -> bool:
        if self.drain_requested and self._drain is None and self.realtime is not None:
            self._drain = asyncio.create_task(self.realtime.drain())
        if self._drain is not None and self._drain.done():
            if not self._drain.cancelled() and self._drain.exception() is not None:
                logging.getLogger(__name__).error("drain failed", exc_info=self._drain.exception())
            self.should_exit = True
        return await super().on_tick(counter)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self._drain is not None and not self._drain.done():  # stopped during a drain
            self._drain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._drain
        await super().shutdown(sockets)


def uvicorn_config(app: Starlette, host: str, port: int, log_level: str = "warning"
                   ) -> uvicorn.Config:
    """uvicorn's configuration for ``app``, with the limits of its :class:`Settings`."""
    server = getattr(app.state, "server", None)
    settings: Settings = server.settings if server is not None else Settings()
    guard = getattr(server, "guard", None)
    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level,
        http=guarded_protocol(settings, guard.count if guard is not None else None),
        # The real frame limit: websockets refuses a longer frame from its header
        # (close 1009) instead of buffering it.
        ws_max_size=settings.max_frame_bytes, ws_ping_interval=20.0,
        ws_ping_timeout=20.0, lifespan="on",
        # base64 audio barely compresses; inflating every append
        # frame was the second-largest cost of listening (py-spy).
        ws_per_message_deflate=False)
    install_redactor()  # after Config(), which runs dictConfig on uvicorn's loggers
    return config


@contextlib.asynccontextmanager
async def running_server(app: Starlette, host: str = "127.0.0.1", port: int = 0,
                         log_level: str = "warning") -> AsyncIterator[str]:
    """Serve ``app`` on loopback inside this event loop; yields ``http://host:port``."""
    server = uvicorn.Server(uvicorn_config(app, host, port, log_level))
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
