"""The Starlette app: ``/v1/realtime`` WebSocket (plus Azure paths), ephemeral client
secrets, the browser console at ``/``, ``/healthz``, ``/readyz``, ``/metrics`` and the
SIGTERM drain (:meth:`RealtimeServer.drain`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketState

from ..backends.base import Backends
from ..cost.recording import SessionRecorder
from ..protocol.dialect import BetaCodec, is_beta
from ..protocol.errors import ProtocolError
from ..protocol.ids import event_id
from ..protocol.live import LiveCodec
from ..protocol.session import RealtimeSession
from ..runtime.driver import Observer, SessionDriver
from . import secrets as sec
from .audio_api import AudioAPI
from .auth import auth_error, presented_key, query_key_error, rest_key, secret_error
from .guard import BodyTooLarge, Guard, Refusal, read_body
from .metrics import CONTENT_TYPE_LATEST, Metrics
from .settings import Settings
from .stats import TurnStats
from .twilio import serve_twilio
from .videos_api import VideosAPI
from .webrtc import WebRTCCalls

log = logging.getLogger(__name__)
BackendLoader = Callable[[Settings], Backends]
CONSOLE_DIR = Path(__file__).resolve().parent.parent / "console"


def default_loader(settings: Settings) -> Backends:
    if settings.backend == "fake":
        from ..backends.fake import fake_backends

        return fake_backends()
    from ..backends.stack import WorkerOptions, load_local_backends


    workers = WorkerOptions(stall_s=settings.worker_stall_s,
                            max_rss_mb=settings.worker_max_rss_mb,
                            ready_wait_s=settings.worker_ready_wait_s)
    timeouts = {"connect_timeout_s": settings.llm_connect_timeout_s,
                "first_token_timeout_s": settings.llm_first_token_timeout_s,
                "idle_timeout_s": settings.llm_idle_timeout_s,
                "total_timeout_s": settings.llm_total_timeout_s}
    return load_local_backends(llm_url=settings.llm_url, llm_model=settings.llm_model,
                               llm_api_key=settings.llm_api_key, n_threads=settings.threads,
                               stt_short_window=settings.stt_short_window,
                               vlm_url=settings.vlm_url, vlm_model=settings.vlm_model,
                               vlm_api_key=settings.vlm_api_key,
                               isolate=settings.isolate_models, workers=workers,
                               llm_timeouts=timeouts, end_of_turn=settings.end_of_turn_model,
                               echo_cancellation=settings.echo_cancellation,
                               speech=settings.speech_models())


class RealtimeServer:
    """Holds what all sessions share: settings, the loaded models, live sessions."""

    def __init__(self, settings: Settings, backends: Backends | None = None,
                 loader: BackendLoader = default_loader,
                 observer: Observer | None = None) -> None:
        self.settings = settings
        self.backends = backends
        self.loader = loader
        self.turns = TurnStats()
        self.observer = observer
        self.sessions: set[SessionDriver] = set()
        self.secrets = _secret_store(settings)
        self.guard = Guard(settings)
        self.webrtc = WebRTCCalls(self)
        self.started = time.time()
        self.loaded = False  # the models are loaded: sessions can be served
        self.draining = False  # SIGTERM: no new sessions, the open ones go on a while
        self.metrics = Metrics(self)

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        # Models load (and warm up) before the first connection is accepted.
        owned = self.backends is None
        await self.secrets.ping()  # a Redis that does not answer stops the start at once
        if self.backends is None:
            self.backends = await asyncio.to_thread(self.loader, self.settings)
        self.loaded = True
        try:
            yield
        finally:
            self.loaded = False
            await self.webrtc.aclose()
            if owned:  # stop the model workers we started (given backends are the caller's)
                await self.backends.aclose()
            await self.secrets.aclose()

    async def healthz(self, request: Request) -> JSONResponse:
        workers = self.backends.health() if self.backends else {}
        # "degraded" while a model worker restarts; the server itself still serves.
        status = "ok" if all(w["state"] in ("ready", "in-process")
                             for w in workers.values()) else "degraded"
        return JSONResponse({"status": status, "sessions": len(self.sessions),
                             "backends": self.backends.names if self.backends else {},
                             "workers": workers,
                             "limits": self.guard.counters(),
                             "turns": self.turns.report(),
                             "uptime_s": round(time.time() - self.started, 1)})

    def readiness(self) -> str:
        """``ready`` (sessions are accepted), ``starting`` or ``draining``."""
        if self.draining:
            return "draining"
        return "ready" if self.loaded and self.backends is not None else "starting"

    async def readyz(self, request: Request) -> JSONResponse:
        """For load balancers: 200 while this replica takes sessions, else 503."""
        state = self.readiness()
        return JSONResponse({"status": state, "sessions": len(self.sessions),
                             "max_sessions": self.settings.max_sessions},
                            status_code=200 if state == "ready" else 503)

    async def metrics_page(self, request: Request) -> Response:
        """Prometheus text exposition; open unless ``metrics_require_key``."""
        if self.settings.metrics_require_key:
            headers = {k.lower(): v for k, v in request.headers.items()}
            problem = auth_error(rest_key(headers), self.settings.keys)
            if problem is not None:
                return _rest_error(problem, 401)
        return Response(self.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    async def drain(self, timeout_s: float | None = None) -> None:
        """Stop taking sessions (HTTP 503, ``/readyz`` 503) and let the open ones go on for
        up to ``timeout_s`` (``drain_timeout_s``); then end those left with an ``error``
        (``server_shutting_down``) and close 1001. Returns once no session is open."""
        timeout_s = self.settings.drain_timeout_s if timeout_s is None else timeout_s
        self.draining = True
        log.warning("draining: no new sessions; %d open may go on for up to %g s",
                    self.guard.open, timeout_s)
        deadline = time.monotonic() + timeout_s
        while self.guard.open and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        if self.guard.open:
            log.warning("drain deadline: ending %d open sessions", len(self.sessions))
            for driver in list(self.sessions):
                driver.shut_down("The server is shutting down and this session has ended; "
                                 "connect again to continue.")
            ended = time.monotonic() + 5.0  # each says all it has queued first (<= 2 s)
            while self.guard.open and time.monotonic() < ended:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        log.warning("drained: %d sessions open", self.guard.open)

    def _observe(self, kind: str, info: dict[str, Any]) -> None:
        self.turns(kind, info)
        if self.observer is not None:
            self.observer(kind, info)

    async def live(self, ws: WebSocket) -> None:
        """GPT-Live (``/v1/live/sessions``): the same sessions in Live's dialect."""
        await self.realtime(ws, live=True)

    async def twilio(self, ws: WebSocket) -> None:
        """Twilio Media Streams (``/twilio/media-stream``): a phone call as a session
        (server/twilio.py: its authentication; protocol/twilio.py: its dialect)."""
        await self.realtime(ws, twilio=True)

    async def realtime(self, ws: WebSocket, live: bool = False, twilio: bool = False) -> None:
        headers = {k.lower(): v for k, v in ws.headers.items()}
        # Refused before the upgrade, with a plain HTTP answer: no session is built for a
        # foreign page or a connection over a cap.
        client = ws.client.host if ws.client is not None else "unknown"
        refusal = (self.guard.check_origin(headers.get("origin"), headers.get("host"))
                   or self._draining_refusal() or self.guard.admit(client))
        if refusal is not None:
            await _deny(ws, refusal)
            return
        try:
            if twilio:
                await serve_twilio(self, ws, headers, _receiver(ws, self.guard))
            else:
                await self._serve_session(ws, headers, live)
        finally:
            self.guard.release(client)

    async def _serve_session(self, ws: WebSocket, headers: dict[str, str],
                             live: bool = False) -> None:
        offered = [p.strip() for p in ws.scope.get("subprotocols", [])]
        # Echo exactly one offered value, "realtime": Chromium aborts otherwise.
        await ws.accept(subprotocol="realtime" if "realtime" in offered else None)
        query = dict(ws.query_params)
        if "api-key" in query:
            # Refused even when it is right: query strings end up in access logs (of
            # proxies too; our own log lines mask it).
            await self._reject(ws, query_key_error(), 3000, "invalid_request_error")
            return
        problem, secret = await self._check_key(presented_key(headers, offered))
        if problem is not None:
            code = problem["code"]
            # (1011: the secret store failed, the key may be fine)
            await self._reject(ws, problem, 1011 if problem["type"] == "server_error" else 3000,
                               f"{problem['type']}" + (f".{code}" if code else ""))
            return
        if query.get("call_id") and not live:  # a backend's sideband on a WebRTC call
            await self.webrtc.attach(ws, query["call_id"])
            return
        model = query.get("model") or query.get("deployment")
        if query.get("intent") == "transcription" or live:
            model = model or "gpt-realtime"  # (none needed: Live names it in session.start)
        if secret is None and not model:
            await self._reject(ws, {"type": "invalid_request_error", "code": "missing_model",
                                    "message": "You must provide a model parameter.",
                                    "param": None, "event_id": None},
                               4000, "invalid_request_error.missing_model")
            return
        # A secret's session wins over ?model= (OpenAI binds the model to the secret).
        config = (sec.session_for_connection(secret) if secret is not None
                  else RealtimeSession(model=model))
        beta = not live and is_beta(headers, offered, ws.url.path, query)
        transcription = not live and (secret.transcription if secret is not None
                                      else query.get("intent") == "transcription")
        driver = self.new_driver(config, beta=beta, transcription=transcription,
                                 kind="live" if live else "beta" if beta else "ga",
                                 codec=LiveCodec() if live else None)
        recorder = self._recorder(config.model, config.id)
        send = ws.send_text if recorder is None else recorder.wrap(ws.send_text)
        self.sessions.add(driver)
        try:
            close = await driver.run(_receiver(ws, self.guard), send)
        finally:
            self.sessions.discard(driver)
            if recorder is not None:
                await recorder.close()
        if close is not None and ws.client_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await ws.close(close[0], close[1])

    def new_driver(self, config: RealtimeSession, *, beta: bool, transcription: bool,
                   kind: str, codec: Any = None) -> SessionDriver:
        """A session with this server's models and settings; ``kind`` labels its metrics
        (ga, beta, live, webrtc...); ``codec``: another dialect's (default GA/beta)."""
        assert self.backends is not None
        return SessionDriver(self.backends, config,
                             beta=beta,
                             observer=self.metrics.session(kind, self._observe),
                             max_session_s=self.settings.max_session_s,
                             idle_timeout_s=self.settings.session_idle_timeout_s or None,
                             max_events_per_s=self.settings.max_events_per_s,
                             limits=self.settings.session_limits(),
                             echo_cancellation=self.settings.echo_cancellation,
                             backchannel_ms=self.settings.backchannel_ms,
                             codec=codec if codec is not None
                             else BetaCodec(transcription) if beta else None,
                             transcription=transcription)

    async def _check_key(self, key: str | None
                         ) -> tuple[dict[str, object] | None, sec.ClientSecret | None]:
        """(error payload or None, the valid ephemeral secret the key is, if it is one)."""
        if key is None or not key.startswith(sec.SECRET_PREFIX) or key in self.settings.keys:
            return auth_error(key, self.settings.keys), None
        # An ephemeral secret: refused when expired or unknown, even on a server without
        # API keys; when valid it carries the session's configuration.
        try:
            status, secret = await self.secrets.lookup(key)
        except sec.SecretStoreError:
            return _store_error(), None
        if status != "valid":
            return secret_error(key, status), None
        return None, secret

    # ------------------------------------------------------- ephemeral secrets

    async def client_secrets(self, request: Request) -> Response:
        """GA ``POST /v1/realtime/client_secrets``: a short-lived ``ek_`` secret."""
        return await self._issue(request, sec.parse_client_secret_request,
                                 sec.client_secret_response)

    async def beta_sessions(self, request: Request) -> Response:
        """Beta ``POST /v1/realtime/sessions``: the session with its ``client_secret``."""
        return await self._issue(request, sec.parse_beta_session_request,
                                 sec.beta_session_response)

    async def rest_body(self, request: Request, limit: int) -> bytes | Response:
        """A REST call's body, or the error response: a foreign page (403), no valid API
        key (401), more than ``limit`` bytes (413), too slow (408)."""
        headers = {k.lower(): v for k, v in request.headers.items()}
        refusal = self.guard.check_origin(headers.get("origin"), headers.get("host"))
        if refusal is not None:
            return _rest_error(refusal.error(), refusal.status)
        problem = auth_error(rest_key(headers), self.settings.keys)
        if problem is not None:
            return _rest_error(problem, 401)
        try:
            return await read_body(request, limit, self.settings.body_timeout_s)
        except BodyTooLarge:
            self.guard.count("body_too_large")
            return _rest_error({"type": "invalid_request_error", "code": "request_too_large",
                                "message": f"The request body is too large; the maximum is "
                                f"{limit} bytes."}, 413)
        except TimeoutError:
            self.guard.count("body_timeout")
            return _rest_error({"type": "invalid_request_error", "code": "request_timeout",
                                "message": "The request body was not received in time."}, 408)

    async def _issue(self, request: Request,
                     parse: Callable[[Any], tuple[RealtimeSession, int, bool]],
                     render: Callable[[sec.ClientSecret], dict[str, Any]]) -> Response:
        raw = await self.rest_body(request, self.settings.max_body_bytes)
        if isinstance(raw, Response):
            return raw
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return _rest_error(ProtocolError(
                "We could not parse the JSON body of your request.",
                code="invalid_json").to_error(None), 400)
        try:
            session, ttl_s, transcription = parse(body)
        except ProtocolError as exc:
            return _rest_error(exc.to_error(None), 400)
        try:
            secret = await self.secrets.issue(session, ttl_s, transcription)
        except sec.SecretStoreError:
            return _rest_error(_store_error(), 503)
        return JSONResponse(render(secret))

    # ---------------------------------------------------------------- console

    async def console(self, request: Request) -> Response:
        return FileResponse(CONSOLE_DIR / "index.html",
                            headers={"Cache-Control": "no-cache"})

    def _recorder(self, model: str, session_id: str) -> SessionRecorder | None:
        """A recorder for this session when ``record_dir`` is set (``serve --record``)."""
        if self.settings.record_dir is None:
            return None
        return SessionRecorder(self.settings.record_dir / f"{session_id}.jsonl", model=model,
                               session_id=session_id, keep_audio=self.settings.record_audio,
                               max_bytes=self.settings.max_recording_bytes)

    def _draining_refusal(self) -> Refusal | None:
        if not self.draining:
            return None
        return self.guard.refuse(Refusal(
            "draining", 503, "server_shutting_down",
            "The server is shutting down and takes no new sessions; connect again.",
            type="server_error"))

    async def _reject(self, ws: WebSocket, error: dict[str, Any], code: int,
                      reason: str) -> None:
        self.metrics.error(error)
        await ws.send_text(json.dumps({"type": "error", "event_id": event_id(), "error": error}))
        await ws.close(code, reason)


