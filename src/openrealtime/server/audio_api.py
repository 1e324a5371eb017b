"""OpenAI's audio REST endpoints, served from the server's own models.

``POST /v1/audio/transcriptions`` (multipart: ``file``, ``model``, ``language``,
``prompt``, ``response_format`` json/text/verbose_json/srt/vtt, ``stream``) and
``POST /v1/audio/speech`` (JSON: ``model``, ``input``, ``voice``, ``response_format``
pcm/wav/mp3/opus/aac/flac, ``speed``, ``stream_format`` audio/sse), so that the openai
SDK's ``audio.transcriptions.create`` and ``audio.speech.create`` work against this
server, and one OpenRealtime can be the speech model server of another
(``--stt-url``/``--tts-url``).

Every model name is accepted and served by the configured model (``whisper-1``,
``gpt-4o-transcribe``, ``tts-1``...; the name is echoed nowhere). Speech is streamed as it
is synthesized, clause by clause; transcription of a file is one call to the STT (its
segments stream as deltas with ``stream=true``).
"""

from __future__ import annotations

import base64
import json
import logging
import math
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from ..audio.media import SPEECH_FORMATS, MediaError, SpeechEncoder, decode_audio
from ..backends.base import BackendError, Segment, Transcript
from ..runtime.chunker import ClauseChunker
from ..runtime.speakable import SpeechText

if TYPE_CHECKING:
    from .app import RealtimeServer

log = logging.getLogger(__name__)

MAX_SPEECH_INPUT_CHARS = 4096  # the reference's limit on /v1/audio/speech ``input``
TRANSCRIPTION_FORMATS = ("json", "text", "verbose_json", "srt", "vtt")
_LANGUAGE_NAMES = {"en": "english", "de": "german", "fr": "french", "es": "spanish",
                   "it": "italian", "pt": "portuguese", "nl": "dutch", "ja": "japanese",
                   "zh": "chinese", "ru": "russian", "ko": "korean", "pl": "polish"}


class RequestError(Exception):
    """A 400 with OpenAI's error body."""

    def __init__(self, message: str, param: str | None = None,
                 code: str | None = "invalid_value", status: int = 400) -> None:
        super().__init__(message)
        self.message, self.param, self.code, self.status = message, param, code, status

    def response(self) -> JSONResponse:
        return JSONResponse({"error": {"message": self.message, "type": "invalid_request_error",
                                       "param": self.param, "code": self.code}},
                            status_code=self.status)


