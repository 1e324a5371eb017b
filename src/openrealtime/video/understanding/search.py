"""``video search``: the best moments of an analyzed video for a query.

The documents are the transcript segments, on-screen text items, captions and
key points of ``brief.json``. Ranking is BM25 over lightly stemmed words, plus a boost
for words found exactly as typed and for the whole query found as a phrase. A speech
hit points at the first matching word, not at the start of its sentence.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

K1, B = 1.2, 0.75
EXACT_BOOST, PHRASE_BOOST = 0.5, 1.5
DERIVED_WEIGHT = 0.8  # key points repeat or reword measured text: the measured one wins


@dataclass(frozen=True, slots=True)
class Hit:
    """One matching moment."""

    start_s: float
    end_s: float
    source: str  # speech | screen | caption | key_point
    text: str
    score: float


def tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def stem(word: str) -> str:
    """Crude English suffix stripping: "guitars" and "guitar" meet, "running" and "run"."""
    for suffix in ("ies", "ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            word = word[: -len(suffix)]
            return word + "y" if suffix == "ies" else word
    return word


def _documents(brief: dict[str, Any]) -> list[dict[str, Any]]:
    docs = [{"source": "speech", "start_s": s["start_s"], "end_s": s["end_s"], "text": s["text"],
             "words": s["words"]} for s in brief["transcript"]["segments"]]
    docs += [{"source": "screen", "start_s": o["start_s"], "end_s": o["end_s"], "text": o["text"]}
             for o in brief["ocr"]]
    docs += [{"source": "caption", "start_s": c["time_s"], "end_s": c["time_s"], "text": c["text"]}
             for c in brief.get("captions", [])]
    docs += [{"source": "key_point", "start_s": k["start_s"], "end_s": k["start_s"],
              "text": k["text"]} for k in brief.get("key_points", [])]
    return docs


def rank(brief: dict[str, Any], query: str, limit: int = 5) -> list[Hit]:
    """The ``limit`` best moments for ``query`` in ``brief``, best first."""
    q_raw = tokens(query)
    q_stems = list(dict.fromkeys(stem(w) for w in q_raw))
    docs = _documents(brief)
    if not q_stems or not docs:
        return []
    stems = [[stem(w) for w in tokens(d["text"])] for d in docs]
    avg_len = sum(len(s) for s in stems) / len(stems) or 1.0
    df = Counter(w for s in stems for w in set(s))
    hits = []
    for doc, doc_stems in zip(docs, stems, strict=True):
        tf = Counter(doc_stems)
        score = 0.0
        for w in q_stems:
            if tf[w]:
                idf = math.log(1 + (len(docs) - df[w] + 0.5) / (df[w] + 0.5))
                norm = tf[w] + K1 * (1 - B + B * len(doc_stems) / avg_len)
                score += idf * tf[w] * (K1 + 1) / norm
        if score <= 0:
            continue
        raw = set(tokens(doc["text"]))
        score += EXACT_BOOST * sum(w in raw for w in q_raw)
        if len(q_raw) > 1 and " ".join(q_raw) in " ".join(tokens(doc["text"])):
            score += PHRASE_BOOST
        if doc["source"] == "key_point":
            score *= DERIVED_WEIGHT
        hits.append(Hit(_moment(doc, set(q_stems)), doc["end_s"], doc["source"], doc["text"],
                        round(score, 4)))
    hits.sort(key=lambda h: (-h.score, h.start_s))
    return hits[:limit]


def _moment(doc: dict[str, Any], q_stems: set[str]) -> float:
    for word in doc.get("words", []):
        if any(stem(w) in q_stems for w in tokens(word["word"])):
            return float(word["start_s"])
    return float(doc["start_s"])


def search(outdir: str | Path, query: str, limit: int = 5) -> list[Hit]:
    """Search the brief written by ``analyze`` into ``outdir``.

    Raises ``FileNotFoundError`` or ``ValueError`` when there is no readable brief.
    """
    path = Path(outdir) / "brief.json"
    brief = json.loads(path.read_text(encoding="utf-8"))
    return rank(brief, query, limit)
