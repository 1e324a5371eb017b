"""Image understanding by a remote OpenAI-compatible vision model (``--vlm-url``).

The endpoint receives the image itself (a chat message with an ``image_url`` part) and
answers with a description that enters the conversation as text.
"""

from __future__ import annotations

import base64

import httpx

from ..base import BackendError

PROMPT = ("Describe this image for a voice assistant that cannot see it. First copy any "
          "on-screen text exactly, in reading order; then say briefly what is shown "
          "(for a screenshot: the application, any dialog or error).")


class RemoteVision:
    def __init__(self, base_url: str, model: str, *, api_key: str | None = None,
                 timeout_s: float = 60.0, max_tokens: int = 400,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.model = model
        self.max_tokens = max_tokens
        self.name = f"remote vision {model} at {base_url}"
        self._client = httpx.AsyncClient(base_url=base_url.rstrip("/") + "/",
                                         headers=headers, transport=transport,
                                         timeout=httpx.Timeout(timeout_s, connect=10.0))

    async def describe(self, image: bytes, mime: str, *, detail: str = "auto") -> str:
        url = f"data:{mime};base64,{base64.b64encode(image).decode('ascii')}"
        body = {"model": self.model, "max_tokens": self.max_tokens, "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": PROMPT},
                {"type": "image_url", "image_url": {"url": url, "detail": detail}}]}]}
        try:
            response = await self._client.post("chat/completions", json=body)
        except httpx.HTTPError as exc:
            raise BackendError(f"vision endpoint unreachable: {exc}",
                               code="vision_unavailable") from exc
        if response.status_code != 200:
            raise BackendError(f"vision endpoint answered HTTP {response.status_code}: "
                               f"{response.text[:200]}", code="vision_error")
        try:
            text = response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise BackendError(f"unexpected vision response: {exc}",
                               code="vision_error") from exc
        return "The user shared an image. " + str(text).strip()

    async def aclose(self) -> None:
        await self._client.aclose()
