"""Speech recognition and synthesis through any OpenAI-compatible audio server.

``RemoteSTT`` posts each utterance as a WAV file to ``{url}/audio/transcriptions``;
``RemoteTTS`` asks ``{url}/audio/speech`` for raw 24 kHz PCM and streams it as it
arrives. OpenAI itself, speaches, vLLM's audio endpoints, Kokoro-FastAPI and another
OpenRealtime (``openrealtime serve`` serves both endpoints) all fit.

Failures end the one response with a :class:`BackendError`: ``stt_unavailable`` /
``tts_unavailable`` (no connection), ``stt_timeout`` / ``tts_timeout``, ``stt_http_error``
/ ``tts_http_error`` (4xx/5xx, with the server's message), ``stt_bad_response`` (not the
JSON asked for).

Voices: the session's voice name (``alloy``, ``marin``...) goes to the server as it is,
unless ``voices`` maps it (``{"marin": "af_bella"}``) or ``default_voice`` replaces every
name the map does not know (a server with one voice, or other names).
"""

from __future__ import annotations

import io
import wave
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import numpy as np

from openrealtime.backends.base import (
    STT_SAMPLE_RATE,
    BackendError,
    Float32Array,
    Int16Array,
    Segment,
    Transcript,
)

PCM_RATE = 24_000  # OpenAI's response_format "pcm": 24 kHz, 16-bit, mono, little-endian
READ_BYTES = 4_800  # 100 ms of PCM per chunk handed on


def _client(api_key: str | None, timeout_s: float, connect_s: float,
            transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    return httpx.AsyncClient(headers=headers, transport=transport,
                             timeout=httpx.Timeout(timeout_s, connect=connect_s))


def _failure(role: str, url: str, exc: Exception) -> BackendError:
    if isinstance(exc, httpx.TimeoutException):
        return BackendError(f"{role} server at {url} timed out", code=f"{role}_timeout")
    return BackendError(f"{role} server at {url} unreachable: {exc}",
                        code=f"{role}_unavailable")


def _http_error(role: str, response: httpx.Response, body: bytes) -> BackendError:
    try:
        message = str(_json(body)["error"]["message"])
    except Exception:
        message = body[:200].decode("utf-8", "replace")
    return BackendError(f"{role} server answered HTTP {response.status_code}: {message}",
                        code=f"{role}_http_error")


def _json(body: bytes) -> Any:
    import json

    return json.loads(body)


def wav_bytes(audio: Float32Array, rate: int = STT_SAMPLE_RATE) -> bytes:
    """``audio`` (float32 mono) as a 16-bit PCM WAV file in memory."""
    pcm = (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return buffer.getvalue()


class RemoteSTT:
    """``/v1/audio/transcriptions`` of an OpenAI-compatible server."""

    timestamps = True  # verbose_json carries the segments

    def __init__(self, url: str, model: str = "whisper-1", *, api_key: str | None = None,
                 timeout_s: float = 60.0, connect_timeout_s: float = 5.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.url = url.rstrip("/")
        self.model = model
        self.name = f"remote {model} at {self.url}"
        self._client = _client(api_key, timeout_s, connect_timeout_s, transport)

    async def transcribe(self, audio: Float32Array, *, language: str | None = None,
                         prompt: str | None = None, timestamps: bool = False) -> Transcript:
        form = {"model": self.model,
                "response_format": "verbose_json" if timestamps else "json"}
        if language:
            form["language"] = language
        if prompt:
            form["prompt"] = prompt
        files = {"file": ("audio.wav", wav_bytes(audio), "audio/wav")}
        try:
            response = await self._client.post(f"{self.url}/audio/transcriptions",
                                               data=form, files=files)
        except httpx.HTTPError as exc:
            raise _failure("stt", self.url, exc) from exc
        if response.status_code >= 400:
            raise _http_error("stt", response, response.content)
        try:
            data = response.json()
            text = str(data["text"]).strip()
            segments = tuple(Segment(float(s["start"]), float(s["end"]), str(s["text"]).strip())
                             for s in data.get("segments") or ()) if timestamps else ()
        except (ValueError, KeyError, TypeError) as exc:
            raise BackendError(f"stt server at {self.url} sent an unexpected answer: "
                               f"{response.text[:200]!r}", code="stt_bad_response") from exc
        return Transcript(text, data.get("language") or language,
                          len(audio) / STT_SAMPLE_RATE, segments)

    async def aclose(self) -> None:
        await self._client.aclose()


class RemoteTTS:
    """``/v1/audio/speech`` of an OpenAI-compatible server, streamed as raw PCM."""

    sample_rate = PCM_RATE

    def __init__(self, url: str, model: str = "tts-1", *, api_key: str | None = None,
                 voices: Mapping[str, str] | None = None, default_voice: str | None = None,
                 timeout_s: float = 60.0, connect_timeout_s: float = 5.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.url = url.rstrip("/")
        self.model = model
        self.voices = dict(voices or {})
        self.default_voice = default_voice
        self.name = f"remote {model} at {self.url}"
        self._client = _client(api_key, timeout_s, connect_timeout_s, transport)

    def voice_for(self, voice: str | None) -> str:
        """The server's voice for a session's voice name."""
        name = voice or "alloy"
        return self.voices.get(name) or self.default_voice or name

    async def synthesize(self, text: str, *, voice: str | None = None,
                         speed: float = 1.0) -> AsyncIterator[Int16Array]:
        body = {"model": self.model, "input": text, "voice": self.voice_for(voice),
                "response_format": "pcm", "speed": speed}
        carry = b""
        try:
            async with self._client.stream("POST", f"{self.url}/audio/speech",
                                           json=body) as response:
                if response.status_code >= 400:
                    raise _http_error("tts", response, await response.aread())
                async for data in response.aiter_bytes(READ_BYTES):
                    data = carry + data
                    whole = len(data) - len(data) % 2
                    carry = data[whole:]
                    if whole:
                        yield np.frombuffer(data[:whole], dtype="<i2").astype(np.int16)
        except httpx.HTTPError as exc:
            raise _failure("tts", self.url, exc) from exc

    async def aclose(self) -> None:
        await self._client.aclose()


def parse_voice_map(spec: str | None) -> tuple[dict[str, str], str | None]:
    """``--tts-voice``: ``NAME`` (every voice becomes NAME) or ``alloy=af_bella,marin=…``
    (a map; names it lacks pass as they are). Returns (map, default voice)."""
    if not spec:
        return {}, None
    if "=" not in spec:
        return {}, spec.strip()
    pairs: dict[str, str] = {}
    for part in spec.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"--tts-voice: expected NAME or OPENAI=THEIRS,...; got {part!r}")
        pairs[key.strip()] = value.strip()
    return pairs, None
