"""Chapters, topic and key points: the language model words them, the data grounds them.

The offline default (SmolLM2-135M) is weak, so its job is kept small: one short title
for the whole video and one sentence per chapter. It never sees or writes a timestamp;
every time and citation comes from the chapter's sources. An answer that is empty,
too long, shares no content word with its source or brings digits the source lacks is
replaced by an extractive one (the chapter's longest sentence). Without a model
(``--no-llm``) or when it fails, everything is extractive and deterministic.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import Counter
from typing import Any

from .event import screen_evidence, shot_evidence, words_evidence

MIN_CHAPTER_S = 10.0  # YouTube's minimum chapter length
MAX_CHAPTERS = 12
STOP = set("""a an the and or but of to in on at for with by from is are was were be been am
it its this that these those as i you he she we they my your our their me him her them not no
so if then than too very can will just do does did have has had there here what which who how
all any some more most other into over about up down out off again also only own same such
""".split())

def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def content_words(text: str) -> set[str]:
    return {w for w in words(text) if w not in STOP and len(w) > 2}


def chapters(brief: dict[str, Any]) -> list[dict[str, Any]]:
    """Group shots (or, with no picture, speech segments) into chapters of >= 10 s."""
    duration = brief["duration_s"]
    target = max(MIN_CHAPTER_S, duration / MAX_CHAPTERS)
    units = [(s["start_s"], [s["index"]]) for s in brief["shots"]] or \
        [(seg["start_s"], []) for seg in brief["transcript"]["segments"]] or [(0.0, [])]
    groups: list[tuple[float, list[int]]] = []
    for start, shots in units:
        if groups and (start - groups[-1][0] < target or duration - start < MIN_CHAPTER_S):
            groups[-1][1].extend(shots)
        else:
            groups.append((0.0 if not groups else start, list(shots)))
    out = []
    for i, (start, shots) in enumerate(groups):
        end = groups[i + 1][0] if i + 1 < len(groups) else duration
        out.append({"start_s": start, "end_s": end, "title": "", "shot_indices": shots})
    return out


def chapter_sources(brief: dict[str, Any], chapter: dict[str, Any]) -> dict[str, Any]:
    """Speech segments and on-screen text items that fall inside a chapter."""
    lo, hi = chapter["start_s"], chapter["end_s"]
    segs = [(i, s) for i, s in enumerate(brief["transcript"]["segments"]) if lo <= s["start_s"] < hi]
    texts = [(i, o) for i, o in enumerate(brief["ocr"]) if lo <= o["start_s"] < hi]
    return {"segments": segs, "ocr": texts}


def extractive_title(sources: dict[str, Any], number: int) -> str:
    for _, item in sources["ocr"]:
        if len(content_words(item["text"])) or len(item["text"]) >= 3:
            return item["text"][:60]
    for _, seg in sources["segments"]:
        return " ".join(seg["text"].split()[:6]).rstrip(".,;:")
    return f"Part {number}"


def extractive_point(brief: dict[str, Any], chapter: dict[str, Any], sources: dict[str, Any]
                     ) -> dict[str, Any]:
    """The chapter's longest sentence (or its on-screen text), with its evidence."""
    if sources["segments"]:
        i, seg = max(sources["segments"], key=lambda p: len(p[1]["words"]))
        return {"text": seg["text"], "start_s": seg["start_s"],
                "evidence": [words_evidence(i, seg), *screen_evidence(seg)]}
    if sources["ocr"]:
        text = "; ".join(dict.fromkeys(o["text"] for _, o in sources["ocr"]))
        return {"text": f"On screen: {text}", "start_s": sources["ocr"][0][1]["start_s"],
                "evidence": [{"source": "ocr", "ocr_index": i} for i, _ in sources["ocr"]]}
    if chapter["shot_indices"]:
        first = chapter["shot_indices"][0]
        return {"text": f"Visual part with {len(chapter['shot_indices'])} shot(s), no speech "
                "or text", "start_s": chapter["start_s"], "evidence": shot_evidence(brief, first)}
    return {}


def extractive_topic(brief: dict[str, Any]) -> str:
    text = " ".join([s["text"] for s in brief["transcript"]["segments"]] +
                    [o["text"] for o in brief["ocr"]])
    counts = Counter(w for w in words(text) if w not in STOP and len(w) > 2 and not w.isdigit())
    top = [w for w, _ in counts.most_common(3)]
    return ("About " + ", ".join(top)) if top else "Video without speech or on-screen text"


def source_text(brief: dict[str, Any], sources: dict[str, Any], limit: int = 900) -> str:
    """What was said, then what was shown, as plain text (small models do best with that)."""
    speech = " ".join(s["text"] for _, s in sources["segments"])[:limit]
    screen = "; ".join(dict.fromkeys(o["text"] for _, o in sources["ocr"]))[:300]
    return " ".join(filter(None, [speech, f"On screen: {screen}." if screen else ""]))


LABELS = {"speech", "screen", "none"}  # words of our own prompt layout, not of the video


def accept(answer: str, source: str, max_words: int) -> str | None:
    """The cleaned answer if it is grounded in ``source``, else None.

    Grounded: at least half of its content words (compared on their first five letters,
    a cheap stemmer) occur in the source, and it brings no number the source lacks.
    """
    answer = " ".join(answer.replace("*", "").replace("#", "").split()).strip(" \"'")
    answer = re.split(r"(?<=[.!?])\s", answer)[0]
    if not 2 <= len(answer.split()) <= max_words:
        return None
    have = {w[:5] for w in content_words(source) - LABELS}
    said = [w[:5] for w in content_words(answer) - LABELS]
    if not said or sum(w in have for w in said) * 2 < len(said):
        return None
    if set(re.findall(r"\d+", answer)) - set(re.findall(r"\d+", source)):
        return None  # a number (a time?) the sources do not contain
    return answer


async def _ask(llm: Any, prompt: str, max_tokens: int) -> str:
    from openrealtime.backends.base import LLMRequest, TextDelta

    # SmolLM2-135M answers a bare instruction far better than one behind a system prompt
    request = LLMRequest(messages=[{"role": "user", "content": prompt}],
                         max_tokens=max_tokens, temperature=0.0)
    out: list[str] = []
    async with contextlib.aclosing(llm.stream(request)) as stream:
        async for chunk in stream:
            if isinstance(chunk, TextDelta):
                out.append(chunk.text)
                # only the first sentence is kept: stop the model there (saves most of
                # the cost; closing the stream stops llama.cpp within a token)
                if re.search(r"\S\s+\S.*[.!?\n]", "".join(out).strip()):
                    break
    return "".join(out)


async def llm_wording(llm: Any, prompts: list[tuple[str, str, int]], timeout_s: float
                      ) -> list[str | None]:
    """Ask each ``(prompt, source, max_words)``; None where the answer was not accepted."""
    out: list[str | None] = []
    for prompt, source, max_words in prompts:
        try:
            answer = await asyncio.wait_for(_ask(llm, prompt, 3 * max_words), timeout_s)
        except TimeoutError:
            answer = ""
        out.append(accept(answer, source, max_words))
    return out
