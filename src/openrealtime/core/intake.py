"""Input audio on one 16 kHz timeline: decoding, resampling, echo cancellation, framing.

Client audio (pcm16 at 24 kHz, or G.711 at 8 kHz) becomes 16 kHz float32, goes into
the input ring (what commits and speech recognition read) and is cut into 512-sample
windows for the VAD. While the client may be playing a reply (what it was sent, placed
on this timeline by :class:`~openrealtime.audio.Playout`, plus an echo tail), the audio
first goes through the runtime's echo canceller; the canceller's output lags its input
by a fixed latency, and while nothing plays the intake delays the input by as much
itself, so positions never jump. Each VAD window also gets a gate: while echo is
possible it may start speech only if the microphone rises ``ECHO_GATE_DB`` above the
echo the far end explains.

Sans-I/O: ``append`` returns the effect to run (:class:`~.effects.CancelEcho` or
:class:`~.effects.ScoreSpeech`); ``on_echo_cancelled`` takes the canceller's answer.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from ..audio import AudioFormat, Framer, Playout, SampleRing, StreamResampler
from . import effects as fx

SAMPLE_RATE = 16_000  # the input timeline (VAD and STT rate)
VAD_WINDOW = 512
# While the far end may be echoing, a window can start speech only if the microphone
# rises this far above the echo the far end explains (mean over the window's samples).
ECHO_GATE_DB = 6.0
# Echo may still come in this long after the last sample the client was sent (its
# buffer, the room, the delay the canceller allows for); past it the input bypasses
# the canceller (listening costs 6.8 % of a core instead of 14 %).
ECHO_TAIL_MS = 2500


def audio_format(fmt: Any) -> AudioFormat:
    return {"audio/pcm": AudioFormat("pcm16", 24000), "audio/pcmu": AudioFormat("pcmu", 8000),
            "audio/pcma": AudioFormat("pcma", 8000)}[fmt.type]


class Intake:
    """One session's input audio. ``echo_latency``: the echo canceller's latency in
    samples (None: the runtime has no canceller)."""

    def __init__(self, capacity_s: int, echo_latency: int | None) -> None:
        self.ring = SampleRing(SAMPLE_RATE * capacity_s)
        self.framer = Framer(VAD_WINDOW)
        self.gate_framer = Framer(VAD_WINDOW)  # near_db beside the VAD's windows
        self.gates: deque[bool] = deque()  # per window sent to the VAD: may it start speech?
        self.playout = Playout()
        self.echo_latency = echo_latency
        self.received = 0  # input samples received (ahead of ring.end by the echo's latency)
        self.scoring = False  # windows go to the VAD (turn detection is on)
        # noise reduction on: every chunk goes through the canceller (its noise
        # suppressor), echo or not; without a canceller there is none
        self.denoise = False
        self._held = np.zeros(echo_latency or 0, dtype=np.float32)  # the latest input
        self._bypassing = True
        self._far: StreamResampler | None = None
        self.configure(AudioFormat("pcm16", 24000))

    def configure(self, fmt: AudioFormat) -> None:
        self.format = fmt
        # "QQ" (cubic) has a 1-sample delay where "HQ" holds back ~16 ms: on the input
        # side that delay would add straight to turn-detection latency, and speech
        # recognition does not need studio-grade filtering.
        self.resampler = StreamResampler(fmt.sample_rate, SAMPLE_RATE, quality="QQ")

    @property
    def position(self) -> int:
        """Sample index at the end of the last complete VAD window."""
        return self.ring.end - self.framer.pending

    # ----------------------------------------------------------------- microphone

    def append(self, raw: bytes) -> list[Any]:
        """Client audio in the session's input format. Raises ValueError if undecodable."""
        x16 = self.resampler.process(self.format.decode(raw))
        start, self.received = self.received, self.received + len(x16)
        if self.echo_latency is None:
            self.playout.read(start, 0)  # forget what has been played
            return self._take(x16)
        held = self._held
        joined = np.concatenate([held, x16])
        self._held = joined[len(joined) - self.echo_latency:]
        end = self.playout.end
        if self.denoise or (end and end + ECHO_TAIL_MS * 16 > start):  # (or echoing)
            lead, self._bypassing = (held if self._bypassing else None), False
            return [fx.CancelEcho(x16, self.playout.read(start, len(x16)), lead,
                                  self.denoise)]
        self._bypassing = True
        self.playout.read(start, 0)
        return self._take(joined[:len(x16)], None)

    def on_echo_cancelled(self, fact: fx.EchoCancelled) -> list[Any]:
        return self._take(fact.samples, fact.near_db)

    def _take(self, x16: fx.Float32Array, near_db: Any = False) -> list[Any]:
        """Into the ring and the VAD's windows; ``near_db`` (echo path only; None: no
        echo possible) gates each window."""
        self.ring.write(x16)
        windows = self.framer.push(x16)
        if near_db is not False:
            near = near_db if near_db is not None else np.full(len(x16), np.inf,
                                                               dtype=np.float32)
            # (inf, "no echo possible", counts as very clear over the part of a window)
            self.gates.extend(bool(np.mean(np.minimum(w, 60.0)) >= ECHO_GATE_DB)
                              for w in self.gate_framer.push(near))
        if not windows or not self.scoring:
            self.gates.clear()
            return []
        return [fx.ScoreSpeech(windows)]

    def may_start(self) -> bool:
        """The gate of the next scored window (open without an echo canceller)."""
        return self.gates.popleft() if self.gates else True

    # ------------------------------------------------------------------ far end

    def played(self, samples: fx.Int16Array, sample_rate: int) -> None:
        """Reply audio went to the client: it plays from now on (the echo's far end)."""
        if self.echo_latency is None:  # only the timing matters
            self.playout.reserve(len(samples) * SAMPLE_RATE // sample_rate, self.received)
            return
        if self._far is None or self._far.in_rate != sample_rate:
            self._far = StreamResampler(sample_rate, SAMPLE_RATE, quality="QQ")
        far = self._far.process(samples.astype(np.float32) * np.float32(1 / 32768))
        self.playout.play(far, self.received)

    def stopped_playing(self) -> None:
        """The client stopped the reply (barge-in, clear, truncate): no more far end."""
        self.playout.cut(self.received)
