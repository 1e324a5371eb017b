"""Build the model set a server process shares across sessions.

Everything is loaded and warmed up once, before the first session is
accepted, so no user pays a model's cold start. By default every local model runs
in its own supervised worker process (:mod:`.worker`): a segfault in espeak-ng or
llama.cpp then fails one response instead of the server. ``isolate=False`` loads the
models into this process (debugging, profiling).
"""

from __future__ import annotations

import concurrent.futures
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from openrealtime.backends.base import LLM, STT, TTS, BackendError, Backends, EchoOutput
from openrealtime.backends.models import SpeechModels, gguf_model, piper_voice, whisper_model

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """How model workers are supervised (see :class:`.worker.Worker`)."""

    stall_s: float = 30.0  # a worker that owes a reply and says nothing this long is killed
    vad_stall_s: float = 5.0  # the VAD answers in a millisecond: a hang shows fast
    max_rss_mb: float = 4096.0
    ready_wait_s: float = 30.0  # how long a request waits for a restarting worker


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
    isolate: bool = True,
    workers: WorkerOptions | None = None,
    llm_timeouts: dict[str, float] | None = None,
    end_of_turn: bool = True,
    echo_cancellation: bool = True,
    speech: SpeechModels | None = None,
) -> Backends:
    """Load Silero VAD, Whisper tiny.en, SmolLM2 (or a remote LLM) and Piper, and where
    their packages are installed Smart Turn (``end_of_turn``, for semantic_vad) and the
    WebRTC echo canceller (``echo_cancellation``).

    With ``llm_url`` the LLM is any OpenAI-compatible endpoint
    (``{llm_url}/chat/completions``) and ``llm_model`` names the model there; without
    it ``llm_model`` is a local GGUF (a path, or ``REPO_ID:FILE`` on the hub). ``speech``
    picks the STT and TTS models the same way (see :class:`SpeechModels`).
    With ``isolate`` (the default) each local model runs in a worker process.
    """
    extras = _input_roles(end_of_turn, echo_cancellation)
    speech = speech or SpeechModels()
    local = local_model_configs(speech, None if llm_url else llm_model)
    if isolate:
        return _load_workers(llm_url, llm_model, llm_api_key, n_threads, stt_short_window,
                             vlm_url, vlm_model, vlm_api_key, workers or WorkerOptions(),
                             llm_timeouts or {}, extras, speech, local)
    from openrealtime.backends.local.piper import PiperTTS
    from openrealtime.backends.local.silero import SileroVAD
    from openrealtime.backends.local.whisper import WhisperSTT

    vad = _timed("vad", SileroVAD, warm=True)
    stt: Any = (_remote_stt(speech) if speech.stt_url else _timed(
        "stt", lambda: WhisperSTT(cpu_threads=n_threads, short_window=stt_short_window,
                                  **local["stt"]), warm=True))
    llm, llm_name = _load_llm(llm_url, llm_model, llm_api_key, n_threads, llm_timeouts or {},
                              local["llm"])
    tts: Any = (_remote_tts(speech) if speech.tts_url
                else _timed("tts", lambda: PiperTTS(**local["tts"]), warm=True))
    vision = _load_vision(vlm_url, vlm_model, vlm_api_key)
    turn: Any = None
    echo: Any = None
    if "turn" in extras:
        from openrealtime.backends.local.smart_turn import SmartTurn

        turn = _timed("turn", SmartTurn, warm=True)
    if "echo" in extras:
        from openrealtime.backends.local.echo import EchoCancellers

        echo = _InProcessEcho(_timed("echo", EchoCancellers, warm=True))
    backends = Backends(vad=vad, stt=stt, llm=llm, tts=tts, vision=vision, turn=turn,
                        echo=echo)
    backends.names = {role: str(getattr(b, "name", role)) for role, b in backends.roles().items()}
    backends.names["llm"] = llm_name
    return backends


def local_model_configs(speech: SpeechModels, llm_file: str | None
                        ) -> dict[str, dict[str, Any]]:
    """Each local role's model arguments (empty: the embedded default). Names are
    resolved (and downloaded) here; a bad choice raises :class:`BackendError`."""
    out: dict[str, dict[str, Any]] = {"stt": {}, "tts": {}, "llm": {}}
    if speech.stt_model and not speech.stt_url:
        out["stt"] = {"model_path": whisper_model(speech.stt_model)}
    if speech.tts_model and not speech.tts_url:
        model, config = piper_voice(speech.tts_model)
        out["tts"] = {"model_path": model, "config_path": config}
    if llm_file:
        out["llm"] = {"model_path": gguf_model(llm_file)}
    return out


def _remote_stt(speech: SpeechModels) -> STT:
    from openrealtime.backends.remote.openai_audio import RemoteSTT

    assert speech.stt_url
    stt = RemoteSTT(speech.stt_url, speech.stt_model or "whisper-1",
                    api_key=speech.stt_api_key)
    logger.info("stt: %s", stt.name)
    return stt


def _remote_tts(speech: SpeechModels) -> TTS:
    from openrealtime.backends.remote.openai_audio import RemoteTTS, parse_voice_map

    assert speech.tts_url
    voices, default = parse_voice_map(speech.tts_voice)
    tts = RemoteTTS(speech.tts_url, speech.tts_model or "tts-1", api_key=speech.tts_api_key,
                    voices=voices, default_voice=default)
    logger.info("tts: %s", tts.name)
    return tts


