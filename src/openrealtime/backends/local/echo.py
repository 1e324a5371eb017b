"""Echo cancellation of the assistant's own voice, for clients that do not cancel it.

A speakerphone feeds the reply back into the microphone; Silero hears it as the user
and the server interrupts itself. The server knows what it sent: the runtime places the
reply (16 kHz) on the input timeline where the client starts playing it (the *far
end*). The echo comes later (network, client buffer, room: an unknown D >= 0) and
quieter. Two defences, each insufficient alone (simulated speakerphones, Piper answers,
espeak-ng interruptions, D 0-400 ms, reverb, loud/noisy/distorted echo):

- **WebRTC AEC3** (livekit's ``AudioProcessingModule``): the output. Silero on it
  still starts speech on 10% of echo-only answers (AEC3 leaks while it converges,
  after a delay change, and fails outright when the echo is not later than the
  reference). Whisper's word error on barge-ins over the echo: 0.26 (raw: 1.26).
  When there is no echo at all AEC3 mutes the user while the far end plays, so the
  output is the microphone itself wherever no echo is possible.
- **An echo-path estimate** (:class:`EchoPath`: delay and gain from the correlation of
  10 ms frame energies, a decaying tail, the noise floor) gives ``near_db``: how far
  the raw microphone rises above the echo plus noise the far end can explain. A VAD
  window may start speech only if its mean ``near_db`` is at least :data:`GATE_DB`.

Together: 2 of 180 echo-only answers with a false start (both after a sudden 60 ms
delay change; none in the first second), barge-ins detected in 112 ms (p50) / 198 ms
(p95) against 61 / 148 ms without any echo. Until the path is known the gate assumes
an echo 10 dB under the loudest the reply has been (:data:`UNKNOWN_GAIN_DB`), and
AEC3, not yet converged, mutes much of a barge-in: ``bench/echo_gate.py`` hears 34 of
48 barge-ins (without echo) in that time. A clear echo is known after a quarter second
of audible reply (correlation >= 0.75 over 25 frames; otherwise after half a second),
so an interruption 0.7 s into a first answer meets the echo predicted where it is.
~15 ms of CPU per second of audio. livekit is imported lazily (native code).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any, Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from openrealtime.backends.base import BackendError, Float32Array

SAMPLE_RATE = 16_000
FRAME_SAMPLES = 160  # AEC3 takes exactly 10 ms frames
LATENCY_SAMPLES = FRAME_SAMPLES  # every output lags its input by one frame (see process)
GATE_DB = 6.0  # during playback, speech may start only where mean(near_db) >= GATE_DB
MAX_STREAMS = 1024  # ~0.4 MB of native state each; the least recently used go first
FLOOR_DB = -90.0
MAX_GAIN_DB = 6.0  # an echo louder than this over the far end is taken for a chance match
# Until the path is known, the echo assumed: 10 dB under the reply (a loud speakerphone).
# bench/echo_gate.py, barge-ins without echo in a first reply's first second: 26/48 heard
# assuming 0 dB, 34/48 at -10 dB; echo-only false starts 0/18 at either (AEC3 first).
UNKNOWN_GAIN_DB = -10.0
FloatArray = np.ndarray[Any, np.dtype[np.float64]]


def _db(power: float) -> float:
    return 10.0 * math.log10(power + 1e-9)


class EchoPath:
    """Where and how loud the echo is, from one energy per 10 ms frame (pure numpy).

    Every ``update_every`` frames the last ``history_frames`` of microphone energy (dB)
    are correlated with the far end's at every delay up to ``max_delay_frames``; the far
    end is first spread by a tail decaying ``decay_db_per_frame`` (room reverberation).
    A correlation of at least ``min_corr`` over enough far-end activity means an echo
    (``state = "present"``): its gain is the 90th percentile of mic - far at that delay,
    so the prediction errs loud. A first path needs only half that far-end activity
    if the correlation reaches ``quick_corr``. Below ``drop_corr`` (with full
    activity) there is none (``"absent"``).
    Until then (``"unknown"``) any delay and a gain of ``unknown_gain_db`` are assumed.
    The state outlives the reply: the next one starts with the same path.
    """

    def __init__(self, *, max_delay_frames: int = 80, history_frames: int = 300,
                 tail_frames: int = 30, decay_db_per_frame: float = 1.5,
                 update_every: int = 10, min_corr: float = 0.6, drop_corr: float = 0.4,
                 min_active_frames: int = 50, unknown_gain_db: float = UNKNOWN_GAIN_DB,
                 recent_frames: int = 100, quick_corr: float = 0.75) -> None:
        self.max_delay, self.history, self.tail = max_delay_frames, history_frames, tail_frames
        self.size = history_frames + max_delay_frames + tail_frames
        # ring of 2*size so that the last `size` frames are always one contiguous view
        self._far = np.full(2 * self.size, FLOOR_DB)
        self._mic = np.full(2 * self.size, FLOOR_DB)
        self._pos = 0
        self._frames = 0
        self._decay = np.arange(tail_frames, -1, -1) * decay_db_per_frame  # oldest first
        self.update_every, self.min_corr, self.drop_corr = update_every, min_corr, drop_corr
        self.quick_corr = quick_corr
        self.min_active = min_active_frames
        self.unknown_gain_db = unknown_gain_db
        self.state: Literal["unknown", "present", "absent"] = "unknown"
        self.delay_frames = 0
        self.delays: tuple[int, ...] = (0,)  # delay_frames, plus a recent one if it differs
        self.recent = recent_frames
        self.gain_db = unknown_gain_db
        self.corr = 0.0
        self.noise_db = -60.0
        self._quiet = self.size  # frames since the far end was last active

    def _view(self, ring: FloatArray) -> FloatArray:
        return ring[self._pos:self._pos + self.size]

    def push(self, mic_db: float, far_db: float) -> float:
        """Add one frame; return its ``near_db`` (``inf`` where no echo is possible)."""
        for ring, value in ((self._far, far_db), (self._mic, mic_db)):
            ring[self._pos] = ring[self._pos + self.size] = value
        self._pos = (self._pos + 1) % self.size
        self._frames += 1
        self._quiet = 0 if far_db > -60.0 else self._quiet + 1
        if self._frames % self.update_every == 0:
            self._update()
        echo_db = self.echo_db()
        if echo_db is None:
            return math.inf
        noise = 10.0 ** (self.noise_db / 10.0)
        return mic_db - _db(10.0 ** (echo_db / 10.0) + noise)

    def echo_db(self) -> float | None:
        """Predicted echo level of the newest frame; None: no echo possible."""
        if self.state == "absent" or self._quiet > self.max_delay + self.tail:
            return None
        far = self._view(self._far)
        if self.state == "unknown":
            return self.unknown_gain_db + float(far[-self.max_delay - 1:].max())
        return self.gain_db + max(float((far[end - self.tail - 1:end] - self._decay).max())
                                  for end in (self.size - d for d in self.delays))

    def _both_halves(self, x: FloatArray, far: FloatArray, active: Any) -> bool:
        return _halves_agree(x, far, active, self.min_corr - 0.1, self.min_active // 2)

    def _update(self) -> None:
        far, mic = self._view(self._far), self._view(self._mic)
        seen = mic[-min(self._frames, self.history):]  # not the ring's initial floor
        self.noise_db = float(np.percentile(seen, 10))
        # the far end spread by its decaying tail, aligned with far's last index
        spread = (sliding_window_view(far, self.tail + 1) - self._decay).max(axis=1)
        peak = float(spread.max())
        if peak < -60.0:
            return  # nothing played lately: keep what we know
        spread = np.maximum(spread, peak - 40.0)
        x = mic[-self.history:]
        x = np.maximum(x, x.max() - 40.0)
        rows = sliding_window_view(spread, self.history)[::-1][:self.max_delay + 1]
        # Only frames the far end can reach at some delay say anything about the echo
        # path: the user's question before the reply (loud microphone, silent far end)
        # would otherwise drown the correlation and the path would read as "absent".
        reach = rows.max(axis=0) > peak - 25.0
        if reach.sum() < self.min_active // 2:
            return
        corr = _correlation(x[reach], rows[:, reach])
        delay = int(np.argmax(corr))
        self.corr = float(corr[delay])
        active = rows[delay] > peak - 25.0
        # Half the far end usually needed will do for a first path if it matches very
        # well: a barge-in in the first second of the first reply then meets the echo
        # predicted where it is, not the loudest the reply has been.
        enough = active.sum() >= self.min_active or (
            self.state == "unknown" and active.sum() >= self.min_active // 2
            and self.corr >= self.quick_corr)
        if not enough:
            return
        gain_db = float(np.percentile(x[active] - rows[delay][active], 90))
        # A peak at the edge of the search or an echo far louder than the reply is a
        # chance match (the user starting to talk when the reply starts), not a path.
        plausible = delay < self.max_delay and gain_db <= MAX_GAIN_DB
        if self.corr >= self.min_corr and plausible and self._both_halves(
                x, rows[delay], active):
            self.state, self.delay_frames, self.gain_db = "present", delay, gain_db
            # The last second alone follows a sudden change of delay (the client's
            # buffer ran dry) sooner: until the long view agrees, predict both.
            near = reach[-self.recent:]
            self.delays = (delay,)
            if near.sum() >= self.min_active // 2:
                recent = _correlation(x[-self.recent:][near], rows[:, -self.recent:][:, near])
                late = int(np.argmax(recent))
                if recent[late] >= self.min_corr and abs(late - delay) > 2:
                    self.delays = (delay, late)
        elif self.corr < self.drop_corr:
            self.state = "absent"


def _halves_agree(x: FloatArray, far: FloatArray, active: Any, min_corr: float,
                  min_active: int) -> bool:
    """Whether each half of the history that had enough far end correlates too: a
    single loud word of the user can match the far end by chance, an echo matches
    everywhere."""
    half = len(x) // 2
    for part in (slice(0, half), slice(half, None)):
        on = active[part]
        if on.sum() >= min_active and _correlation(
                x[part][on], far[None, part][:, on])[0] < min_corr:
            return False
    return True


def _correlation(x: FloatArray, rows: FloatArray) -> FloatArray:
    """Pearson correlation of ``x`` with each row of ``rows``."""
    xc = x - x.mean()
    yc = rows - rows.mean(axis=1, keepdims=True)
    norm = np.sqrt((xc @ xc) * np.einsum("ij,ij->i", yc, yc)) + 1e-9
    return np.asarray((yc @ xc) / norm)


class EchoCanceller:
    """One input stream: AEC3 plus :class:`EchoPath` (one APM each, not thread-safe).

    ``process`` takes any chunk length and returns as many samples, exactly
    :data:`LATENCY_SAMPLES` (one 10 ms frame) behind the input: the stream starts with
    160 zeros, and sample ``i`` of the output is input sample ``i - 160``. The output
    feeds both the VAD and the input buffer (speech recognition).

    After each call ``near_db`` holds, for the same output samples (constant over each
    10 ms frame), how many dB the raw microphone lies above the predicted echo plus
    noise; ``inf`` where no echo is possible (nothing played lately, or no echo path:
    the output is then the microphone unchanged; elsewhere it is AEC3's). Gate: a VAD
    window may *start* speech only if the mean of ``near_db`` over it is at least
    :data:`GATE_DB` (``inf`` passes); speech already started is not gated.
    """

    latency_samples = LATENCY_SAMPLES

    def __init__(self, *, noise_suppression: bool = False, high_pass_filter: bool = True,
                 path: EchoPath | None = None) -> None:
        rtc = _livekit()
        self.denoise = noise_suppression  # the output is AEC3's+NS's even without echo
        self._apm = rtc.AudioProcessingModule(
            echo_cancellation=True, noise_suppression=noise_suppression,
            high_pass_filter=high_pass_filter, auto_gain_control=False)
        self._near_frame = rtc.AudioFrame.create(SAMPLE_RATE, 1, FRAME_SAMPLES)
        self._far_frame = rtc.AudioFrame.create(SAMPLE_RATE, 1, FRAME_SAMPLES)
        # int16 views of the frames' own buffers: AEC3 works on them in place
        self._near_pcm = np.frombuffer(self._near_frame._data, dtype=np.int16)
        self._far_pcm = np.frombuffer(self._far_frame._data, dtype=np.int16)
        self.path = path or EchoPath()
        self._carry = 0  # input samples waiting for a whole frame
        self._in = np.zeros((2, FRAME_SAMPLES), dtype=np.float32)  # mic, far partial frame
        # outputs produced but not yet returned (always 160 - carry of them), per row:
        # cleaned, near_db
        self._pending = np.zeros((2, FRAME_SAMPLES), dtype=np.float32)
        self._pending[1] = np.inf
        self._scratch = np.empty(FRAME_SAMPLES, dtype=np.float32)
        self.near_db: Float32Array = np.zeros(0, dtype=np.float32)

    def process(self, mic: Float32Array, far: Float32Array) -> Float32Array:
        """``mic`` without the echo of ``far`` (both float32 16 kHz, same length)."""
        n = len(mic)
        if len(far) != n:
            raise ValueError(f"mic and far differ in length: {n} != {len(far)}")
        c = self._carry
        frames = (c + n) // FRAME_SAMPLES
        # rows: cleaned, near_db; starts with what the previous call produced
        out = np.empty((2, FRAME_SAMPLES - c + frames * FRAME_SAMPLES), dtype=np.float32)
        out[:, :FRAME_SAMPLES - c] = self._pending[:, c:]
        at, used = FRAME_SAMPLES - c, 0
        for _ in range(frames):
            take = FRAME_SAMPLES - c
            self._in[0, c:] = mic[used:used + take]
            self._in[1, c:] = far[used:used + take]
            used, c = used + take, 0
            self._frame(self._in[0], self._in[1], out[:, at:at + FRAME_SAMPLES])
            at += FRAME_SAMPLES
        rest = n - used
        self._in[0, c:c + rest] = mic[used:]
        self._in[1, c:c + rest] = far[used:]
        self._carry = c + rest
        self._pending[:, self._carry:] = out[:, n:]  # 160 - carry samples
        self.near_db = out[1, :n]
        return out[0, :n]

    def resume(self, lead: Float32Array) -> None:
        """Go on after input the caller passed by itself, delayed by the same latency
        (while nothing played this canceller would have returned it unchanged): ``lead``
        is that input's last :data:`LATENCY_SAMPLES`, which the caller has yet to output.
        The estimate and AEC3 keep their state; the skipped frames are a pause to them."""
        self._pending[0] = lead[-FRAME_SAMPLES:]
        self._pending[1] = np.inf
        self._carry = 0

    def _frame(self, mic: Float32Array, far: Float32Array, out: Float32Array) -> None:
        """One 10 ms frame into ``out`` rows (cleaned, near_db)."""
        near_db = self.path.push(_db(float(mic @ mic) / FRAME_SAMPLES),
                                 _db(float(far @ far) / FRAME_SAMPLES))
        _to_pcm(far, self._far_pcm, self._scratch)
        _to_pcm(mic, self._near_pcm, self._scratch)
        try:
            # Every frame goes through AEC3, echo or not, so its timeline never skips.
            self._apm.process_reverse_stream(self._far_frame)
            self._apm.process_stream(self._near_frame)
        except RuntimeError as exc:
            raise BackendError(f"echo canceller failed: {exc}", code="echo_error") from exc
        out[1] = near_db
        if math.isinf(near_db) and not self.denoise:
            out[0] = mic  # nothing to cancel: the microphone unchanged
        else:
            np.multiply(self._near_pcm, np.float32(1 / 32768), out=out[0])


def _to_pcm(x: Float32Array, pcm: Any, scratch: Float32Array) -> None:
    np.multiply(x, 32768.0, out=scratch)
    np.clip(scratch, -32768.0, 32767.0, out=scratch)
    pcm[:] = scratch


def _livekit() -> Any:
    try:
        from livekit import rtc
    except ImportError as exc:
        raise BackendError("echo cancellation needs livekit: pip install livekit") from exc
    return rtc


class EchoCancellers:
    """Many streams' :class:`EchoCanceller` by stream id, least recently used dropped
    past ``max_streams`` (a dropped stream starts over: new AEC3, path unknown)."""

    def __init__(self, *, max_streams: int = MAX_STREAMS, noise_suppression: bool = False,
                 high_pass_filter: bool = True) -> None:
        rtc = _livekit()
        self.max_streams = max_streams
        self.noise_suppression = noise_suppression
        self.high_pass_filter = high_pass_filter
        self._streams: OrderedDict[str, EchoCanceller] = OrderedDict()
        version = getattr(rtc, "__version__", "")
        self.name = f"WebRTC AEC3 (livekit {version})".replace(" )", ")")
        self.latency_samples = LATENCY_SAMPLES

    def get(self, stream_id: str, denoise: bool | None = None) -> EchoCanceller:
        """The stream's canceller, created on first use (its ``near_db`` lives here);
        ``denoise`` (None: as it is): with noise suppression or not (a change starts the
        stream over)."""
        canceller = self._streams.get(stream_id)
        if canceller is None or (denoise is not None and canceller.denoise != denoise):
            canceller = self._streams[stream_id] = self._new(
                self.noise_suppression if denoise is None else denoise)
            while len(self._streams) > self.max_streams:
                self._streams.popitem(last=False)
        self._streams.move_to_end(stream_id)
        return canceller

    def process(self, stream_id: str, mic: Float32Array, far: Float32Array,
                lead: Float32Array | None = None, denoise: bool = False) -> Float32Array:
        """:meth:`EchoCanceller.process` on the stream, after :meth:`EchoCanceller.resume`
        with ``lead`` if given; its gate values are then in ``get(stream_id).near_db``.
        ``denoise``: with noise suppression (the server's default or the session's)."""
        canceller = self.get(stream_id, denoise or self.noise_suppression)
        if lead is not None:
            canceller.resume(lead)
        return canceller.process(mic, far)

    def close(self, stream_id: str) -> None:
        self._streams.pop(stream_id, None)

    def warmup(self) -> None:
        silence = np.zeros(4 * FRAME_SAMPLES, dtype=np.float32)
        self._new(self.noise_suppression).process(silence, silence)

    def _new(self, denoise: bool = False) -> EchoCanceller:
        return EchoCanceller(noise_suppression=denoise,
                             high_pass_filter=self.high_pass_filter)
