"""Audio primitives: codecs, resampling, ring buffer, framing and WAV I/O (numpy + soxr)."""

from .codec import (
    PCM16_24K,
    PCMA,
    PCMU,
    AudioFormat,
    alaw_decode,
    alaw_encode,
    float32_to_pcm16,
    int16_to_bytes,
    pcm16_to_float32,
    ulaw_decode,
    ulaw_encode,
)
from .framing import Framer
from .playout import Playout
from .resample import StreamResampler, resample
from .ring import SampleRing
from .wav import read_wav, write_wav

__all__ = [
    "PCM16_24K",
    "PCMA",
    "PCMU",
    "AudioFormat",
    "Framer",
    "Playout",
    "SampleRing",
    "StreamResampler",
    "alaw_decode",
    "alaw_encode",
    "float32_to_pcm16",
    "int16_to_bytes",
    "pcm16_to_float32",
    "read_wav",
    "resample",
    "ulaw_decode",
    "ulaw_encode",
    "write_wav",
]
