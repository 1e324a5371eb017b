"""Remote text-to-video generators: one job flow (create, poll with backoff, download,
cancel on timeout), a cost estimate before anything is started, a cache of finished clips.

Each adapter (:mod:`.sora`, :mod:`.runway`, :mod:`.kling`) only maps this flow to its
service's documented endpoints. Without its key an adapter is *skipped* with a message
and the scene falls back to a local visual: rendering never needs the network.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from .error import GenerationError

TRANSIENT_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class ProviderError(GenerationError):
    """A remote generator refused, failed or timed out."""


@dataclass(frozen=True, slots=True)
class JobRequest:
    prompt: str
    seconds: float  # wanted; the adapter rounds to a length the service offers
    aspect: str  # 9:16 | 16:9 | 1:1


@dataclass(frozen=True, slots=True)
class JobStatus:
    state: str  # queued | running | succeeded | failed | cancelled
    progress: float | None = None  # 0..1 when the service says
    video_url: str | None = None
    error: str | None = None


class HttpProvider:
    """Shared HTTP plumbing: auth headers, JSON errors mapped to :class:`ProviderError`,
    transient failures (429, 5xx, connection resets) retried with backoff."""

    name = "provider"
    key_env: tuple[str, ...] = ()
    default_base_url = ""
    base_url_env = ""
    price_usd_per_s = 0.0
    default_model = ""

    def __init__(self, *, base_url: str | None = None, env: dict[str, str] | None = None,
                 timeout_s: float = 60.0, retries: int = 4, model: str | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.model = model or self.default_model
        self.env = dict(os.environ if env is None else env)
        self.base_url = (base_url or self.env.get(self.base_url_env) or self.default_base_url).rstrip("/")
        self.timeout_s, self.retries, self.sleep = timeout_s, retries, sleep
        self._client: httpx.Client | None = None

    def unavailable(self) -> str | None:
        """Why this adapter cannot run (a missing key), or None."""
        missing = [k for k in self.key_env if not self.env.get(k)]
        return f"set {' and '.join(missing)} to use it" if missing else None

    def headers(self) -> dict[str, str]:
        return {}

    def estimate_usd(self, request: JobRequest) -> float:
        return round(self.seconds_for(request.seconds) * self.price_usd_per_s, 2)

    def seconds_for(self, wanted: float) -> int:
        return int(wanted + 0.999)

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(base_url=self.base_url, timeout=self.timeout_s)
        return self._client

    def call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One API call, retried on transient failures, errors mapped to ProviderError."""
        delay = 1.0
        for attempt in range(self.retries + 1):
            try:
                response = self.client.request(method, url, headers=self.headers(), **kwargs)
            except httpx.TransportError as exc:
                if attempt == self.retries:
                    raise ProviderError(f"{self.name}: cannot reach {self.base_url}: {exc}") from None
            else:
                if response.status_code not in TRANSIENT_STATUS or attempt == self.retries:
                    break
                delay = float(response.headers.get("retry-after", delay))
            self.sleep(delay)
            delay = min(delay * 2, 30.0)
        if response.status_code >= 400:
            raise ProviderError(f"{self.name}: HTTP {response.status_code} from {method} {url}: "
                                f"{_error_text(response)}")
        return response

    def fetch(self, url: str, dest: Path, *, auth: bool = False) -> None:
        """Stream a finished video to ``dest`` (signed URLs get no credentials)."""
        tmp = dest.with_suffix(".part")
        headers = self.headers() if auth else {}
        with self.client.stream("GET", url, headers=headers) as response:
            if response.status_code >= 400:
                raise ProviderError(f"{self.name}: download failed with HTTP {response.status_code}")
            with tmp.open("wb") as f:
                for chunk in response.iter_bytes():
                    f.write(chunk)
        tmp.replace(dest)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    # The job flow; adapters implement these four.
    def create(self, request: JobRequest) -> str:
        raise NotImplementedError

    def status(self, job_id: str) -> JobStatus:
        raise NotImplementedError

    def download(self, job_id: str, status: JobStatus, dest: Path) -> None:
        raise NotImplementedError

    def cancel(self, job_id: str) -> None:
        raise NotImplementedError


def _error_text(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:200]
    err = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(err, dict):
        return str(err.get("message") or err.get("failure") or err)[:300]
    return str(err)[:300]


@dataclass(slots=True)
class Backoff:
    """Poll delays: start small, grow by ``factor`` to ``max_s`` (services take minutes)."""

    initial_s: float = 2.0
    factor: float = 1.5
    max_s: float = 20.0


def run_job(provider: HttpProvider, request: JobRequest, dest: Path, *, timeout_s: float = 900.0,
            backoff: Backoff | None = None, clock: Callable[[], float] = time.monotonic,
            on_progress: Callable[[JobStatus], None] | None = None) -> Path:
    """Create a job, poll until it ends, download the video; cancel it on timeout or Ctrl-C."""
    backoff = backoff or Backoff()
    job_id = provider.create(request)
    deadline, delay = clock() + timeout_s, backoff.initial_s
    try:
        while True:
            status = provider.status(job_id)
            if on_progress:
                on_progress(status)
            if status.state == "succeeded":
                provider.download(job_id, status, dest)
                return dest
            if status.state in ("failed", "cancelled"):
                raise ProviderError(f"{provider.name}: job {job_id} {status.state}: {status.error or 'no reason given'}")
            if clock() + delay > deadline:
                raise TimeoutError
            provider.sleep(delay)
            delay = min(delay * backoff.factor, backoff.max_s)
    except (TimeoutError, KeyboardInterrupt) as exc:
        provider.cancel(job_id)
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise ProviderError(f"{provider.name}: job {job_id} not done after {timeout_s:.0f} s; cancelled") from None


def cache_name(provider: HttpProvider, request: JobRequest, model: str) -> str:
    key = f"{provider.name}|{model}|{request.prompt}|{provider.seconds_for(request.seconds)}|{request.aspect}"
    return f"{provider.name}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.mp4"
