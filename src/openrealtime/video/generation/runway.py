"""Runway API (docs.dev.runwayml.com), text to video.

* ``POST /v1/text_to_video`` ``{"model": "veo3.1_fast", "promptText": ..., "ratio":
  "720:1280"|"1280:720", "duration": 4|6|8}`` returns ``{"id": "<task uuid>"}``.
* ``GET /v1/tasks/{id}``: ``status`` is ``PENDING``, ``THROTTLED``, ``RUNNING``,
  ``SUCCEEDED`` (``output``: list of signed video URLs), ``FAILED`` (``failure``,
  ``failureCode``) or ``CANCELLED``; ``progress`` is 0..1 while running.
* ``DELETE /v1/tasks/{id}`` cancels a running task (or deletes a finished one).

Headers: ``Authorization: Bearer $RUNWAYML_API_SECRET`` and ``X-Runway-Version:
2024-11-06``. Price: Runway bills credits ($0.01 each); the per-second figure below is an
approximation for the default model; check the pricing page.
"""

from __future__ import annotations

from pathlib import Path

from .provider import HttpProvider, JobRequest, JobStatus, ProviderError

API_VERSION = "2024-11-06"
_STATES = {"PENDING": "queued", "THROTTLED": "queued", "RUNNING": "running",
           "SUCCEEDED": "succeeded", "FAILED": "failed", "CANCELLED": "cancelled"}
_RATIOS = {"9:16": "720:1280", "16:9": "1280:720", "1:1": "720:1280"}


class RunwayProvider(HttpProvider):
    name = "runway"
    key_env = ("RUNWAYML_API_SECRET",)
    default_base_url = "https://api.dev.runwayml.com/v1"
    base_url_env = "RUNWAYML_BASE_URL"
    price_usd_per_s = 0.15
    default_model = "veo3.1_fast"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.env.get('RUNWAYML_API_SECRET', '')}",
                "X-Runway-Version": API_VERSION}

    def seconds_for(self, wanted: float) -> int:
        return next((s for s in (4, 6, 8) if s >= wanted), 8)

    def create(self, request: JobRequest) -> str:
        body = {"model": self.model, "promptText": request.prompt[:1000],
                "ratio": _RATIOS[request.aspect], "duration": self.seconds_for(request.seconds)}
        data = self.call("POST", "/text_to_video", json=body).json()
        if "id" not in data:
            raise ProviderError(f"runway: no task id in the answer: {data}")
        return str(data["id"])

    def status(self, job_id: str) -> JobStatus:
        data = self.call("GET", f"/tasks/{job_id}").json()
        output = data.get("output") or []
        progress = data.get("progress")
        return JobStatus(state=_STATES.get(str(data.get("status")), "running"),
                         progress=float(progress) if isinstance(progress, int | float) else None,
                         video_url=output[0] if output else None, error=data.get("failure"))

    def download(self, job_id: str, status: JobStatus, dest: Path) -> None:
        if not status.video_url:
            raise ProviderError(f"runway: task {job_id} succeeded without an output URL")
        self.fetch(status.video_url, dest)

    def cancel(self, job_id: str) -> None:
        try:
            self.call("DELETE", f"/tasks/{job_id}")
        except ProviderError:
            pass
