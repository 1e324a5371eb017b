"""End-of-turn detection with Smart Turn v3.2 (onnxruntime), the model bundled in pipecat-ai.

Smart Turn is an audio-only classifier: it hears the last 8 s of an utterance and
says how likely the speaker has *finished* their turn (intonation, a trailing
"um", an unfinished clause). Its input is Whisper-style log-mel features as the
Hugging Face ``WhisperFeatureExtractor(chunk_length=8)`` computes them, written
here in numpy so neither transformers nor pipecat (whose dependencies we do not
install) is imported.

The model file is found through the ``pipecat-ai`` distribution's file list;
install that package with ``pip install --no-deps pipecat-ai``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.metadata
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from openrealtime.backends.base import BackendError, Float32Array

SAMPLE_RATE = 16000
WINDOW_S = 8
WINDOW_SAMPLES = WINDOW_S * SAMPLE_RATE  # 128000
N_FFT = 400
HOP = 160
N_MELS = 80
N_FRAMES = WINDOW_SAMPLES // HOP  # 800: the centred STFT gives 801, the last is dropped
_MODEL_FILE = "pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx"


def smart_turn_model_path() -> Path:
    """Path of ``smart-turn-v3.2-cpu.onnx`` inside the installed pipecat-ai distribution.

    Read from the distribution's file list, so pipecat itself is never imported
    (its many dependencies are not installed).
    """
    hint = "install it with: pip install --no-deps pipecat-ai"
    try:
        files = importlib.metadata.distribution("pipecat-ai").files or []
    except importlib.metadata.PackageNotFoundError as exc:
        raise BackendError(
            f"Smart Turn model not found: pipecat-ai is not installed; {hint}"
        ) from exc
    for file in files:
        if str(file).replace("\\", "/") == _MODEL_FILE:
            path = Path(str(file.locate()))
            if path.is_file():
                return path
    raise BackendError(f"Smart Turn model not found in the pipecat-ai distribution; {hint}")


def _slaney_mel(hz: NDArray[np.float64]) -> NDArray[np.float64]:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    log_step = np.log(6.4) / 27.0
    linear = 3.0 * hz / 200.0
    log = 15.0 + np.log(np.maximum(hz, 1000.0) / 1000.0) / log_step
    return np.where(hz >= 1000.0, log, linear)


def _slaney_hz(mel: NDArray[np.float64]) -> NDArray[np.float64]:
    """Inverse of :func:`_slaney_mel`."""
    log_step = np.log(6.4) / 27.0
    linear = 200.0 * mel / 3.0
    log = 1000.0 * np.exp(log_step * (np.maximum(mel, 15.0) - 15.0))
    return np.where(mel >= 15.0, log, linear)


def _mel_filterbank() -> NDArray[np.float64]:
    """(201 fft bins, 80 mels) triangles over 0..8 kHz, each scaled to unit area (Slaney)."""
    fft_hz = np.linspace(0.0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    edges_mel = np.linspace(_slaney_mel(np.array(0.0)), _slaney_mel(np.array(8000.0)),
                            N_MELS + 2)
    edges_hz = _slaney_hz(edges_mel)
    widths = np.diff(edges_hz)
    offsets = edges_hz[None, :] - fft_hz[:, None]  # (201, 82)
    rising = -offsets[:, :-2] / widths[:-1]
    falling = offsets[:, 2:] / widths[1:]
    triangles = np.maximum(0.0, np.minimum(rising, falling))
    return triangles * (2.0 / (edges_hz[2:] - edges_hz[:-2]))[None, :]


_MEL_FILTERS = _mel_filterbank()
# Periodic (not symmetric) Hann, as torch.hann_window and the HF extractor use.
_HANN = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(N_FFT) / N_FFT)


def _last_window(audio: Float32Array) -> NDArray[np.float32]:
    """The last 8 s of ``audio``, zero-padded at the *front* (the end is what matters)."""
    samples = np.asarray(audio, dtype=np.float32).reshape(-1)[-WINDOW_SAMPLES:]
    window = np.zeros(WINDOW_SAMPLES, dtype=np.float32)
    if samples.shape[0]:
        window[-samples.shape[0]:] = samples
    return window


def log_mel_features(audio: Float32Array) -> NDArray[np.float32]:
    """Smart Turn's input for float32 mono 16 kHz audio: (80, 800) float32 log-mel.

    Matches ``WhisperFeatureExtractor(chunk_length=8)`` with ``do_normalize=True``
    applied to the last 8 s (front-padded). Silence or empty audio gives a
    constant -1.5 everywhere (log10 of the 1e-10 floor, rescaled).
    """
    x = _last_window(audio)
    # Zero-mean/unit-variance in float32 with eps 1e-7, as the HF extractor does.
    x = (x - x.mean()) / np.sqrt(x.var() + np.float32(1e-7))
    # The spectrum in float64 matches the HF extractor exactly; float32 saved only
    # ~0.3 ms of ~5 ms.
    padded = np.pad(x.astype(np.float64), N_FFT // 2, mode="reflect")
    frames = sliding_window_view(padded, N_FFT)[::HOP]  # (801, 400) view, no copy
    spectrum = np.fft.rfft(frames * _HANN, axis=1)
    power = spectrum.real**2 + spectrum.imag**2
    mel = power[:-1] @ _MEL_FILTERS  # (800, 80); the last frame is dropped, as HF does
    log_mel = np.log10(np.maximum(mel, 1e-10))
    log_mel = np.maximum(log_mel, log_mel.max() - 8.0)
    return ((log_mel.T + 4.0) / 4.0).astype(np.float32)


class SmartTurn:
    """Smart Turn v3.2 end-of-turn classifier behind a single-thread executor.

    One decision costs one 8 s feature window plus one forward pass (a few tens
    of milliseconds on a CPU core); the executor serialises decisions of all
    sessions so they queue instead of oversubscribing the cores.
    """

    name = "Smart Turn v3.2 (onnx)"
    window_s = WINDOW_S
    sample_rate = SAMPLE_RATE

    def __init__(self, model_path: str | Path | None = None, *, threads: int = 1) -> None:
        import onnxruntime

        path = Path(model_path) if model_path is not None else smart_turn_model_path()
        options = onnxruntime.SessionOptions()
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = threads
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self._session: Any = onnxruntime.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise BackendError(f"cannot load Smart Turn model from {path}: {exc}") from exc
        self.model_path = path
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="smart-turn"
        )

    def probability(self, audio: Float32Array) -> float:
        """Probability in [0, 1] that the speaker's turn is complete.

        ``audio`` is float32 mono at 16 kHz, the utterance so far (only its last
        8 s are heard). Empty or all-zero audio is scored like any other input:
        the features are constant and v3.2 answers about 0.99 ("complete"), so
        a caller must not ask before it has heard speech.
        """
        features = log_mel_features(audio)[None]
        try:
            (logits,) = self._session.run(["logits"], {"input_features": features})
        except Exception as exc:
            raise BackendError(f"Smart Turn inference failed: {exc}",
                               code="turn_detection_error") from exc
        # The exported graph ends in a sigmoid: "logits" is already a probability.
        return float(np.asarray(logits).reshape(-1)[0])

    async def score(self, audio: Float32Array) -> float:
        """:meth:`probability` on the model's own thread, off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.probability, audio)

    def warmup(self) -> None:
        """Score 1 s of silence so onnxruntime has allocated its buffers before a session."""
        self.probability(np.zeros(SAMPLE_RATE, dtype=np.float32))

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
