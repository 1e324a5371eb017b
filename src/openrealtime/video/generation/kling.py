"""Kling AI API (app.klingai.com/global/dev/document-api), text to video.

* Auth: a JWT (HS256) signed with the secret key, claims ``{"iss": access_key, "exp":
  now + 1800, "nbf": now - 5}``, sent as ``Authorization: Bearer <jwt>``.
* ``POST /v1/videos/text2video`` ``{"model_name": "kling-v1-6", "prompt": ...,
  "mode": "std", "aspect_ratio": "9:16"|"16:9"|"1:1", "duration": "5"|"10"}`` returns
  ``{"code": 0, "message": "SUCCEED", "request_id": ..., "data": {"task_id": ...,
  "task_status": "submitted", "created_at": ..., "updated_at": ...}}``.
* ``GET /v1/videos/text2video/{task_id}``: ``data.task_status`` is ``submitted``,
  ``processing``, ``succeed`` or ``failed`` (``task_status_msg``); when done,
  ``data.task_result.videos`` is ``[{"id", "url", "duration"}]``.
* A non-zero ``code`` is an error whatever the HTTP status.
* There is no cancel endpoint: on timeout we stop polling (the task still completes and
  is billed; the cost estimate says so up front).

Price: Kling sells resource units; about $0.14 per 5 s in standard mode (approximate).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

from .provider import HttpProvider, JobRequest, JobStatus, ProviderError

_STATES = {"submitted": "queued", "processing": "running", "succeed": "succeeded", "failed": "failed"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_token(access_key: str, secret_key: str, now: float | None = None) -> str:
    """An HS256 JWT as Kling's docs describe (no extra dependency for one signature)."""
    now = time.time() if now is None else now
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = {"iss": access_key, "exp": int(now) + 1800, "nbf": int(now) - 5}
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(secret_key.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


class KlingProvider(HttpProvider):
    name = "kling"
    key_env = ("KLING_ACCESS_KEY", "KLING_SECRET_KEY")
    default_base_url = "https://api-singapore.klingai.com"
    base_url_env = "KLING_BASE_URL"
    price_usd_per_s = 0.028
    default_model = "kling-v1-6"

    def headers(self) -> dict[str, str]:
        token = jwt_token(self.env.get("KLING_ACCESS_KEY", ""), self.env.get("KLING_SECRET_KEY", ""))
        return {"Authorization": f"Bearer {token}"}

    def seconds_for(self, wanted: float) -> int:
        return 5 if wanted <= 5 else 10

    def _data(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        body = self.call(method, url, **kwargs).json()
        if body.get("code", 0) != 0:
            raise ProviderError(f"kling: error {body.get('code')}: {body.get('message')}")
        return dict(body.get("data") or {})

    def create(self, request: JobRequest) -> str:
        body = {"model_name": self.model, "prompt": request.prompt[:2500], "mode": "std",
                "aspect_ratio": request.aspect, "duration": str(self.seconds_for(request.seconds))}
        data = self._data("POST", "/v1/videos/text2video", json=body)
        if "task_id" not in data:
            raise ProviderError(f"kling: no task_id in the answer: {data}")
        return str(data["task_id"])

    def status(self, job_id: str) -> JobStatus:
        data = self._data("GET", f"/v1/videos/text2video/{job_id}")
        videos = (data.get("task_result") or {}).get("videos") or []
        return JobStatus(state=_STATES.get(str(data.get("task_status")), "running"),
                         video_url=videos[0].get("url") if videos else None,
                         error=data.get("task_status_msg"))

    def download(self, job_id: str, status: JobStatus, dest: Path) -> None:
        if not status.video_url:
            raise ProviderError(f"kling: task {job_id} succeeded without a video URL")
        self.fetch(status.video_url, dest)

    def cancel(self, job_id: str) -> None:
        """Kling has no cancel endpoint; stopping the polling is all we can do."""
