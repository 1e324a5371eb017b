"""The soundtrack: narration, optional music ducked under speech, loudness and peaks.

Target: about -16 LUFS integrated (the usual level for social/mobile video) with true
peaks under -1 dBTP. True peak is measured on a 4x oversampled signal (ITU-R BS.1770
style); the limiter aims a little lower (-2 dBTP) because AAC encoding adds overshoot.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from .narration import SAMPLE_RATE, decode_audio

TARGET_LUFS = -16.0
PEAK_LIMIT_DBTP = -1.0
_LIMITER_DBTP = -2.0
MUSIC_BED_DB = -10.0  # music relative to target loudness while nobody speaks
MUSIC_DUCK_DB = -14.0  # extra attenuation under speech
_BLOCK = 240  # 5 ms at 48 kHz: the limiter's and ducker's gain resolution

F32 = npt.NDArray[np.float32]


def db(gain: float) -> float:
    return 20.0 * np.log10(max(gain, 1e-12))


def loudness_lufs(x: F32, sample_rate: int = SAMPLE_RATE) -> float:
    """Integrated loudness (BS.1770, gated); -inf for silence or too-short audio."""
    import pyloudnorm

    if len(x) < sample_rate // 2 or not np.any(x):
        return float("-inf")
    return float(pyloudnorm.Meter(sample_rate).integrated_loudness(x.astype(np.float64)))


def true_peak_dbtp(x: F32, sample_rate: int = SAMPLE_RATE) -> float:
    """Peak of the 4x oversampled signal, in dB relative to full scale."""
    from openrealtime.audio import resample

    if not len(x):
        return float("-inf")
    up = resample(x, sample_rate, sample_rate * 4)
    return db(float(np.max(np.abs(up))) if len(up) else 0.0)


def master(speech: F32, music_path: str | None, speech_present: bool) -> F32:
    """Mix speech and music, then bring the mix to the target loudness under the ceiling."""
    mix = speech.astype(np.float32, copy=True)
    if music_path:
        mix += _music_bed(Path(music_path), speech, speech_present)
    return normalize(mix)


def normalize(x: F32) -> F32:
    """Gain to :data:`TARGET_LUFS`, then limit peaks; repeated because limiting lowers loudness."""
    if not np.any(x):
        return x
    for _ in range(3):
        current = loudness_lufs(x)
        if not np.isfinite(current):
            break
        x = x * np.float32(10 ** ((TARGET_LUFS - current) / 20))
        x = limit(x)
        if abs(loudness_lufs(x) - TARGET_LUFS) < 0.3:
            break
    return x.astype(np.float32)


def limit(x: F32, ceiling_dbtp: float = _LIMITER_DBTP) -> F32:
    """A look-ahead block limiter without per-sample Python loops.

    Each 5 ms block needs a gain of at most ceiling/peak (peaks measured oversampled, so
    inter-sample peaks count). Taking the minimum over neighbouring blocks and
    interpolating between block centres gives a smooth gain that is never above any
    block's requirement, so no sample exceeds the ceiling and nothing clicks.
    """
    from openrealtime.audio import resample

    ceiling = 10 ** (ceiling_dbtp / 20)
    n_blocks = -(-len(x) // _BLOCK)
    up = np.abs(resample(x, SAMPLE_RATE, SAMPLE_RATE * 4))
    padded = np.zeros(n_blocks * _BLOCK * 4, np.float32)
    padded[: min(len(up), len(padded))] = up[: len(padded)]
    peaks = padded.reshape(n_blocks, _BLOCK * 4).max(axis=1) * 1.02
    need = np.minimum(1.0, ceiling / np.maximum(peaks, 1e-9))
    if np.all(need >= 1.0):
        return x
    wide = np.minimum(need, np.minimum(np.roll(need, 1), np.roll(need, -1)))
    wide = np.minimum.reduce([np.roll(wide, k) for k in range(-2, 3)])  # 25 ms of attack/release
    centres = (np.arange(n_blocks) + 0.5) * _BLOCK
    gain = np.interp(np.arange(len(x)), centres, wide).astype(np.float32)
    return x * gain


def _music_bed(path: Path, speech: F32, speech_present: bool) -> F32:
    """Music looped to length, faded in and out, at bed level, ducked under speech."""
    music = decode_audio(path)
    if not len(music):
        return np.zeros_like(speech)
    music = np.resize(music, len(speech)).astype(np.float32)  # loops when shorter
    level = loudness_lufs(music)
    if np.isfinite(level):
        bed = TARGET_LUFS + (MUSIC_BED_DB if speech_present else 0.0)
        music *= np.float32(10 ** ((bed - level) / 20))
    fade = min(len(music) // 4, SAMPLE_RATE)
    ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
    music[:fade] *= ramp
    music[len(music) - fade:] *= ramp[::-1]
    return music * _duck_gain(speech)


def _duck_gain(speech: F32) -> F32:
    """Gain curve: 1 where silent, MUSIC_DUCK_DB under speech, with 150 ms ramps."""
    n_blocks = -(-len(speech) // _BLOCK)
    padded = np.zeros(n_blocks * _BLOCK, np.float32)
    padded[: len(speech)] = np.abs(speech)
    active = padded.reshape(n_blocks, _BLOCK).max(axis=1) > 0.01
    hold = 30  # blocks (150 ms): keep ducked across short pauses between words
    active = np.convolve(active.astype(np.float32), np.ones(2 * hold + 1), mode="same") > 0
    target = np.where(active, 10 ** (MUSIC_DUCK_DB / 20), 1.0).astype(np.float32)
    smooth = np.convolve(target, np.ones(hold) / hold, mode="same")
    centres = (np.arange(n_blocks) + 0.5) * _BLOCK
    return np.interp(np.arange(len(speech)), centres, smooth).astype(np.float32)
