"""Generated model output → chunker → speech text → Piper's phonemizer (and synthesis).

Run in a subprocess by ``test_tts_fuzz.py``: a segfault in espeak-ng must fail the test, not
kill pytest. Deterministic for a given seed. Prints one JSON line of counts at the end; the
piece being phonemized is kept in ``--trace`` so a crash can be reported with its input.

    python tests/e2e/tts_fuzz_worker.py --cases 10000 --seed 10          # phonemize all
    python tests/e2e/tts_fuzz_worker.py --cases 10000 --synthesize 200   # synthesize some
    python tests/e2e/tts_fuzz_worker.py --raw "K.R.T.R.T."   # no normaliser: the bare phonemizer
"""

# ruff: noqa: RUF001  (look-alike characters are this module's input)

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import string
import time
from collections.abc import Callable, Iterator
from typing import Any

from openrealtime.runtime.chunker import LATER_MAX_CHARS, ClauseChunker
from openrealtime.runtime.speakable import (
    MAX_PIECE_CHARS,
    MAX_SPOKEN_CHARS,
    MAX_TOKEN_CHARS,
    SPOKEN_CHARS,
    SpeechText,
)

REPRO = "K." + "R.T." * 50  # what crashed the server (the phonemizer segfaults on it)
FIXED = [
    REPRO, "K." + "R.T." * 40, "K." + "R.T." * 60, "K." + "R.T." * 200, "A." * 100, "a." * 150,
    "a phrase coined by writer K." + "R.T." * 80 + " in 1999.", "K.R.T." * 500,
    "x" * 5000, "1" * 3000, "1." * 500, "😀" * 300, "e" + "\u0301" * 2000, "\ud800" * 10,
]
WORDS = ("the of and to a in is you that it he was for on are as with his they I at be this have "
         "from or one had by word but not what all were we when your can said there use an each "
         "which she do how their if will up other about out many then them these so").split()
EMOJI = ["😀", "🎉", "👍🏽", "🇺🇸", "👨‍👩‍👧‍👦", "❤️", "🔥", "✅", "🤖", "🙏🏿", "⭐", "\u2063"]
SYMBOLS = "°%$€£¥₹&+=×~±≈≤≥≠→<>|\\^*#@!?.,;:-_/()[]{}\"'`…—–•·¶§©®™℃µ²½"
CODE_LINES = ["def f(x):", "    return x ** 2 + 1", "print('hi')", "for i in range(10):",
              "x = {'a': [1, 2, 3]}", "if (a && b || !c) { return; }",
              "SELECT * FROM t WHERE id = 1;", "#include <stdio.h>", "a->b = c;"]
TLDS = ["com", "org", "io", "co.uk", "dev", "ai", "xyz", "museum", "internal"]


def size(rng: random.Random, low: int, high: int) -> int:
    """Mostly short, one time in ten up to ``high``: long inputs are costly to phonemize."""
    return rng.randint(low, high if rng.random() < 0.1 else max(low, high // 10))


def words(rng: random.Random, low: int = 1, high: int = 12) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high)))


def random_unicode(rng: random.Random) -> str:
    ranges = [(0x20, 0x7E), (0x00, 0x1F), (0x80, 0x24F), (0x300, 0x36F), (0x370, 0x3FF),
              (0x400, 0x4FF), (0x590, 0x6FF), (0x900, 0x97F), (0x2000, 0x206F), (0x20A0, 0x20CF),
              (0x2100, 0x22FF), (0x3000, 0x30FF), (0x4E00, 0x4FFF), (0xD800, 0xDFFF),
              (0xE000, 0xE0FF), (0xFE00, 0xFE0F), (0xFF00, 0xFFEF), (0xFFF0, 0xFFFF),
              (0x1F300, 0x1FAFF), (0x1D400, 0x1D7FF), (0xE0000, 0xE007F), (0x10000, 0x10FFFF)]
    out = []
    for _ in range(size(rng, 1, 1000)):
        low, high = rng.choice(ranges)
        out.append(chr(rng.randint(low, high)))
    return "".join(out)


def acronym_chain(rng: random.Random) -> str:
    letters = string.ascii_letters if rng.random() < 0.3 else string.ascii_uppercase
    sep = rng.choice([".", ". ", ".", "", " ", "-", "_", ".."])
    chain = sep.join(rng.choice(letters) for _ in range(size(rng, 2, 1000)))
    return f"{words(rng, 0, 6)} {chain}{rng.choice(['', '.', '…', ' and more.'])}"


