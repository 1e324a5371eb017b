"""The Starlette app: ``/v1/realtime`` WebSocket (plus Azure paths) and ``/healthz``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketState

from ..backends.base import Backends
from ..cost.recording import SessionRecorder
from ..protocol.dialect import is_beta
from ..protocol.ids import event_id
from ..protocol.session import RealtimeSession
from ..runtime.driver import Observer, SessionDriver
from .auth import auth_error, presented_key
from .settings import Settings

log = logging.getLogger(__name__)
BackendLoader = Callable[[Settings], Backends]


def default_loader(settings: Settings) -> Backends:
    if settings.backend == "fake":
        from ..backends.fake import fake_backends

        return fake_backends()
    from ..backends.stack import load_local_backends

    return load_local_backends(llm_url=settings.llm_url, llm_model=settings.llm_model,
                               llm_api_key=settings.llm_api_key, n_threads=settings.threads,
                               stt_short_window=settings.stt_short_window)


class RealtimeServer:
    """Holds what all sessions share: settings, the loaded models, live sessions."""

    def __init__(self, settings: Settings, backends: Backends | None = None,
                 loader: BackendLoader = default_loader,
                 observer: Observer | None = None) -> None:
        self.settings = settings
        self.backends = backends
        self.loader = loader
        self.observer = observer
        self.sessions: set[SessionDriver] = set()
        self.started = time.time()

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        # Models load (and warm up) before the first connection is accepted.
        if self.backends is None:
            self.backends = await asyncio.to_thread(self.loader, self.settings)
        yield

    async def healthz(self, request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "sessions": len(self.sessions),
                             "backends": self.backends.names if self.backends else {},
                             "uptime_s": round(time.time() - self.started, 1)})

    async def realtime(self, ws: WebSocket) -> None:
        headers = {k.lower(): v for k, v in ws.headers.items()}
        offered = [p.strip() for p in ws.scope.get("subprotocols", [])]
        # Echo exactly one offered value, "realtime": Chromium aborts otherwise.
        await ws.accept(subprotocol="realtime" if "realtime" in offered else None)
        query = dict(ws.query_params)
        problem = auth_error(presented_key(headers, offered, query), self.settings.keys)
        if problem is not None:
            code = problem["code"]
            await self._reject(ws, problem, 3000, "invalid_request_error"
                               + (f".{code}" if code else ""))
            return
        model = query.get("model") or query.get("deployment")
        if not model:
            await self._reject(ws, {"type": "invalid_request_error", "code": "missing_model",
                                    "message": "You must provide a model parameter.",
                                    "param": None, "event_id": None},
                               4000, "invalid_request_error.missing_model")
            return
        assert self.backends is not None
        config = RealtimeSession(model=model)
        driver = SessionDriver(self.backends, config,
                               beta=is_beta(headers, offered), observer=self.observer,
                               max_session_s=self.settings.max_session_s)
        recorder = self._recorder(model, config.id)
        send = ws.send_text if recorder is None else recorder.wrap(ws.send_text)
        self.sessions.add(driver)
        try:
            close = await driver.run(_receiver(ws), send)
        finally:
            self.sessions.discard(driver)
            if recorder is not None:
                await recorder.close()
        if close is not None and ws.client_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await ws.close(close[0], close[1])

    def _recorder(self, model: str, session_id: str) -> SessionRecorder | None:
        """A recorder for this session when ``record_dir`` is set (``serve --record``)."""
        if self.settings.record_dir is None:
            return None
        return SessionRecorder(self.settings.record_dir / f"{session_id}.jsonl", model=model,
                               session_id=session_id, keep_audio=self.settings.record_audio)

    async def _reject(self, ws: WebSocket, error: dict[str, Any], code: int,
                      reason: str) -> None:
        await ws.send_text(json.dumps({"type": "error", "event_id": event_id(), "error": error}))
        await ws.close(code, reason)


def _receiver(ws: WebSocket) -> Callable[[], Any]:
    async def receive() -> str | bytes | None:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return None
        text = message.get("text")
        return text if text is not None else message.get("bytes", b"")

    return receive


def create_app(settings: Settings | None = None, *, backends: Backends | None = None,
               observer: Observer | None = None) -> Starlette:
    server = RealtimeServer(settings or Settings(), backends, observer=observer)
    routes = [
        Route("/healthz", server.healthz),
        WebSocketRoute("/v1/realtime", server.realtime),
        WebSocketRoute("/openai/realtime", server.realtime),
        WebSocketRoute("/openai/v1/realtime", server.realtime),
    ]
    app = Starlette(routes=routes, lifespan=server.lifespan)
    app.state.server = server
    return app