class AudioAPI:
    """The two endpoints, over a :class:`RealtimeServer`'s models and REST guards."""

    def __init__(self, server: RealtimeServer) -> None:
        self.server = server

    # ------------------------------------------------------------ transcriptions

    async def transcriptions(self, request: Request) -> Response:
        body = await self.server.rest_body(request, self.server.settings.max_audio_bytes)
        if isinstance(body, Response):
            return body
        try:
            form = await _form(request, body)
        except RequestError as exc:
            return exc.response()
        try:
            return await self._transcribe(_fields(form))
        except RequestError as exc:
            return exc.response()
        finally:
            await form.close()  # (uploads are spooled to temporary files)

    async def _transcribe(self, form: dict[str, Any]) -> Response:
        upload = form.get("file")
        if upload is None or not hasattr(upload, "read"):
            raise RequestError("Missing required parameter: 'file'.", "file",
                               "missing_required_parameter")
        _required_text(form, "model")
        fmt = str(form.get("response_format") or "json")
        if fmt not in TRANSCRIPTION_FORMATS:
            raise RequestError(f"Invalid value: '{fmt}'. Supported values are: "
                               + ", ".join(f"'{f}'" for f in TRANSCRIPTION_FORMATS) + ".",
                               "response_format")
        granularities = form.get("timestamp_granularities[]") or []
        if "word" in granularities:
            raise RequestError("Word timestamps are not supported by this server; use "
                               "'segment'.", "timestamp_granularities", "unsupported_value")
        stream = str(form.get("stream") or "false").lower() == "true"
        language = str(form.get("language") or "") or None
        prompt = str(form.get("prompt") or "") or None
        data = await upload.read()
        try:
            audio = decode_audio(data, max_s=self.server.settings.max_audio_s)
        except MediaError as exc:
            raise RequestError(str(exc), "file", "invalid_file") from None
        stt = self.server.backends.stt if self.server.backends else None
        if stt is None:
            raise RequestError("No speech recognition model is loaded.", None,
                               "model_not_available", 503)
        timed = fmt in ("verbose_json", "srt", "vtt") or stream
        options: dict[str, Any] = {"language": language, "prompt": prompt}
        if timed and getattr(stt, "timestamps", False):
            options["timestamps"] = True
        try:
            transcript: Transcript = await stt.transcribe(audio, **options)
        except BackendError as exc:
            return RequestError(f"Transcription failed: {exc.message}", None, exc.code,
                                500).response()
        segments = transcript.segments or (
            (Segment(0.0, round(len(audio) / 16000, 3), transcript.text),)
            if transcript.text else ())
        seconds = len(audio) / 16000
        usage = {"type": "duration", "seconds": max(1, math.ceil(seconds))}
        if stream:
            return _sse(_transcript_events(transcript.text, segments, usage))
        if fmt == "text":
            return PlainTextResponse(transcript.text + "\n")
        if fmt == "srt":
            return PlainTextResponse(_srt(segments))
        if fmt == "vtt":
            return PlainTextResponse(_vtt(segments), media_type="text/vtt")
        if fmt == "verbose_json":
            lang = transcript.language or language or "en"
            return JSONResponse({
                "task": "transcribe", "language": _LANGUAGE_NAMES.get(lang, lang),
                "duration": round(seconds, 3), "text": transcript.text,
                "segments": [{"id": i, "seek": 0, "start": s.start, "end": s.end,
                              "text": s.text, "tokens": [], "temperature": 0.0,
                              "avg_logprob": 0.0, "compression_ratio": 0.0,
                              "no_speech_prob": 0.0} for i, s in enumerate(segments)],
                "usage": usage})
        return JSONResponse({"text": transcript.text, "usage": usage})

    # -------------------------------------------------------------------- speech

    async def speech(self, request: Request) -> Response:
        body = await self.server.rest_body(request, self.server.settings.max_body_bytes)
        if isinstance(body, Response):
            return body
        try:
            params = _json_object(body)
            text = _required_text(params, "input")
            _required_text(params, "model")
            if len(text) > MAX_SPEECH_INPUT_CHARS:
                raise RequestError(f"'input' is too long: {len(text)} characters; the "
                                   f"maximum is {MAX_SPEECH_INPUT_CHARS}.", "input",
                                   "string_above_max_length")
            voice = params.get("voice")
            if isinstance(voice, dict):
                voice = voice.get("id")
            if not isinstance(voice, str) or not voice:
                raise RequestError("Missing required parameter: 'voice'.", "voice",
                                   "missing_required_parameter")
            fmt = params.get("response_format") or "mp3"
            if fmt not in SPEECH_FORMATS:
                raise RequestError(f"Invalid value: '{fmt}'. Supported values are: "
                                   + ", ".join(f"'{f}'" for f in SPEECH_FORMATS) + ".",
                                   "response_format")
            speed = params.get("speed", 1.0)
            if (not isinstance(speed, int | float) or isinstance(speed, bool)
                    or not 0.25 <= speed <= 4.0):
                raise RequestError("Invalid 'speed': expected a number from 0.25 to 4.0.",
                                   "speed")
            sse = params.get("stream_format", "audio")
            if sse not in ("audio", "sse"):
                raise RequestError(f"Invalid value: '{sse}'. Supported values are: 'audio', "
                                   "'sse'.", "stream_format")
        except RequestError as exc:
            return exc.response()
        tts = self.server.backends.tts if self.server.backends else None
        if tts is None:
            return RequestError("No speech model is loaded.", None, "model_not_available",
                                503).response()
        encoder = SpeechEncoder(fmt, tts.sample_rate)
        audio = self._speak(tts, text, voice, float(speed), encoder)
        if sse == "sse":
            return _sse(_speech_events(audio))
        return StreamingResponse(audio, media_type=encoder.content_type)

    async def _speak(self, tts: Any, text: str, voice: str, speed: float,
                     encoder: SpeechEncoder) -> AsyncIterator[bytes]:
        """The encoded speech of ``text``, clause by clause as it is synthesized. A model
        failure mid-stream ends the audio early (the status line has gone out)."""
        chunker, speech = ClauseChunker(), SpeechText()
        clauses = chunker.push(text) + chunker.flush()
        try:
            for clause in clauses:
                for piece in speech.pieces(clause):
                    async with aclosing(tts.synthesize(piece, voice=voice,
                                                       speed=speed)) as chunks:
                        async for chunk in chunks:
                            if data := encoder.push(chunk):
                                yield data
        except BackendError as exc:
            log.warning("speech synthesis failed mid-stream: %s", exc.message)
        if data := encoder.finish():
            yield data