def _secret_store(settings: Settings) -> sec.SecretStore:
    """Redis when ``redis_url`` is set (shared by replicas), else this process's memory."""
    if settings.redis_url:
        from .redis_secrets import RedisSecretStore

        return RedisSecretStore(settings.redis_url, prefix=settings.redis_key_prefix)
    return sec.MemorySecretStore()


def _store_error() -> dict[str, Any]:
    return {"type": "server_error", "code": "secret_store_unavailable",
            "message": "The client secret store is unavailable; try again later.",
            "param": None, "event_id": None}


def _rest_error(error: dict[str, Any], status: int) -> JSONResponse:
    """REST errors have OpenAI's HTTP shape: ``{"error": {message, type, param, code}}``."""
    return JSONResponse({"error": {k: error.get(k) for k in ("message", "type", "param",
                                                             "code")}}, status_code=status)


async def _deny(ws: WebSocket, refusal: Refusal) -> None:
    """Answer a handshake with an HTTP error instead of the upgrade.

    uvicorn supports the ASGI WebSocket denial response extension; under a server that
    does not, the session is accepted only to send the ``error`` and close (1013 "try
    again later" for a cap, 1008 "policy violation" for an origin).
    """
    if "websocket.http.response" in ws.scope.get("extensions", {}):
        await ws.send_denial_response(_rest_error(refusal.error(), refusal.status))
        return
    await ws.accept()
    await ws.send_text(json.dumps({"type": "error", "event_id": event_id(),
                                   "error": refusal.error()}))
    await ws.close(1008 if refusal.status == 403 else 1013, refusal.code)


