"""Prometheus metrics (``GET /metrics``), one registry per app.

Counted as it happens, from the session drivers' observer (:class:`SessionMeter`, one per
session): sessions, user turns, responses by status, errors sent to clients by type and
code, and the latency of each stage of a turn. Read at scrape time
(:class:`_ServerCollector`): open sessions, readiness and drain, refusals by reason
(the guard's counters), model workers (up, restarts, requests in flight) and queued
server events.

Every app has its own :class:`~prometheus_client.CollectorRegistry`, not the process-wide
default: tests that run several servers in one process do not collide, and one server's
figures are its own.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.process_collector import ProcessCollector

from ..protocol import server_events as ev
from ..runtime.driver import Observer

if TYPE_CHECKING:
    from .app import RealtimeServer

__all__ = ["CONTENT_TYPE_LATEST", "Metrics", "SessionMeter"]

# From a few ms (the end-of-turn model) to the LLM's worst first token.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.175, 0.25, 0.35, 0.5, 0.75, 1.0, 1.5,
                   2.0, 3.0, 5.0, 10.0, 30.0)
STAGES = {
    # speech_stopped -> the first audio delta of the answer (what the user waits for)
    "turn_first_audio": "input_audio_buffer.speech_stopped to the answer's first audio delta",
    "stt": "one transcription (Whisper, or the remote STT)",
    "end_of_turn": "one end-of-turn model decision (semantic_vad)",
    "llm_first_token": "context ready to the LLM's first token",
    "tts_first_audio": "first clause to the TTS's first audio",
    "response_first_audio": "response start to its first audio",
}


class Metrics:
    """The app's registry and the metrics fed by the sessions."""

    def __init__(self, server: RealtimeServer) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.sessions = Counter("openrealtime_sessions", "WebSocket sessions started",
                                ["dialect"], registry=r)
        self.turns = Counter("openrealtime_turns", "User turns committed (audio buffer "
                             "committed, by the VAD or the client)", registry=r)
        self.responses = Counter("openrealtime_responses", "Responses done, by status",
                                 ["status"], registry=r)
        self.errors = Counter("openrealtime_errors", "error events sent to clients (and "
                              "handshakes refused with one), by type and code",
                              ["type", "code"], registry=r)
        self.latency = Histogram("openrealtime_latency_seconds", "Latency of one stage of "
                                 "a turn: " + "; ".join(f"{k}: {v}" for k, v in STAGES.items()),
                                 ["stage"], buckets=LATENCY_BUCKETS, registry=r)
        for status in ("completed", "cancelled", "failed", "incomplete"):
            self.responses.labels(status)  # present (at 0) before the first response
        r.register(_ServerCollector(server))
        ProcessCollector(registry=r)  # process_cpu_seconds_total, resident memory, fds

    def session(self, dialect: str, inner: Observer) -> SessionMeter:
        """The observer of one new session: it feeds these metrics, then ``inner``."""
        self.sessions.labels(dialect).inc()
        return SessionMeter(self, inner)

    def error(self, error: dict[str, Any]) -> None:
        self.errors.labels(str(error.get("type") or "unknown"),
                           str(error.get("code") or "none")).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class SessionMeter:
    """One session's observer: counts what happens and times the stages of its turns."""

    def __init__(self, metrics: Metrics, inner: Observer) -> None:
        self.metrics = metrics
        self.inner = inner
        self.speech_stopped: float | None = None  # waiting for the answer's first audio

    def __call__(self, kind: str, info: dict[str, Any]) -> None:
        try:
            self._count(kind, info)
        finally:
            self.inner(kind, info)

    def _count(self, kind: str, info: dict[str, Any]) -> None:
        m = self.metrics
        event = info.get("event")
        if kind == "error_sent" and isinstance(event, ev.Error):
            m.error({"type": event.error.type, "code": event.error.code})
        elif isinstance(event, ev.ResponseOutputAudioDelta):
            if self.speech_stopped is not None:
                m.latency.labels("turn_first_audio").observe(
                    time.perf_counter() - self.speech_stopped)
                self.speech_stopped = None
        elif isinstance(event, ev.InputAudioBufferSpeechStopped):
            self.speech_stopped = time.perf_counter()
        elif isinstance(event, ev.InputAudioBufferCommitted):
            m.turns.inc()
        elif isinstance(event, ev.ResponseDone):
            m.responses.labels(event.response.status).inc()
        elif kind == "stt":
            m.latency.labels("stt").observe(float(info["seconds"]))
        elif kind == "turn":
            m.latency.labels("end_of_turn").observe(float(info["seconds"]))
        elif kind == "timing":
            t = info["timing"]
            for stage, start, end in (("llm_first_token", t.context_ready, t.first_token),
                                      ("tts_first_audio", t.first_clause, t.first_audio),
                                      ("response_first_audio", t.started, t.first_audio)):
                if start is not None and end is not None:
                    m.latency.labels(stage).observe(max(0.0, end - start))


class _ServerCollector:
    """What is read from the server at scrape time."""

    def __init__(self, server: RealtimeServer) -> None:
        self.server = server

    def describe(self) -> list[Metric]:
        return []  # (no clash check: these names are this module's alone)

    def collect(self) -> Iterator[Metric]:
        s = self.server
        yield GaugeMetricFamily("openrealtime_sessions_open", "WebSocket sessions open",
                                value=len(s.sessions))
        yield GaugeMetricFamily("openrealtime_max_sessions", "The session cap (max_sessions)",
                                value=s.settings.max_sessions)
        yield GaugeMetricFamily("openrealtime_ready", "1 when /readyz says ready",
                                value=1.0 if s.readiness() == "ready" else 0.0)
        yield GaugeMetricFamily("openrealtime_draining", "1 while a SIGTERM drain runs",
                                value=1.0 if s.draining else 0.0)
        refused = CounterMetricFamily("openrealtime_refused", "Requests refused by a limit "
                                      "(the /healthz limits.refused counters)",
                                      labels=["reason"])
        for reason, count in sorted(s.guard.refused.items()):
            refused.add_metric([reason], count)
        yield refused
        queued = sum(len(d.outbox) for d in list(s.sessions))
        yield GaugeMetricFamily("openrealtime_outbox_events", "Server events queued for the "
                                "clients' sockets, all sessions", value=queued)
        up = GaugeMetricFamily("openrealtime_model_up", "1 when the role's model can serve "
                               "(its worker is ready, or it runs in-process)", labels=["role"])
        restarts = CounterMetricFamily("openrealtime_model_worker_restarts", "Model worker "
                                       "restarts (crash, stall, memory)", labels=["role"])
        in_flight = GaugeMetricFamily("openrealtime_model_requests_in_flight", "Requests a "
                                      "model worker is serving or has queued", labels=["role"])
        workers = s.backends.health() if s.backends is not None else {}
        for role, w in sorted(workers.items()):
            up.add_metric([role], 1.0 if w.get("state") in ("ready", "in-process") else 0.0)
            if "restarts" in w:
                restarts.add_metric([role], float(w["restarts"]))
            if "in_flight" in w:
                in_flight.add_metric([role], float(w["in_flight"]))
        yield up
        yield restarts
        yield in_flight
