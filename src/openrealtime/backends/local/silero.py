"""Silero VAD v6 on onnxruntime, using the model file bundled with faster-whisper.

The model takes 64 samples of context (the tail of the previous window) plus
512 new samples at 16 kHz, and a recurrent LSTM state ``(h, c)`` that must be
carried from window to window of the same audio stream. One
``InferenceSession`` is shared by every stream; each :class:`SileroStream`
keeps its own state and context, so connections never disturb each other.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from openrealtime.backends.base import VAD_SAMPLE_RATE, BackendError, Float32Array

WINDOW_SAMPLES = 512  # 32 ms at 16 kHz: the size Silero v5/v6 is trained for
CONTEXT_SAMPLES = 64  # what faster_whisper/vad.py prepends to each window
STATE_SHAPE = (1, 1, 128)


def bundled_model_path() -> Path:
    """Path of ``silero_vad_v6.onnx`` inside the installed faster-whisper package.

    Found through the import system without importing faster_whisper itself
    (which would pull in ctranslate2).
    """
    spec = importlib.util.find_spec("faster_whisper")
    if spec is None or not spec.submodule_search_locations:
        raise BackendError("faster-whisper is not installed; it carries the Silero VAD model")
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    path = package_dir / "assets" / "silero_vad_v6.onnx"
    if not path.is_file():
        raise BackendError(f"Silero VAD model not found at {path}")
    return path


class SileroStream:
    """Per-connection VAD state: the LSTM state and the last 64 samples."""

    def __init__(self, session: Any) -> None:
        self._session = session
        # input row = [64 context samples | 512 new samples], reused for every call
        self._input = np.zeros((1, CONTEXT_SAMPLES + WINDOW_SAMPLES), dtype=np.float32)
        self._h = np.zeros(STATE_SHAPE, dtype=np.float32)
        self._c = np.zeros(STATE_SHAPE, dtype=np.float32)

    def probability(self, window: Float32Array) -> float:
        """Speech probability of one 512-sample window of float32 audio at 16 kHz."""
        if window.shape != (WINDOW_SAMPLES,):
            raise ValueError(f"expected {WINDOW_SAMPLES} samples, got shape {window.shape}")
        row = self._input[0]
        row[CONTEXT_SAMPLES:] = window
        try:
            probs, self._h, self._c = self._session.run(
                None, {"input": self._input, "h": self._h, "c": self._c}
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            raise BackendError(f"Silero VAD failed: {exc}", code="vad_error") from exc
        # The tail of this window becomes the context of the next one.
        row[:CONTEXT_SAMPLES] = row[-CONTEXT_SAMPLES:]
        return float(probs.reshape(-1)[0])

    def reset(self) -> None:
        """Forget the audio heard so far (new turn or new connection)."""
        self._input.fill(0.0)
        self._h.fill(0.0)
        self._c.fill(0.0)


class SileroVAD:
    """Silero VAD v6; :meth:`stream` hands out independent per-connection states."""

    window_samples: int = WINDOW_SAMPLES
    sample_rate: int = VAD_SAMPLE_RATE

    def __init__(self, model_path: str | Path | None = None) -> None:
        import onnxruntime

        path = Path(model_path) if model_path is not None else bundled_model_path()
        opts = onnxruntime.SessionOptions()
        # One window is ~0.1 ms of work: threading only adds overhead and
        # would fight the other models for the cores.
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 4
        try:
            self._session = onnxruntime.InferenceSession(
                str(path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise BackendError(f"cannot load Silero VAD from {path}: {exc}") from exc
        self.model_path = path
        self.name = f"Silero VAD ({path.stem}, onnxruntime)"

    def stream(self) -> SileroStream:
        return SileroStream(self._session)

    def warmup(self) -> None:
        self.stream().probability(np.zeros(WINDOW_SAMPLES, dtype=np.float32))
