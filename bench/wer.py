"""Word error rate of speech recognition on voices the tests do not use. Prints figures.

40 sentences of the kind users say to a voice assistant, spoken by espeak-ng voices that
no test speaks with (``en-gb-x-rp``, ``en-029``, ``en-gb-x-gbclan``, ``en-gb-x-gbcwmd``,
``en-us+f3``), each utterance transcribed alone, as a turn is. WER = (substitutions +
deletions + insertions) / reference words, after lower-casing, dropping punctuation and
spelling numbers as digits.

The model is the embedded Whisper tiny.en unless ``--stt-model`` names another
(a faster-whisper size or directory: where the machine can download one) or ``--stt-url``
a server's ``/v1/audio/transcriptions`` (``--stt-url`` of a running OpenRealtime,
speaches...). ``--compare`` takes a second ``--stt-model`` measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.voices import espeak  # noqa: E402

from openrealtime.audio import resample  # noqa: E402

VOICES = ("en-gb-x-rp", "en-029", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-us+f3")
SENTENCES = [
    "Set a timer for ten minutes.", "What's the weather like in Berlin tomorrow?",
    "Remind me to call my mother at six.", "How do I reset my password?",
    "Play some relaxing music.", "Book a table for two at seven thirty.",
    "What time does the pharmacy close?", "Turn off the lights in the kitchen.",
    "How many ounces are in a pound?", "Translate good morning into Spanish.",
    "My internet connection keeps dropping.", "I would like to cancel my order.",
    "Can you spell the word necessary?", "Where is the nearest train station?",
    "Add milk and eggs to my shopping list.", "What is the square root of eighty one?",
    "Tell me the latest news about football.", "I need a taxi to the airport.",
    "How long should I boil pasta?", "What is the phone number of the dentist?",
    "Send a message to Anna saying I am late.", "Is it going to rain this afternoon?",
    "Which planet is closest to the sun?", "Wake me up at half past seven.",
    "How far is it from London to Paris?", "My package has not arrived yet.",
    "What does photosynthesis mean?", "Please repeat that more slowly.",
    "I want to change my delivery address.", "Who won the world cup in two thousand ten?",
    "Schedule a meeting with the design team on Friday.", "How do I make pancakes?",
    "What is the capital of Australia?", "Read me my last email.",
    "Convert fifty dollars to euros.", "The printer says the paper is jammed.",
    "How many calories are in an apple?", "Find a vegetarian restaurant nearby.",
    "What year did the Berlin wall fall?", "Thank you, that is all for today.",
]
_NUMBERS = {"zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
            "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10"}


def words(text: str) -> list[str]:
    text = re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " "))
    return [_NUMBERS.get(w, w) for w in text.split()]


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


async def measure(stt: object, clips: list[tuple[str, str, np.ndarray]]) -> dict[str, float]:
    errors: dict[str, int] = {}
    totals: dict[str, int] = {}
    seconds = 0.0
    for text, voice, audio in clips:
        started = time.perf_counter()
        result = await stt.transcribe(audio)  # type: ignore[attr-defined]
        seconds += time.perf_counter() - started
        ref = words(text)
        errors[voice] = errors.get(voice, 0) + edit_distance(ref, words(result.text))
        totals[voice] = totals.get(voice, 0) + len(ref)
    out = {voice: 100 * errors[voice] / totals[voice] for voice in totals}
    out["all"] = 100 * sum(errors.values()) / sum(totals.values())
    out["ms_per_utterance"] = 1000 * seconds / len(clips)
    return out


def load(model: str | None, url: str | None) -> object:
    if url:
        from openrealtime.backends.remote.openai_audio import RemoteSTT

        return RemoteSTT(url, model or "whisper-1")
    from openrealtime.backends.local.whisper import WhisperSTT
    from openrealtime.backends.models import whisper_model

    return WhisperSTT(whisper_model(model) if model else None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stt-model")
    parser.add_argument("--stt-url")
    parser.add_argument("--compare", metavar="STT_MODEL")
    parser.add_argument("--sentences", type=int, default=len(SENTENCES))
    args = parser.parse_args()
    if shutil.which("espeak-ng") is None:
        sys.exit("bench/wer.py needs espeak-ng (Debian package espeak-ng)")
    clips = [(text, voice, resample(espeak(text, voice), 24000, 16000))
             for i, text in enumerate(SENTENCES[:args.sentences])
             for voice in (VOICES[i % len(VOICES)],)]
    models = [(args.stt_url or args.stt_model or "Whisper tiny.en (embedded)",
               load(args.stt_model, args.stt_url))]
    if args.compare:
        models.append((args.compare, load(args.compare, None)))
    print(f"{len(clips)} utterances, voices {', '.join(VOICES)}")
    for name, stt in models:
        figures = asyncio.run(measure(stt, clips))
        per_voice = "  ".join(f"{v} {figures[v]:.1f}%" for v in VOICES if v in figures)
        print(f"{name}: WER {figures['all']:.1f}%  ({per_voice}); "
              f"{figures['ms_per_utterance']:.0f} ms per utterance")


if __name__ == "__main__":
    main()