# ---------------------------------------------------------------------- helpers


async def _form(request: Request, body: bytes) -> FormData:
    """The multipart (or urlencoded) form of a body already read within its limits."""
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.request", "body": b"", "more_body": False}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        return await Request(request.scope, replay).form(max_files=1, max_fields=64)
    except Exception as exc:  # malformed multipart, too many parts
        raise RequestError(f"The form could not be read: {exc}", None,
                           "invalid_request_error") from None


def _fields(form: FormData) -> dict[str, Any]:
    """The form's fields; ``name[]`` fields as lists."""
    out: dict[str, Any] = {}
    for key, value in form.multi_items():
        if key.endswith("[]"):
            out.setdefault(key, []).append(value)
        else:
            out[key] = value
    return out


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise RequestError("We could not parse the JSON body of your request.", None,
                           "invalid_json") from None
    if not isinstance(data, dict):
        raise RequestError("The request body must be a JSON object.", None, "invalid_json")
    return data


def _required_text(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    if value is None or value == "":
        raise RequestError(f"Missing required parameter: '{name}'.", name,
                           "missing_required_parameter")
    if not isinstance(value, str):
        raise RequestError(f"Invalid type for '{name}': expected a string.", name,
                           "invalid_type")
    return value


def _sse(events: AsyncIterator[dict[str, Any]]) -> StreamingResponse:
    async def frames() -> AsyncIterator[bytes]:
        async for event in events:
            yield f"data: {json.dumps(event, separators=(',', ':'))}\n\n".encode()

    return StreamingResponse(frames(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache"})


async def _transcript_events(text: str, segments: tuple[Segment, ...],
                             usage: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    said = ""
    for segment in segments:
        delta = (" " if said else "") + segment.text
        said += delta
        yield {"type": "transcript.text.delta", "delta": delta}
    yield {"type": "transcript.text.done", "text": text, "usage": usage}


async def _speech_events(audio: AsyncIterator[bytes]) -> AsyncIterator[dict[str, Any]]:
    async for data in audio:
        yield {"type": "speech.audio.delta", "audio": base64.b64encode(data).decode()}
    yield {"type": "speech.audio.done",
           "usage": {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}}


def _clock(seconds: float, comma: bool) -> str:
    ms = round(seconds * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{',' if comma else '.'}{ms:03d}"


def _srt(segments: tuple[Segment, ...]) -> str:
    return "".join(f"{i}\n{_clock(s.start, True)} --> {_clock(s.end, True)}\n{s.text}\n\n"
                   for i, s in enumerate(segments, 1))


def _vtt(segments: tuple[Segment, ...]) -> str:
    return "WEBVTT\n\n" + "".join(
        f"{_clock(s.start, False)} --> {_clock(s.end, False)}\n{s.text}\n\n" for s in segments)


