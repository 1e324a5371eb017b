"""OpenAI's Videos API (the Sora API; OpenAI shuts its own down on 2026-09-24), served by
the local generator, so that the openai SDK's ``client.videos`` works against this server:

* ``POST /v1/videos`` (multipart as the SDK sends it, or JSON): ``prompt``, ``model``
  (every name is an alias of the local generator: ``sora-2``, ``sora-2-pro``...; echoed),
  ``seconds`` (``4``, ``8``, ``12``) and ``size`` (``720x1280``, ``1280x720``,
  ``1024x1792``, ``1792x1024``), honoured exactly; ``input_reference``: an image (or clip)
  upload, or ``{"image_url": "data:..."}`` (form fields ``input_reference[image_url]``),
  shown as the first scene. The prompt is narrated as a script when it looks like one
  (a Markdown heading, several paragraphs...), else the LLM writes a script about it.
* ``GET /v1/videos/{id}`` (``progress`` 0-100 follows the render), ``GET /v1/videos``
  (``after``, ``limit``, ``order``; the SDK's cursor page), ``DELETE /v1/videos/{id}``
  (a running job is killed), ``GET /v1/videos/{id}/content?variant=video|thumbnail|
  spritesheet`` (MP4, WebP, JPEG), ``POST /v1/videos/{id}/remix`` (the source's plan
  options, size and length, with the new prompt's words; ``remixed_from_video_id``).

Jobs run in worker processes (``server/video_jobs.py``); authentication, origin checks
and body limits are the server's REST guards (:meth:`RealtimeServer.rest_body`).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from .audio_api import RequestError, _form, _json_object, _required_text
from .video_jobs import JobLimits, QueueFull, VideoJob, VideoJobs, new_video_id

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from .app import RealtimeServer
    from .settings import Settings

SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024")
SECONDS = ("4", "8", "12")
DEFAULT_MODEL, DEFAULT_SIZE, DEFAULT_SECONDS = "sora-2", "720x1280", "4"
MAX_PROMPT_CHARS = 10_000
LIST_LIMIT, MAX_LIST_LIMIT = 20, 100
VARIANTS = {"video": ("video.mp4", "video/mp4"), "thumbnail": ("thumbnail.webp", "image/webp"),
            "spritesheet": ("spritesheet.jpg", "image/jpeg")}
# Magic bytes of the references a scene can show: (prefix, offset, file suffix).
_KINDS = ((b"\x89PNG\r\n\x1a\n", 0, ".png"), (b"\xff\xd8\xff", 0, ".jpg"),
          (b"WEBP", 8, ".webp"), (b"GIF8", 0, ".gif"), (b"ftyp", 4, ".mp4"),
          (b"\x1a\x45\xdf\xa3", 0, ".webm"))
Lifespan = Callable[["Starlette"], contextlib.AbstractAsyncContextManager[None]]
log = logging.getLogger(__name__)


def worker_settings(settings: Settings) -> dict[str, Any]:
    """What a video worker needs of the server's settings (its own models)."""
    return {"backend": settings.backend, "llm_url": settings.llm_url,
            "llm_model": settings.llm_model, "llm_api_key": settings.llm_api_key,
            "tts_model": None if settings.tts_url else settings.tts_model,
            "threads": settings.threads, "nice": settings.video_nice}