def _input_roles(end_of_turn: bool, echo_cancellation: bool) -> set[str]:
    """The optional input-side models whose packages are installed."""
    roles = set()
    if end_of_turn:
        try:
            from openrealtime.backends.local.smart_turn import smart_turn_model_path

            smart_turn_model_path()
            roles.add("turn")
        except BackendError as exc:
            logger.warning("semantic_vad without its model (silence by eagerness): %s",
                           exc.message)
    if echo_cancellation:
        if _has_module("livekit"):
            roles.add("echo")
        else:
            logger.warning("echo cancellation off: the livekit package is not installed")
    return roles


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


def _remote_llm(url: str, model: str | None, api_key: str | None,
                timeouts: dict[str, float]) -> LLM:
    from openrealtime.backends.remote.openai_llm import RemoteLLM

    model_name = model or "default"
    remote = RemoteLLM(url, model_name, api_key=api_key, **timeouts)
    logger.info("llm: remote %s at %s", model_name, url)
    return remote


def _load_workers(llm_url: str | None, llm_model: str | None, llm_api_key: str | None,
                  n_threads: int, stt_short_window: bool, vlm_url: str | None,
                  vlm_model: str | None, vlm_api_key: str | None, options: WorkerOptions,
                  llm_timeouts: dict[str, float], extras: set[str], speech: SpeechModels,
                  local: dict[str, dict[str, Any]]) -> Backends:
    """Start one worker per local model role, all at once, and wait until each is ready."""
    from openrealtime.backends.worker import (
        Worker,
        WorkerEcho,
        WorkerLLM,
        WorkerSTT,
        WorkerTTS,
        WorkerTurn,
        WorkerVAD,
        WorkerVision,
    )

    configs: dict[str, dict[str, Any]] = {"vad": {}}
    if not speech.stt_url:
        configs["stt"] = {"cpu_threads": n_threads, "short_window": stt_short_window,
                          **local["stt"]}
    if not speech.tts_url:
        configs["tts"] = local["tts"]
    if not llm_url:
        configs["llm"] = {"n_threads": n_threads, **local["llm"]}
    if not vlm_url and _has_module("rapidocr_onnxruntime"):
        configs["vision"] = {}
    if "turn" in extras:
        # One thread (two are slower once the cores are busy), at normal priority: niced
        # (10), a busy machine starved it and the turn ended late (627 ms after the
        # speech against server_vad's 563 in a loaded test run), and it bought nothing
        # (bench/turns.py --turns 16 --parts latency, nice 10 vs 0 in one run: semantic
        # p50 623 vs 598 ms, p95 1087 vs 1085 ms).
        configs["turn"] = {"threads": 1}
    if "echo" in extras:
        configs["echo"] = {}
    quick = ("vad", "turn", "echo")  # they answer in milliseconds: a hang shows fast
    workers = {role: Worker(role, config, stall_s=options.vad_stall_s if role in quick
                            else options.stall_s, max_rss_mb=options.max_rss_mb,
                            ready_wait_s=options.ready_wait_s)
               for role, config in configs.items()}
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(len(workers)) as pool:
        futures = {role: pool.submit(worker.start) for role, worker in workers.items()}
        try:
            for future in futures.values():
                future.result()
        except BaseException:
            for worker in workers.values():
                worker.close()
            raise
    logger.info("model workers ready in %.1f s: %s", time.perf_counter() - started,
                ", ".join(f"{r} (pid {w.pid})" for r, w in workers.items()))
    llm: Any = (_remote_llm(llm_url, llm_model, llm_api_key, llm_timeouts) if llm_url
                else WorkerLLM(workers["llm"]))
    vision: Any = None
    if vlm_url:
        vision = _load_vision(vlm_url, vlm_model, vlm_api_key)
    elif "vision" in workers:
        vision = WorkerVision(workers["vision"])
    else:
        logger.warning("vision: rapidocr not installed; images enter the context as [image]")
    stt: Any = _remote_stt(speech) if speech.stt_url else WorkerSTT(workers["stt"])
    tts: Any = _remote_tts(speech) if speech.tts_url else WorkerTTS(workers["tts"])
    backends = Backends(vad=WorkerVAD(workers["vad"]), stt=stt, llm=llm, tts=tts,
                        vision=vision,
                        turn=WorkerTurn(workers["turn"]) if "turn" in workers else None,
                        echo=WorkerEcho(workers["echo"]) if "echo" in workers else None)
    backends.names = {role: str(getattr(b, "name", role)) for role, b in backends.roles().items()}
    return backends


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def _load_llm(
    url: str | None, model: str | None, api_key: str | None, n_threads: int,
    timeouts: dict[str, float], local_args: dict[str, Any],
) -> tuple[LLM, str]:
    if url:
        remote = _remote_llm(url, model, api_key, timeouts)
        return remote, str(getattr(remote, "name", url))
    from openrealtime.backends.local.llama import LlamaLLM

    local = _timed("llm", lambda: LlamaLLM(n_threads=n_threads, **local_args), warm=True)
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


class _InProcessEcho:
    """The echo cancellers in this process, as the EchoCanceller Protocol."""

    def __init__(self, cancellers: Any) -> None:
        self.cancellers = cancellers
        self.name = cancellers.name
        self.latency_samples: int = cancellers.latency_samples

    def stream(self) -> _InProcessEchoStream:
        return _InProcessEchoStream(self.cancellers)


class _InProcessEchoStream:
    _ids = iter(range(1, 1 << 62))

    def __init__(self, cancellers: Any) -> None:
        self.cancellers = cancellers
        self.id = f"in-process-{next(self._ids)}"

    async def process(self, mic: Any, far: Any, lead: Any = None,
                      denoise: bool = False) -> EchoOutput:
        cleaned = self.cancellers.process(self.id, mic, far, lead, denoise)
        return EchoOutput(cleaned, near_db=self.cancellers.get(self.id).near_db)

    async def aclose(self) -> None:
        self.cancellers.close(self.id)
