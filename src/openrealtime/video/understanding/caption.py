"""Keyframe captions from a vision model behind an OpenAI-compatible chat endpoint.

One request per keyframe (``POST {base_url}/chat/completions`` with the frame as a
``data:image/jpeg;base64`` URL), at most ``max_frames`` frames spread over the video.
A failure is reported as a warning; the brief is still written, with fewer captions.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROMPT = "Describe this video frame in one short sentence: what is shown and any visible text."


@dataclass(slots=True)
class Captioner:
    """A vision-language model at ``base_url`` (``…/v1``) called ``model``."""

    base_url: str
    model: str
    api_key: str | None = None
    timeout_s: float = 60.0
    max_tokens: int = 80

    @property
    def name(self) -> str:
        return f"{self.model} at {self.base_url.rstrip('/')}"

    def caption_all(self, outdir: Path, keyframes: list[dict[str, Any]], max_frames: int
                    ) -> tuple[list[dict[str, Any]], list[str]]:
        """Captions for up to ``max_frames`` of ``keyframes`` ({time_s, shot_index, path})."""
        import httpx

        chosen = budget(keyframes, max_frames)
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        captions: list[dict[str, Any]] = []
        with httpx.Client(base_url=self.base_url.rstrip("/"), headers=headers,
                          timeout=self.timeout_s) as client:
            for kf in chosen:
                try:
                    text = self._one(client, outdir / kf["path"])
                except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
                    reason = " ".join(str(exc).split()) or type(exc).__name__
                    return captions, [f"vision model {self.name} failed after {len(captions)} "
                                      f"caption(s): {reason}"]
                if text:
                    captions.append({"time_s": kf["time_s"], "shot_index": kf["shot_index"],
                                     "keyframe": kf["path"], "text": text})
        return captions, []

    def _one(self, client: Any, image: Path) -> str:
        url = "data:image/jpeg;base64," + base64.b64encode(image.read_bytes()).decode()
        payload = {"model": self.model, "max_tokens": self.max_tokens, "temperature": 0.0,
                   "messages": [{"role": "user", "content": [
                       {"type": "text", "text": PROMPT},
                       {"type": "image_url", "image_url": {"url": url}}]}]}
        response = client.post("/chat/completions", json=payload)
        response.raise_for_status()
        content = response.json()["choices"][0]["message"]["content"]
        if isinstance(content, list):  # some servers answer with content parts
            content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
        return " ".join(str(content or "").split())


def budget(keyframes: list[dict[str, Any]], max_frames: int) -> list[dict[str, Any]]:
    """At most ``max_frames`` keyframes: one per shot first, spread evenly over time."""
    if max_frames <= 0:
        return []
    firsts = {}
    for kf in keyframes:
        firsts.setdefault(kf["shot_index"], kf)
    pool = list(firsts.values()) if len(firsts) >= max_frames else keyframes
    if len(pool) <= max_frames:
        return pool
    step = len(pool) / max_frames
    return [pool[int(i * step + step / 2)] for i in range(max_frames)]
