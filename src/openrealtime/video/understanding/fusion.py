"""What is said, checked against what is shown (issue 15).

Two steps. Before transcription, the on-screen text of a shot primes Whisper for that
shot's speech (:func:`screen_words`, used by the streaming pass). After it,
:func:`reconcile` looks in every speech segment for a word, or two or three words, that
sound or look like a word on screen in the same shot, and writes the on-screen spelling,
keeping both readings as evidence in the segment's ``fused`` list::

    {"word_index": 4, "heard": "Salvin.", "shown": "Solvane", "ocr_index": 13,
     "score": 1.0, "source": "screen+speech"}

A spoken word equal to the on-screen one is recorded too (``heard == shown``): two
sources agree. Only on-screen words of four or more letters, without digits and not
common function words, are candidates, and a spoken word that is an inflection of the
on-screen one ("feature" / "features") is left alone.

Similarity (:func:`similarity`) is the larger of two ratios ``1 - distance / length``:
on the letters, and on a phonetic key (consonant classes, vowels dropped; see
:func:`phonetic`). A match needs letters >= 0.75 (one wrong letter in four: "Taslin" /
"Tazlin" 0.83), or sound >= 0.75 with letters >= 0.4 (Whisper writes a name it does not
know as words it knows: "Murray Mix" / "Mirabex": letters 0.44, sound 0.75; "Salvin" /
"Solvane": 0.57, 1.0). On the 10-scene bench video the wrong readings scored 0.75-1.0
and no other pair of a spoken and an on-screen word of the same shot passed.
"""

from __future__ import annotations

import re
from typing import Any

from .ocr import TextTrack
from .summary import STOP

MIN_SHOWN = 4  # letters an on-screen word needs to be a candidate
SPELLING_MIN = 0.75
SOUND_MIN, SOUND_SPELLING_MIN = 0.75, 0.4
MAX_PHRASE = 3  # spoken words that may stand for one on-screen word
MAX_PROMPT_WORDS = 40
SUFFIXES = ("s", "es", "ed", "d", "ing", "er", "ers", "ly")
# Number words count as digits: Whisper writes "Feature 7" or "Feature seven" depending on
# the window, and "seven" sounds like "Solvane" (s-v-n) without being a name.
NUMBERS = frozenset(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy "
    "eighty ninety hundred thousand million first second third fourth fifth sixth seventh "
    "eighth ninth tenth".split())


def _skip(word: str) -> bool:
    """A spoken word that is never part of a mishearing: a function word, a number."""
    w = norm(word)
    return not w or w in STOP or w in NUMBERS or any(c.isdigit() for c in w)


def _shown(word: str) -> bool:
    """An on-screen word that spoken words may be corrected to."""
    return len(word) >= MIN_SHOWN and word.lower() not in STOP and word.lower() not in NUMBERS


def screen_words(track: TextTrack, shot_index: int) -> str:
    """The on-screen text of a shot as a Whisper prompt ("" when nothing was read)."""
    texts = dict.fromkeys(i.text for i in track.items if i.shot_index == shot_index)
    words = " , ".join(texts).split()
    return " ".join(_prompt_word(w) for w in words[:MAX_PROMPT_WORDS]).replace(" ,", ",")


LOOSE_SPELLING = 0.5  # letters similarity of a mishearing too far off for reconcile()
_WORD = r"[^\W\d_]+(?:['\u2019][^\W\d_]+)?"


def needs_priming(heard: list[str], screen: str) -> bool:
    """Whether speech transcribed as ``heard`` (its words, in order) should be transcribed
    again primed with ``screen``, its shot's on-screen text.

    Priming costs a Whisper window per shot, so the pass first transcribes unprimed and
    primes only a shot where an on-screen word was heard as something that looks like it
    (letters >= :data:`LOOSE_SPELLING`) but that :func:`reconcile` cannot correct: "norm
    X" for "Zorvex". A word heard right, or close enough for :func:`matches`, is fixed by
    :func:`reconcile` afterwards; a word that was not said at all needs nothing."""
    shown = [w for w in re.findall(_WORD, screen) if _shown(w)]
    phrases = []
    for i in range(len(heard)):
        for j in range(i + 1, min(i + MAX_PHRASE, len(heard)) + 1):
            part = heard[i:j]
            if any(_skip(p) for p in part):
                break
            phrases.append(norm("".join(part)))
    for word in shown:
        b = norm(word)
        if any(matches(a, word) > 0 or _inflection(a, b) for a in phrases):
            continue
        if any(similarity(a, b)[0] >= LOOSE_SPELLING for a in phrases):
            return True
    return False


def _inflection(a: str, b: str) -> bool:
    short, long_ = sorted((a, b), key=len)
    return long_.startswith(short) and long_[len(short):] in SUFFIXES


def _prompt_word(word: str) -> str:
    """Whisper copies the prompt's style: a caption in capitals ("FEATURE3") would come
    back in capitals, glued to its number. Long all-capital words are written as names
    ("Feature 3"); short ones (API, TV) stay as they are."""
    word = re.sub(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])", " ", word)
    return " ".join(w.capitalize() if w.isupper() and sum(c.isalpha() for c in w) >= 4 else w
                    for w in word.split())