def _receiver(ws: WebSocket, guard: Guard) -> Callable[[], Any]:
    async def receive() -> str | bytes | None:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            if message.get("code") == 1009:  # websockets refused a frame over max_frame_bytes
                guard.count("frame_too_large")
            return None
        text = message.get("text")
        return text if text is not None else message.get("bytes", b"")

    return receive


def create_app(settings: Settings | None = None, *, backends: Backends | None = None,
               observer: Observer | None = None) -> Starlette:
    server = RealtimeServer(settings or Settings(), backends, observer=observer)
    audio = AudioAPI(server)
    videos = VideosAPI(server)
    calls = server.webrtc
    routes = [
        Route("/", server.console),
        Mount("/console", StaticFiles(directory=CONSOLE_DIR), name="console"),
        Route("/healthz", server.healthz),
        Route("/readyz", server.readyz),
        Route("/metrics", server.metrics_page),
        Route("/v1/realtime/client_secrets", server.client_secrets, methods=["POST"]),
        Route("/v1/realtime/sessions", server.beta_sessions, methods=["POST"]),
        Route("/v1/audio/transcriptions", audio.transcriptions, methods=["POST"]),
        Route("/v1/audio/speech", audio.speech, methods=["POST"]),
        Route("/v1/realtime/calls", calls.create, methods=["POST"]),
        Route("/v1/realtime/calls/{call_id}/hangup", calls.hangup, methods=["POST"]),
        Route("/v1/realtime", calls.beta_offer, methods=["POST"]),
        WebSocketRoute("/v1/realtime", server.realtime),
        WebSocketRoute("/openai/realtime", server.realtime),
        WebSocketRoute("/openai/v1/realtime", server.realtime),
        WebSocketRoute("/v1/live/sessions", server.live),
        WebSocketRoute("/twilio/media-stream", server.twilio),
        *videos.routes(),
    ]
    app = Starlette(routes=routes, lifespan=videos.lifespan(server.lifespan))
    app.state.server = server
    app.state.videos = videos
    return app