class VideosAPI:
    """The endpoints, over a :class:`RealtimeServer`'s REST guards and a job folder."""

    def __init__(self, server: RealtimeServer) -> None:
        self.server = server
        s = server.settings
        limits = JobLimits(running=s.video_jobs, pending=s.max_queued_videos,
                           timeout_s=s.video_timeout_s, retention_s=s.video_retention_s)
        self.jobs = VideoJobs(s.videos_dir, limits, worker_settings(s))

    def routes(self) -> list[Route]:
        return [
            Route("/v1/videos", self.create, methods=["POST"]),
            Route("/v1/videos", self.list_videos, methods=["GET"]),
            Route("/v1/videos/{video_id}", self.retrieve, methods=["GET"]),
            Route("/v1/videos/{video_id}", self.delete, methods=["DELETE"]),
            Route("/v1/videos/{video_id}", self.unsupported, methods=["POST"]),
            Route("/v1/videos/{video_id}/content", self.content, methods=["GET"]),
            Route("/v1/videos/{video_id}/remix", self.remix, methods=["POST"]),
        ]

    def lifespan(self, inner: Lifespan) -> Lifespan:
        """``inner`` (the server's lifespan) with the job queue started inside it."""
        @contextlib.asynccontextmanager
        async def run(app: Starlette) -> AsyncIterator[None]:
            async with inner(app):
                await self.jobs.start()
                try:
                    yield
                finally:
                    await self.jobs.aclose()

        return run

    # ------------------------------------------------------------------ endpoints

    async def create(self, request: Request) -> Response:
        body = await self.server.rest_body(request, self.server.settings.max_video_input_bytes)
        if isinstance(body, Response):
            return body
        try:
            params = await _params(request, body)
            prompt = _prompt(params)
            model = params.get("model") or DEFAULT_MODEL
            if not isinstance(model, str):
                raise RequestError("Invalid type for 'model': expected a string.", "model",
                                   "invalid_type")
            seconds = _choice(params, "seconds", SECONDS, DEFAULT_SECONDS)
            size = _choice(params, "size", SIZES, DEFAULT_SIZE)
            files = _reference(params.get("input_reference"))
            job = await self._submit(model, prompt, seconds, size, files)
        except RequestError as exc:
            return exc.response()
        return JSONResponse(job.video)

    async def remix(self, request: Request) -> Response:
        body = await self.server.rest_body(request, self.server.settings.max_body_bytes)
        if isinstance(body, Response):
            return body
        try:
            params = await _params(request, body)
            prompt = _prompt(params)
            source = self._job(request)
            if source.status != "completed":
                raise RequestError(f"Video '{source.id}' is {source.status}; only a completed "
                                   "video can be remixed.", None, "invalid_video_state")
            files: dict[str, bytes | Path] = {"source.plan.json": source.path / "video.plan.json"}
            if source.spec.get("reference"):
                files[source.spec["reference"]] = source.path / source.spec["reference"]
            job = await self._submit(source.video["model"], prompt, source.video["seconds"],
                                     source.video["size"], files, source)
        except RequestError as exc:
            return exc.response()
        return JSONResponse(job.video)

    async def retrieve(self, request: Request) -> Response:
        problem = await self._guard(request)
        if problem is not None:
            return problem
        try:
            return JSONResponse(self._job(request).video)
        except RequestError as exc:
            return exc.response()

    async def list_videos(self, request: Request) -> Response:
        problem = await self._guard(request)
        if problem is not None:
            return problem
        query = request.query_params
        try:
            limit = _limit(query.get("limit"))
            order = query.get("order") or "desc"
            if order not in ("asc", "desc"):
                raise RequestError(f"Invalid value: '{order}'. Supported values are: 'asc' "
                                   "and 'desc'.", "order")
        except RequestError as exc:
            return exc.response()
        await self.jobs.purge()
        page, more = self.jobs.listing(after=query.get("after") or None, limit=limit,
                                       ascending=order == "asc")
        return JSONResponse({"object": "list", "data": [job.video for job in page],
                             "first_id": page[0].id if page else None,
                             "last_id": page[-1].id if page else None, "has_more": more})

    async def delete(self, request: Request) -> Response:
        problem = await self._guard(request)
        if problem is not None:
            return problem
        video_id = request.path_params["video_id"]
        if self.jobs.get(video_id) is None or not await self.jobs.delete(video_id):
            return _not_found(video_id).response()
        return JSONResponse({"id": video_id, "object": "video.deleted", "deleted": True})

    async def content(self, request: Request) -> Response:
        problem = await self._guard(request)
        if problem is not None:
            return problem
        variant = request.query_params.get("variant") or "video"
        try:
            if variant not in VARIANTS:
                raise RequestError(f"Invalid value: '{variant}'. Supported values are: "
                                   "'video', 'thumbnail' and 'spritesheet'.", "variant")
            job = self._job(request)
            if job.status != "completed":
                raise RequestError(f"Video '{job.id}' is {job.status}; its content is "
                                   "available once it is completed.", None,
                                   "invalid_video_state")
        except RequestError as exc:
            return exc.response()
        name, media_type = VARIANTS[variant]
        return FileResponse(job.path / name, media_type=media_type,
                            filename=f"{job.id}{Path(name).suffix}")

    async def unsupported(self, request: Request) -> Response:
        """``POST /v1/videos/edits``, ``/extensions``, ``/characters``: not served here."""
        problem = await self._guard(request)
        if problem is not None:
            return problem
        name = request.path_params["video_id"]
        return RequestError(f"POST /v1/videos/{name} is not supported by this server.", None,
                            "unsupported_endpoint", 404).response()

    # ------------------------------------------------------------------ helpers

    async def _guard(self, request: Request) -> Response | None:
        """The REST guards (origin, API key) for a call without a body."""
        body = await self.server.rest_body(request, self.server.settings.max_body_bytes)
        return body if isinstance(body, Response) else None

    def _job(self, request: Request) -> VideoJob:
        video_id = request.path_params["video_id"]
        job = self.jobs.get(video_id)
        if job is None:
            raise _not_found(video_id)
        return job

    async def _submit(self, model: str, prompt: str, seconds: str, size: str,
                      files: dict[str, bytes | Path], source: VideoJob | None = None
                      ) -> VideoJob:
        video_id = new_video_id()
        reference = next((n for n in files if n.startswith("reference.")), None)
        seed = source.spec["seed"] if source is not None else int(video_id[-8:], 16) % 100_000
        video = {"id": video_id, "object": "video", "model": model, "status": "queued",
                 "progress": 0, "created_at": int(time.time()), "completed_at": None,
                 "expires_at": None, "size": size, "seconds": seconds, "prompt": prompt,
                 "remixed_from_video_id": source.id if source is not None else None,
                 "error": None}
        spec = {"prompt": prompt, "seconds": seconds, "size": size, "seed": seed,
                "reference": reference,
                "source_plan": "source.plan.json" if source is not None else None}
        await self.jobs.purge()
        try:
            return await self.jobs.create(video, spec, files)
        except QueueFull:
            raise RequestError(f"Too many videos are queued ({self.jobs.limits.pending}); "
                               "try again when some are done.", None, "rate_limit_exceeded",
                               429) from None
        except OSError as exc:  # videos_dir is full or not writable
            log.error("cannot store video %s in %s: %s", video_id, self.jobs.directory, exc)
            raise ServerError("The video could not be stored on the server.",
                              None, "storage_error", 500) from None