def norm(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", text.lower())


_CLASSES = {**dict.fromkeys("bfpv", "1"), **dict.fromkeys("cgjkqsxz", "2"),
            **dict.fromkeys("dt", "3"), "l": "4", **dict.fromkeys("mn", "5"), "r": "6"}


def phonetic(word: str) -> str:
    """A Soundex-like key without its length cap: consonant classes in order, a repeat
    collapsed unless a vowel separates it, vowels (and h, w, y) dropped. "ph" sounds f."""
    word = norm(word).replace("ph", "f").replace("ck", "k")
    out, last = [], ""
    for ch in word:
        code = _CLASSES.get(ch, "")
        if code and code != last:
            out.append(code)
        last = code if ch not in "hw" else last
    return "".join(out)


def _distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def _ratio(a: str, b: str) -> float:
    return 1.0 - _distance(a, b) / max(len(a), len(b), 1)


def similarity(heard: str, shown: str) -> tuple[float, float]:
    """(letters, sound) similarity of two words, each in [0, 1]."""
    a, b = norm(heard), norm(shown)
    pa, pb = phonetic(a), phonetic(b)
    sound = _ratio(pa, pb) if len(pa) >= 2 and len(pb) >= 2 else 0.0
    return _ratio(a, b), sound


def matches(heard: str, shown: str) -> float:
    """A score > 0 when ``heard`` may be a mishearing of ``shown`` (1.0: the same word)."""
    a, b = norm(heard), norm(shown)
    if len(a) < 3 or not b:
        return 0.0
    if a == b:
        return 1.0
    short, long_ = sorted((a, b), key=len)
    if long_.startswith(short) and long_[len(short):] in SUFFIXES:
        return 0.0  # another form of the same word, not a mishearing
    letters, sound = similarity(a, b)
    if letters >= SPELLING_MIN:
        return max(letters, sound)
    if sound >= SOUND_MIN and letters >= SOUND_SPELLING_MIN:
        return sound
    return 0.0


def _candidates(brief: dict[str, Any], shot_index: int) -> list[tuple[str, int]]:
    """(on-screen word, ocr index) of a shot that a spoken word may be corrected to."""
    out = []
    for k, item in enumerate(brief["ocr"]):
        if item["shot_index"] != shot_index:
            continue
        for word in re.findall(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)?", item["text"]):
            if _shown(word):
                out.append((word, k))
    return out


def _shot_of(brief: dict[str, Any], t: float) -> int | None:
    shot = None
    for s in brief["shots"]:
        if s["start_s"] <= t:
            shot = s["index"]
    return shot


def reconcile(brief: dict[str, Any]) -> int:
    """Correct spoken words to their on-screen spelling in ``brief`` (in place).

    Returns how many words were changed. Each segment gets a ``fused`` list (only when
    something matched) and its ``text`` is rebuilt from its words.
    """
    changed = 0
    for seg in brief["transcript"]["segments"]:
        words = seg["words"]
        spans: list[tuple[float, int, int, str, int]] = []  # score, i, j, shown, ocr index
        for i in range(len(words)):
            shot = _shot_of(brief, (words[i]["start_s"] + words[i]["end_s"]) / 2)
            if shot is None:
                continue
            shown = _candidates(brief, shot)
            for j in range(i + 1, min(i + MAX_PHRASE, len(words)) + 1):
                part = [w["word"] for w in words[i:j]]
                if any(_skip(p) for p in part):
                    break
                heard = "".join(part)
                for word, k in shown:
                    if (score := matches(heard, word)) > 0:
                        spans.append((score, i, j, word, k))
        taken: set[int] = set()
        chosen = []
        # best first; at equal score the shorter phrase (fewer words replaced)
        for score, i, j, word, k in sorted(spans, key=lambda s: (-s[0], s[2] - s[1], s[1])):
            if taken.isdisjoint(range(i, j)):
                taken.update(range(i, j))
                chosen.append((i, j, word, k, score))
        if not chosen:
            continue
        fused, shift = [], 0
        for i, j, word, k, score in sorted(chosen):
            i, j = i - shift, j - shift  # earlier phrases became one word each
            shift += j - i - 1
            heard = " ".join(w["word"] for w in words[i:j])
            if j - i == 1 and norm(heard) == norm(word) and not (
                    heard.islower() and word[:1].isupper() and not word.isupper()):
                # the same word: the transcript's casing stands ("Feature" for FEATURE),
                # but a name shown capitalized ("Pexaro") is not written "pexaro"
                spelled = heard
            else:
                trail = re.search(r"[.,;:!?]*$", words[j - 1]["word"].rstrip("\"'\u2019"))
                spelled = word + (trail.group() if trail else "")
                changed += 1
            words[i:j] = [{"word": spelled, "start_s": words[i]["start_s"],
                           "end_s": words[j - 1]["end_s"]}]
            fused.append({"word_index": i, "heard": heard.strip(".,;:!?\"'"), "shown": word, "ocr_index": k,
                          "score": round(score, 3), "source": "screen+speech"})
        seg["fused"] = fused
        seg["text"] = " ".join(w["word"] for w in words)
    return changed

