"""Client for any server of OpenAI's Videos API: another OpenRealtime (its ``/v1/videos``,
rendered locally there), or OpenAI's own Sora API while it lasts: OpenAI shuts the Sora
API down on 2026-09-24 (the openai SDK already marks ``client.videos`` deprecated).

* ``POST /v1/videos`` ``{"model": "sora-2", "prompt": ..., "seconds": "4"|"8"|"12",
  "size": "720x1280"|"1280x720"}`` returns a video object
  ``{"id": "video_...", "object": "video", "status": "queued", "progress": 0, ...}``.
* ``GET /v1/videos/{id}``: ``status`` is ``queued``, ``in_progress``, ``completed`` or
  ``failed`` (with ``error: {"code", "message"}``); ``progress`` is a percentage.
* ``GET /v1/videos/{id}/content`` streams the MP4.
* ``DELETE /v1/videos/{id}`` removes the job, which is what we do on timeout (OpenAI has
  no cancel endpoint; an OpenRealtime server stops the render).

Settings (environment): ``OPENREALTIME_VIDEOS_URL``, the server's ``/v1`` base URL (else
``OPENAI_BASE_URL``, else ``https://api.openai.com/v1``), and ``OPENREALTIME_VIDEOS_API_KEY``
(else ``OPENAI_API_KEY``), sent as ``Authorization: Bearer``; a server of your own needs a
key only if it has API keys. Price: OpenAI's list price per second of output (sora-2
$0.10, sora-2-pro $0.30), none for a server named by ``OPENREALTIME_VIDEOS_URL``.
"""

from __future__ import annotations

from pathlib import Path

from .provider import HttpProvider, JobRequest, JobStatus, ProviderError

_STATES = {"queued": "queued", "in_progress": "running", "completed": "succeeded", "failed": "failed"}
_PRICES = {"sora-2": 0.10, "sora-2-pro": 0.30}
_SIZES = {"9:16": "720x1280", "16:9": "1280x720", "1:1": "720x1280"}  # no square: cover-crop
URL_ENV, KEY_ENV = "OPENREALTIME_VIDEOS_URL", "OPENREALTIME_VIDEOS_API_KEY"


class SoraProvider(HttpProvider):
    name = "sora"
    key_env = ("OPENAI_API_KEY",)
    default_base_url = "https://api.openai.com/v1"
    base_url_env = "OPENAI_BASE_URL"

    default_model = "sora-2"

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        own = self.env.get(URL_ENV)
        if own and not kwargs.get("base_url"):
            self.base_url = own.rstrip("/")
        self.key = self.env.get(KEY_ENV) or self.env.get("OPENAI_API_KEY") or ""
        self.price_usd_per_s = 0.0 if own else _PRICES.get(self.model, 0.30)

    def unavailable(self) -> str | None:
        if self.key or self.env.get(URL_ENV):
            return None
        return f"set {URL_ENV} (a Videos API server such as OpenRealtime) or OPENAI_API_KEY to use it"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"} if self.key else {}

    def seconds_for(self, wanted: float) -> int:
        return next((s for s in (4, 8, 12) if s >= wanted), 12)

    def create(self, request: JobRequest) -> str:
        body = {"model": self.model, "prompt": request.prompt,
                "seconds": str(self.seconds_for(request.seconds)), "size": _SIZES[request.aspect]}
        data = self.call("POST", "/videos", json=body).json()
        if "id" not in data:
            raise ProviderError(f"sora: no job id in the answer: {data}")
        return str(data["id"])

    def status(self, job_id: str) -> JobStatus:
        data = self.call("GET", f"/videos/{job_id}").json()
        error = data.get("error") or {}
        progress = data.get("progress")
        return JobStatus(state=_STATES.get(str(data.get("status")), "running"),
                         progress=progress / 100 if isinstance(progress, int | float) else None,
                         error=error.get("message") if isinstance(error, dict) else str(error))

    def download(self, job_id: str, status: JobStatus, dest: Path) -> None:
        self.fetch(f"/videos/{job_id}/content", dest, auth=True)

    def cancel(self, job_id: str) -> None:
        try:
            self.call("DELETE", f"/videos/{job_id}")
        except ProviderError:
            pass  # best effort: the job may already be gone