class ServerError(RequestError):
    """A 5xx: the same body with ``type: server_error``."""

    def response(self) -> JSONResponse:
        return JSONResponse({"error": {"message": self.message, "type": "server_error",
                                       "param": self.param, "code": self.code}},
                            status_code=self.status)


def _not_found(video_id: str) -> RequestError:
    return RequestError(f"Video with id '{video_id}' not found.", None, "video_not_found", 404)


async def _params(request: Request, body: bytes) -> dict[str, Any]:
    """The request's fields, from multipart (the SDK), urlencoded or JSON. Bracketed form
    fields (``input_reference[image_url]``) become a nested dict; an upload its bytes."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return _json_object(body)
    form = await _form(request, body)
    try:
        params: dict[str, Any] = {}
        for key, value in form.multi_items():
            data: Any = await value.read() if isinstance(value, UploadFile) else value
            outer, bracket, inner = key.partition("[")
            if bracket and inner.endswith("]"):
                nested = params.setdefault(outer, {})
                if isinstance(nested, dict):
                    nested[inner[:-1]] = data
            else:
                params[key] = data
        return params
    finally:
        await form.close()


def _prompt(params: dict[str, Any]) -> str:
    prompt = _required_text(params, "prompt")
    if not prompt.strip():
        raise RequestError("'prompt' is empty.", "prompt", "invalid_value")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise RequestError(f"'prompt' is too long: {len(prompt)} characters; the maximum is "
                           f"{MAX_PROMPT_CHARS}.", "prompt", "string_above_max_length")
    return prompt


def _choice(params: dict[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = params.get(name)
    if value is None or value == "":
        return default
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if text not in allowed:
        listed = ", ".join(f"'{a}'" for a in allowed[:-1]) + f" and '{allowed[-1]}'"
        raise RequestError(f"Invalid value: '{value}'. Supported values are: {listed}.", name)
    return str(text)


def _limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return LIST_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIST_LIMIT:
        raise RequestError(f"Invalid 'limit': expected an integer from 1 to {MAX_LIST_LIMIT}.",
                           "limit")
    return limit


def _reference(value: Any) -> dict[str, bytes | Path]:
    """``{"reference.<ext>": bytes}`` from an upload or ``{"image_url": "data:..."}``."""
    if value is None or value == "" or value == {}:
        return {}
    if isinstance(value, dict):
        if value.get("file_id"):
            raise RequestError("'input_reference.file_id' is not supported: this server has "
                               "no Files API; upload the image as 'input_reference'.",
                               "input_reference.file_id", "unsupported_value")
        value = _data_url(value.get("image_url"))
    elif isinstance(value, str):
        raise RequestError("'input_reference' must be a file upload or an object with "
                           "'image_url'.", "input_reference", "invalid_type")
    for magic, offset, suffix in _KINDS:
        if value[offset:offset + len(magic)] == magic:
            return {f"reference{suffix}": bytes(value)}
    raise RequestError("'input_reference' must be an image (PNG, JPEG, WebP, GIF) or a "
                       "video (MP4, WebM).", "input_reference", "invalid_file")


def _data_url(url: Any) -> bytes:
    if not isinstance(url, str) or not url:
        raise RequestError("'input_reference' needs 'image_url'.", "input_reference.image_url",
                           "missing_required_parameter")
    head, comma, payload = url.partition(",")
    if not (url.startswith("data:") and comma and head.endswith(";base64")):
        raise RequestError("'input_reference.image_url' must be a base64 data URL "
                           "(data:image/png;base64,...): this server downloads no URLs.",
                           "input_reference.image_url", "unsupported_value")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError("'input_reference.image_url' is not valid base64.",
                           "input_reference.image_url", "invalid_value") from None
