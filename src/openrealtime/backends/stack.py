"""Build the model set a server process shares across sessions.

Everything is loaded and warmed up once, before the first session is
accepted, so no user pays a model's cold start.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from openrealtime.backends.base import LLM, Backends

logger = logging.getLogger(__name__)
T = TypeVar("T")


def load_local_backends(
    *,
    llm_url: str | None = None,
    llm_model: str | None = None,
    llm_api_key: str | None = None,
    n_threads: int = 2,
    stt_short_window: bool = True,
    vlm_url: str | None = None,
    vlm_model: str | None = None,
    vlm_api_key: str | None = None,
) -> Backends:
    """Load Silero VAD, Whisper tiny.en, SmolLM2 (or a remote LLM) and Piper.

    With ``llm_url`` the LLM is any OpenAI-compatible endpoint
    (``{llm_url}/chat/completions``) and ``llm_model`` names the model there.
    """
    from openrealtime.backends.local.piper import PiperTTS
    from openrealtime.backends.local.silero import SileroVAD
    from openrealtime.backends.local.whisper import WhisperSTT

    vad = _timed("vad", SileroVAD, warm=True)
    stt = _timed("stt", lambda: WhisperSTT(cpu_threads=n_threads, short_window=stt_short_window), warm=True)
    llm, llm_name = _load_llm(llm_url, llm_model, llm_api_key, n_threads)
    tts = _timed("tts", PiperTTS, warm=True)
    vision = _load_vision(vlm_url, vlm_model, vlm_api_key)
    names = {"vad": vad.name, "stt": stt.name, "llm": llm_name, "tts": tts.name}
    if vision is not None:
        names["vision"] = vision.name
    return Backends(vad=vad, stt=stt, llm=llm, tts=tts, names=names, vision=vision)


def _load_vision(url: str | None, model: str | None, api_key: str | None) -> Any:
    """A remote vision model when configured, else local OCR (if its package is there)."""
    if url:
        from openrealtime.backends.remote.openai_vlm import RemoteVision

        return RemoteVision(url, model or "default", api_key=api_key)
    from openrealtime.backends.local.vision import LocalVision

    try:
        return _timed("vision", LocalVision, warm=True)
    except ImportError:  # rapidocr is in the "video" extra
        logger.warning("vision: rapidocr not installed; images enter the context as [image]")
        return None


def _load_llm(
    url: str | None, model: str | None, api_key: str | None, n_threads: int
) -> tuple[LLM, str]:
    if url:
        from openrealtime.backends.remote.openai_llm import RemoteLLM

        model_name = model or "default"
        remote = RemoteLLM(url, model_name, api_key=api_key)
        logger.info("llm: remote %s at %s", model_name, url)
        return remote, remote.name
    from openrealtime.backends.local.llama import LlamaLLM

    local = _timed("llm", lambda: LlamaLLM(n_threads=n_threads), warm=True)
    return local, local.name


def _timed(role: str, load: Callable[[], T], *, warm: bool) -> T:
    started = time.perf_counter()
    backend = load()
    loaded = time.perf_counter()
    if warm:
        backend.warmup()  # type: ignore[attr-defined]
    logger.info(
        "%s: loaded %s in %.2f s, warmed up in %.2f s",
        role,
        type(backend).__name__,
        loaded - started,
        time.perf_counter() - loaded,
    )
    return backend
