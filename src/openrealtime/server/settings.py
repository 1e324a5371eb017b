"""Settings, built once and passed down: ``OPENREALTIME_*`` variables, CLI flags on top."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPENREALTIME_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8765
    # Comma-separated. Empty: no authentication (a local, single-user server).
    api_keys: str = ""
    backend: Literal["local", "fake"] = "local"
    llm_url: str | None = None  # any OpenAI-compatible /v1 base URL
    llm_model: str | None = None
    llm_api_key: str | None = None
    vlm_url: str | None = None  # an OpenAI-compatible vision endpoint; else local OCR
    vlm_model: str | None = None
    vlm_api_key: str | None = None
    threads: int = 2
    # The hosted service ends a session after 60 minutes (error session_expired, close 1001).
    max_session_s: float = 3600.0
    # Encode only the utterance (>= 10 s window) instead of Whisper's 30 s window:
    # ~150 ms instead of ~450 ms per turn, at some cost in accuracy.
    stt_short_window: bool = True
    log_level: str = "info"
    # Session recording (``openrealtime cost`` reads these): each session's server events
    # go to ``record_dir/<session id>.jsonl``. None: nothing is recorded.
    record_dir: Path | None = None
    # Keep the base64 payload of audio deltas in recordings (by default only its size).
    record_audio: bool = False

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(k.strip() for k in self.api_keys.split(",") if k.strip())
