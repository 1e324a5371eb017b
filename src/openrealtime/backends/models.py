"""Which model files the local roles load: the embedded defaults, or the user's own.

Each role takes a path or a name. A name downloads through the library's own mechanism
where the machine has network (faster-whisper sizes from the Hugging Face hub, Piper
voices from the Piper voice repository, a GGUF as ``REPO_ID:FILE`` from the hub); offline,
it is a one-line :class:`BackendError` saying what to pass instead. Resolution happens
once, before the server starts (``openrealtime serve`` prints the error and exits), so a
bad choice never reaches a model worker.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .base import BackendError

PIPER_VOICE = re.compile(r"^[a-z]{2,3}_[A-Z]{2}-[A-Za-z0-9_]+-(x_low|low|medium|high)$")


@dataclass(frozen=True, slots=True)
class SpeechModels:
    """The speech roles' choices (None: the embedded default). ``*_url``: an
    OpenAI-compatible server instead of a local model; ``*_model`` is then its model
    name."""

    stt_model: str | None = None
    stt_url: str | None = None
    stt_api_key: str | None = None
    tts_model: str | None = None
    tts_url: str | None = None
    tts_api_key: str | None = None
    tts_voice: str | None = None


def cache_dir() -> Path:
    """Where downloaded voices go (``OPENREALTIME_MODEL_DIR``, else the user cache)."""
    root = os.environ.get("OPENREALTIME_MODEL_DIR")
    base = Path(root) if root else Path.home() / ".cache" / "openrealtime"
    return base


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text[:160] + "...") if len(text) > 160 else text or type(exc).__name__


def whisper_model(spec: str) -> str:
    """A faster-whisper model directory for ``spec``: a directory (a CTranslate2 Whisper
    model), or a size name (``base.en``, ``small``, ``large-v3``...) downloaded once."""
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "model.bin").is_file():
            raise BackendError(f"--stt-model {spec}: the directory has no model.bin (a "
                               "CTranslate2 Whisper model, as faster-whisper uses)")
        return str(path)
    if path.exists() or ("/" in spec and not _is_hub_name(spec)):
        raise BackendError(f"--stt-model {spec}: not a model directory")
    from faster_whisper.utils import available_models, download_model

    if spec not in available_models() and not _is_hub_name(spec):
        raise BackendError(f"--stt-model {spec}: not a directory, nor a faster-whisper size "
                           f"({', '.join(available_models())})")
    try:
        return str(download_model(spec))
    except Exception as exc:  # offline: huggingface_hub's connection errors
        raise BackendError(f"--stt-model {spec}: cannot download it ({_reason(exc)}); "
                           "pass a local model directory instead") from None


def _is_hub_name(spec: str) -> bool:
    return spec.count("/") == 1 and not spec.startswith((".", "/", "~"))


def piper_voice(spec: str) -> tuple[str, str | None]:
    """(model, config) of a Piper voice: an ``.onnx`` file (its ``.onnx.json`` beside
    it), or a voice name (``en_US-amy-medium``) downloaded once into :func:`cache_dir`."""
    path = Path(spec).expanduser()
    if path.is_file():
        config = Path(str(path) + ".json")
        return str(path), str(config) if config.is_file() else None
    if not PIPER_VOICE.match(spec):
        raise BackendError(f"--tts-model {spec}: not a Piper voice file (.onnx) nor a "
                           "voice name like en_US-amy-medium")
    folder = cache_dir() / "piper"
    model = folder / f"{spec}.onnx"
    if not (model.is_file() and Path(str(model) + ".json").is_file()):
        from piper.download_voices import download_voice

        try:
            folder.mkdir(parents=True, exist_ok=True)
            download_voice(spec, folder)
        except Exception as exc:
            for part in (model, Path(str(model) + ".json")):
                part.unlink(missing_ok=True)  # (no half-downloaded voice left behind)
            raise BackendError(f"--tts-model {spec}: cannot download it ({_reason(exc)}); "
                               "pass a local .onnx voice file instead") from None
    return str(model), str(model) + ".json"


def gguf_model(spec: str) -> str:
    """A GGUF file: a path, or ``REPO_ID:FILE`` on the Hugging Face hub (downloaded once)."""
    path = Path(spec).expanduser()
    if path.is_file():
        return str(path)
    repo, sep, filename = spec.partition(":")
    if not sep or not _is_hub_name(repo) or not filename:
        raise BackendError(f"--llm-model {spec}: no such GGUF file (or give REPO_ID:FILE "
                           "from the Hugging Face hub, or --llm-url for a model server)")
    try:
        from huggingface_hub import hf_hub_download

        return str(hf_hub_download(repo, filename))
    except Exception as exc:
        raise BackendError(f"--llm-model {spec}: cannot download it ({_reason(exc)}); "
                           "pass a local .gguf file instead") from None
