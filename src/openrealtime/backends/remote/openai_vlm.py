"""Image understanding by a remote OpenAI-compatible vision model (``--vlm-url``).

The endpoint receives the image itself (a chat message with an ``image_url`` part) and
answers with a description that enters the conversation as text.

The request is not streamed, so two deadlines suffice: ``connect_timeout_s`` for the
connection and ``total_timeout_s`` for the whole exchange, enforced around the request
with ``asyncio.timeout`` so that a body trickled byte by byte cannot outlast it.
Failures are :class:`BackendError` with codes ``vision_timeout_connect``,
``vision_timeout_total``, ``vision_unavailable`` and ``vision_error``.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import httpx

from ..base import BackendError

PROMPT = ("Describe this image for a voice assistant that cannot see it. First copy any "
          "on-screen text exactly, in reading order; then say briefly what is shown "
          "(for a screenshot: the application, any dialog or error).")


class RemoteVision:
    """``POST {base_url}/chat/completions`` with the image; ``timeout_s`` is the older
    name of ``total_timeout_s`` and, when given, wins."""

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None,
                 connect_timeout_s: float = 5.0, total_timeout_s: float = 60.0,
                 timeout_s: float | None = None, max_tokens: int = 400,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        if timeout_s is not None:
            total_timeout_s = timeout_s
        if not (connect_timeout_s > 0 and total_timeout_s > 0):
            raise ValueError("connect_timeout_s and total_timeout_s must be > 0")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.model = model
        self.max_tokens = max_tokens
        self.connect_timeout_s = connect_timeout_s
        self.total_timeout_s = total_timeout_s
        self.base_url = base_url.rstrip("/")
        self.name = f"remote vision {model} at {base_url}"
        self._client = httpx.AsyncClient(
            base_url=self.base_url + "/", headers=headers, transport=transport,
            timeout=httpx.Timeout(total_timeout_s, connect=connect_timeout_s,
                                  pool=connect_timeout_s))

    async def describe(self, image: bytes, mime: str, *, detail: str = "auto") -> str:
        """A text description of ``image``; raises :class:`BackendError`."""
        url = f"data:{mime};base64,{base64.b64encode(image).decode('ascii')}"
        body = {"model": self.model, "max_tokens": self.max_tokens, "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": PROMPT},
                {"type": "image_url", "image_url": {"url": url, "detail": detail}}]}]}
        response = await self._post(body)
        if response.status_code != 200:
            raise BackendError(f"vision endpoint {self.base_url} answered HTTP "
                               f"{response.status_code}: {response.text[:200]}",
                               code="vision_error")
        return "The user shared an image. " + _content(response).strip()

    async def _post(self, body: dict[str, Any]) -> httpx.Response:
        timeout = asyncio.timeout(self.total_timeout_s)
        try:
            async with timeout:
                return await self._client.post("chat/completions", json=body)
        except TimeoutError:
            if not timeout.expired():
                raise
            raise BackendError(f"vision endpoint {self.base_url} did not answer within "
                               f"total_timeout_s={self.total_timeout_s:g} s",
                               code="vision_timeout_total") from None
        except (httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise BackendError(f"vision endpoint {self.base_url} unreachable: no connection "
                               f"within connect_timeout_s={self.connect_timeout_s:g} s",
                               code="vision_timeout_connect") from exc
        except httpx.HTTPError as exc:
            raise BackendError(f"vision endpoint {self.base_url} unreachable: {exc!r}",
                               code="vision_unavailable") from exc

    async def aclose(self) -> None:
        await self._client.aclose()


def _content(response: httpx.Response) -> str:
    """The answer's text; an ``{"error": ...}`` body (even with HTTP 200) is a failure."""
    try:
        document = response.json()
    except ValueError:
        document = None
    if isinstance(document, dict) and document.get("error"):
        error = document["error"]
        message = error.get("message") if isinstance(error, dict) else None
        raise BackendError(f"vision endpoint error: {message or json.dumps(error)[:200]}",
                           code="vision_error")
    try:
        return str(document["choices"][0]["message"]["content"])
    except (KeyError, IndexError, TypeError) as exc:
        raise BackendError(
            f"unexpected vision response ({response.headers.get('content-type', '(none)')}): "
            f"{response.text[:200]!r}", code="vision_error") from exc
