"""Barge-in while the echo path is still unknown. Prints figures, asserts nothing.

The echo canceller learns whether (and how) the reply comes back into the microphone
during the first 0.5-2 s of a stream's first reply. A user who talks in that time
meets the worst case: AEC3 has not converged and the gate assumes an echo as loud as
the reply. This replays it without a server, on the same code path the server runs
(``EchoCanceller`` then Silero, a window starting speech where p >= 0.5 and the gate
is open): a Piper or espeak-ng reply as the far end, and

- **barge-ins without any echo** (a headset, or a client that cancels echo itself):
  three speakers, at the reply's level and 10 dB below, starting 0-1 s after the
  reply: how many start speech, and how late after their onset;
- **barge-ins over the echo** (the reply back at -12 dB, 120 ms late, as in the
  end-to-end test): how many start speech, how late, and whether the echo path, learnt
  while the user talks over the reply, is then taken for "absent" (the gate off);
- **echo only** (-12/-6/0 dB, 50-400 ms late, room noise): false starts.

``--unknown-gain-db`` changes the gate's assumption while the path is unknown.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.voices import espeak, piper

from openrealtime.audio import resample
from openrealtime.backends.local.echo import GATE_DB, UNKNOWN_GAIN_DB, EchoCanceller, EchoPath
from openrealtime.backends.local.silero import SileroVAD

RATE = 16_000
WINDOW = 512
REPLIES = ("The capital of France is Paris. It is known for the Eiffel tower, fine food, "
           "museums and a long history of art and culture.",
           "Here are five fruits: apples, bananas, oranges, grapes and mangoes. Each of "
           "them is rich in vitamins.")


def starts(vad: SileroVAD, mic: np.ndarray, far: np.ndarray, unknown_gain_db: float,
           states: list[str] | None = None) -> np.ndarray:
    """Per VAD window: would it start speech? (``states`` gets the path's last state.)"""
    path = EchoPath(unknown_gain_db=unknown_gain_db)
    canceller = EchoCanceller(path=path)
    out, gate = [], []
    for at in range(0, len(mic), 480):  # the client's 20 ms frames at 24 kHz
        out.append(canceller.process(mic[at:at + 480], far[at:at + 480]))
        gate.append(canceller.near_db.copy())
    if states is not None:
        states.append(path.state)
    cleaned, near_db = np.concatenate(out), np.minimum(np.concatenate(gate), 60.0)
    stream = vad.stream()
    windows = len(cleaned) // WINDOW
    return np.array([stream.probability(cleaned[w * WINDOW:(w + 1) * WINDOW]) >= 0.5
                     and float(near_db[w * WINDOW:(w + 1) * WINDOW].mean()) >= GATE_DB
                     for w in range(windows)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--unknown-gain-db", type=float, default=UNKNOWN_GAIN_DB)
    args = parser.parse_args()
    vad = SileroVAD()
    rng = np.random.default_rng(0)
    to16 = lambda x: resample(x, 24000, RATE).astype(np.float32)  # noqa: E731
    replies = [to16(piper(REPLIES[0])), to16(espeak(REPLIES[1], "en-gb"))]
    questions = [to16(espeak("List five fruits.", "en-us")),
                 to16(espeak("Stop, tell me about Rome.", "en-gb-scotland")),
                 to16(piper("What does NASA stand for?"))]
    heard, late, tried, false, echoes = 0, [], 0, 0, 0
    over_heard, over_late, over_tried, absent = 0, [], 0, 0
    for reply in replies:
        total = len(reply) + 2 * RATE
        far = np.zeros(total, np.float32)
        far[:len(reply)] = reply
        noise = rng.normal(0, 10 ** (-55 / 20), total).astype(np.float32)
        for after_s in (0.0, 0.3, 0.6, 1.0):
            for question in questions:
                for level_db in (0, -10):
                    mic = noise.copy()
                    at = int(after_s * RATE)
                    mic[at:at + len(question)] += question[:total - at] * 10 ** (level_db / 20)
                    onset = at + int(np.flatnonzero(np.abs(question) > 0.01)[0])
                    opened = np.flatnonzero(starts(vad, mic, far, args.unknown_gain_db))
                    opened = opened[(opened + 1) * WINDOW > onset]
                    tried += 1
                    if len(opened):
                        heard += 1
                        late.append(((opened[0] + 1) * WINDOW - onset) / RATE * 1000)
        echo = np.zeros(total, np.float32)
        echo[int(0.12 * RATE):] = far[:total - int(0.12 * RATE)] * 10 ** (-12 / 20)
        for after_s in (0.3, 0.6, 1.0):
            for question in questions:
                for level_db in (0, -10):
                    mic = noise + echo
                    at = int(after_s * RATE)
                    mic[at:at + len(question)] += question[:total - at] * 10 ** (level_db / 20)
                    onset = at + int(np.flatnonzero(np.abs(question) > 0.01)[0])
                    states: list[str] = []
                    opened = np.flatnonzero(starts(vad, mic, far, args.unknown_gain_db,
                                                   states))
                    opened = opened[(opened + 1) * WINDOW > onset]
                    over_tried += 1
                    absent += states[-1] == "absent"
                    if len(opened):
                        over_heard += 1
                        over_late.append(((opened[0] + 1) * WINDOW - onset) / RATE * 1000)
        for gain_db in (-12, -6, 0):
            for delay_s in (0.05, 0.15, 0.4):
                mic = noise.copy()
                delay = int(delay_s * RATE)
                mic[delay:] += far[:total - delay] * 10 ** (gain_db / 20)
                echoes += 1
                false += bool(starts(vad, mic, far, args.unknown_gain_db).any())
    p50 = f"{statistics.median(late):.0f} ms" if late else "-"
    over = (f"p50 {statistics.median(over_late):.0f} ms, p95 "
            f"{np.percentile(over_late, 95):.0f} ms" if over_late else "-")
    print(f"unknown-path gain {args.unknown_gain_db:+.0f} dB")
    print(f"barge-ins without echo in the first second of a first reply: {heard}/{tried} "
          f"started speech, onset -> start p50 {p50}")
    print(f"barge-ins over a -12 dB echo in the first second: {over_heard}/{over_tried} "
          f"started speech, onset -> start {over}; echo path then taken for absent: "
          f"{absent}/{over_tried}")
    print(f"echo only: {false}/{echoes} replies with a false start")


if __name__ == "__main__":
    main()