def long_token(rng: random.Random) -> str:
    length = size(rng, 20, 4000)
    kind = rng.randrange(4)
    if kind == 0:
        token = rng.choice(string.ascii_letters) * length
    elif kind == 1:
        token = "".join(rng.choice(string.ascii_lowercase) for _ in range(length))
    elif kind == 2:
        token = "".join(rng.choice(string.printable.strip()) for _ in range(length))
    else:
        bits = ["ab", "cD", "12", "_x", "-y", "'s", ".z"]
        token = "".join(rng.choice(bits) for _ in range(length // 2))
    return f"{words(rng, 0, 4)} {token} {words(rng, 0, 4)}"


def url(rng: random.Random) -> str:
    host = ".".join("".join(rng.choice(string.ascii_lowercase + "-0")
                            for _ in range(rng.randint(1, 70))) for _ in range(rng.randint(1, 8)))
    path = "/".join("".join(rng.choice(string.ascii_letters + "%._~0")
                            for _ in range(rng.randint(0, 40))) for _ in range(size(rng, 0, 30)))
    scheme = rng.choice(["https://", "http://", "www.", "", "ftp://", "https://user:pw@"])
    query = rng.choice(["", "?q=1&x=2", "#frag", "?" + "a=b&" * rng.randint(1, 100)])
    mail = f"{words(rng, 1, 1)}.{words(rng, 1, 1)}+{rng.randint(0, 99)}@{host}.{rng.choice(TLDS)}"
    return (f"See {scheme}{host}.{rng.choice(TLDS)}/{path}{query}{rng.choice(['.', ')', ''])} "
            f"or mail {mail}.")


def digits(rng: random.Random) -> str:
    parts = [
        "".join(rng.choice(string.digits) for _ in range(size(rng, 1, 3000))),
        f"{rng.randint(0, 10**12):,}",
        f"{rng.random() * 10**rng.randint(0, 15):.{rng.randint(0, 20)}f}",
        ".".join(str(rng.randint(0, 999)) for _ in range(size(rng, 2, 500))),
        f"{rng.randint(0, 9999)}-{rng.randint(0, 99):02d}-{rng.randint(0, 99):02d}",
        f"{rng.randint(0, 99)}:{rng.randint(0, 99):02d}",
        f"{rng.randint(1, 999)}{rng.choice(['st', 'nd', 'rd', 'th'])}",
        "-" + str(rng.randint(0, 10**6)),
        f"{rng.randint(0, 999)}-{rng.randint(0, 999)}-{rng.randint(0, 9999)}",
        ":".join(str(rng.randint(0, 99)) for _ in range(size(rng, 2, 200))),
        ",".join(str(rng.randint(0, 999)) for _ in range(size(rng, 2, 300))),
    ]
    rng.shuffle(parts)
    return " ".join(parts[: rng.randint(1, len(parts))])


def symbols(rng: random.Random) -> str:
    out = []
    for _ in range(size(rng, 1, 100)):
        run = "".join(rng.choice(SYMBOLS) for _ in range(rng.randint(1, 30)))
        out.append(rng.choice([run, f"{rng.randint(0, 999)}{run}", f"{run}{rng.randint(0, 99)}",
                               f"{rng.choice(SYMBOLS)}{rng.uniform(0, 1e6):.2f}",
                               words(rng, 1, 2)]))
    return rng.choice(["", " "]).join(out)


def emoji(rng: random.Random) -> str:
    return " ".join(rng.choice([words(rng, 1, 3), "".join(rng.choices(EMOJI, k=size(rng, 1, 300)))])
                    for _ in range(rng.randint(1, 10)))


def markdown(rng: random.Random) -> str:
    lines = []
    for _ in range(size(rng, 1, 40)):
        w = words(rng, 1, 8)
        lines.append(rng.choice([
            f"{'#' * rng.randint(1, 8)} {w}", f"- {w}", f"* **{w}**", f"{rng.randint(1, 99)}. {w}",
            f"| {w} | {w} |", "|---|:---:|", "---", f"> {w}", f"[{w}](https://example.com/{w})",
            f"![{w}](img.png)", f"_{w}_ and *{w}*", f"<b>{w}</b><br/>", f"~~{w}~~",
            "=" * rng.randint(3, 80),
            "*" * rng.randint(1, 200), "[" * rng.randint(1, 50) + w + "]" * rng.randint(1, 50)]))
    return "\n".join(lines)


def code(rng: random.Random) -> str:
    body = "\n".join(rng.choice(CODE_LINES) for _ in range(size(rng, 1, 60)))
    fence = rng.choice(["```", "```python", "~~~", "```js"])
    closing = rng.choice(["```", "~~~", ""])
    return rng.choice([f"Here:\n{fence}\n{body}\n{closing}\nDone.",
                       f"Use `{body.splitlines()[0]}` and `x` then {words(rng)}.",
                       f"{words(rng)} `{'`' * rng.randint(1, 9)}` {body}"])


def blob(rng: random.Random) -> str:
    data = rng.randbytes(size(rng, 1, 3000))
    token = rng.choice([base64.b64encode(data).decode(), base64.urlsafe_b64encode(data).decode(),
                        data.hex(), base64.b32encode(data).decode()])
    return f"{words(rng, 0, 5)} {token} {words(rng, 0, 5)}"


MAKERS: list[Callable[[random.Random], str]] = [
    random_unicode, acronym_chain, long_token, url, digits, symbols, emoji, markdown, code, blob]


def mixture(rng: random.Random) -> str:
    return " ".join(rng.choice(MAKERS)(rng) if rng.random() < 0.5 else words(rng)
                    for _ in range(rng.randint(2, 4)))


def cases(count: int, seed: int) -> Iterator[str]:
    """``count`` strings: the fixed nasty ones, then each generator in turn, deterministically."""
    rng = random.Random(seed)
    makers = [*MAKERS, mixture]
    for index in range(count):
        yield FIXED[index] if index < len(FIXED) else makers[index % len(makers)](rng)


def clauses_of(text: str, rng: random.Random) -> list[str]:
    """The text streamed through the chunker in deltas of 1 to 16 characters (LLM tokens)."""
    chunker = ClauseChunker()
    out: list[str] = []
    position = 0
    while position < len(text):
        step = rng.randint(1, 16)
        out += chunker.push(text[position:position + step])
        position += step
    return out + chunker.flush()


def check(piece: str) -> None:
    assert 0 < len(piece) <= MAX_PIECE_CHARS, piece
    assert set(piece) <= SPOKEN_CHARS, ascii(piece)
    assert all(len(token) <= MAX_TOKEN_CHARS + 1 for token in piece.split()), piece  # + its mark


class Trace:
    """The input being handed to espeak right now, in a file that survives a segfault."""

    def __init__(self, path: str | None) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC) if path else None

    def __call__(self, text: str) -> None:
        if self.fd is not None:
            data = ascii(text).encode()
            os.pwrite(self.fd, data, 0)
            os.ftruncate(self.fd, len(data))


def load_voice() -> Any:
    from piper import PiperVoice

    from openrealtime.backends.local.piper import bundled_voice_paths

    model, config = bundled_voice_paths()
    return PiperVoice.load(str(model), config_path=str(config))


def phonemize_all(count: int, seed: int, trace: Trace) -> dict[str, Any]:
    """Every piece of every case through the phonemizer (espeak-ng: where the segfaults are)."""
    voice = load_voice()
    rng = random.Random(seed + 1)
    counts = {"cases": 0, "clauses": 0, "pieces": 0}
    normalise_s = phonemize_s = 0.0
    for text in cases(count, seed):
        clauses = clauses_of(text, rng)
        speech = SpeechText()
        for clause in clauses:
            assert len(clause) <= LATER_MAX_CHARS, len(clause)
            started = time.perf_counter()
            pieces = speech.pieces(clause)
            normalise_s += time.perf_counter() - started
            assert sum(len(p) for p in pieces) <= MAX_SPOKEN_CHARS
            for piece in pieces:
                check(piece)
                trace(piece)
                started = time.perf_counter()
                voice.phonemize(piece)
                phonemize_s += time.perf_counter() - started
            counts["pieces"] += len(pieces)
        counts["cases"] += 1
        counts["clauses"] += len(clauses)
    return {**counts, "normalise_us_per_clause": round(1e6 * normalise_s / counts["clauses"], 1),
            "phonemize_s": round(phonemize_s, 2)}


def synthesize_some(count: int, wanted: int, seed: int, trace: Trace) -> dict[str, Any]:
    """Full synthesis (espeak-ng, phoneme ids, the ONNX voice) for ``wanted`` of the cases.

    Audio costs about a seventh of real time on two cores, so most syntheses take the first
    two words of a case's first piece (itself a valid normaliser output); every 50th takes
    the whole piece (up to MAX_PIECE_CHARS: the longest input the voice is ever given).
    """
    from piper import SynthesisConfig

    voice = load_voice()
    rng = random.Random(seed + 1)
    every = max(1, count // wanted)
    counts = {"synthesized": 0, "whole_pieces": 0, "audio_s": 0.0}
    for index, text in enumerate(cases(count, seed)):
        clauses = clauses_of(text, rng)  # for every case, so the random stream matches
        if index < every * counts["synthesized"] or counts["synthesized"] >= wanted:
            continue
        pieces = [p for clause in clauses[:3] for p in SpeechText().pieces(clause)][:1]
        if not pieces:
            continue  # nothing to say: the next case takes its turn
        whole = counts["synthesized"] % 50 == 0
        piece = pieces[0] if whole else " ".join(pieces[0].split()[:2])
        check(piece)
        trace(piece)
        for chunk in voice.synthesize(piece, syn_config=SynthesisConfig()):
            counts["audio_s"] += len(chunk.audio_int16_array) / voice.config.sample_rate
        counts["synthesized"] += 1
        counts["whole_pieces"] += whole
    return {**counts, "audio_s": round(counts["audio_s"], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--synthesize", type=int, default=0,
                        help="synthesize the first clause of this many cases instead")
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--trace", help="file that holds the piece being phonemized")
    parser.add_argument("--raw", help="phonemize this text as is (no normaliser) and exit")
    args = parser.parse_args()
    if args.raw is not None:
        load_voice().phonemize(args.raw)
        print(json.dumps({"raw": len(args.raw)}))
        return
    started = time.perf_counter()
    trace = Trace(args.trace)
    if args.synthesize:
        result = synthesize_some(args.cases, args.synthesize, args.seed, trace)
    else:
        result = phonemize_all(args.cases, args.seed, trace)
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
