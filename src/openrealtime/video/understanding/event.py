"""Events of a brief, each citing its evidence, and the resolver that checks citations.

Events are built from what was measured (shots, words, on-screen text, captions,
chapters); their times come from the cited sources, never from a language model.
"""

from __future__ import annotations

from typing import Any

_KIND_ORDER = {"chapter": 0, "shot": 1, "caption": 2, "text": 3, "speech": 4}


def shot_evidence(brief: dict[str, Any], shot_index: int) -> list[dict[str, Any]]:
    """The shot itself and its first keyframe, if it has one."""
    ev: list[dict[str, Any]] = [{"source": "shot", "shot_index": shot_index}]
    if brief["shots"][shot_index]["keyframes"]:
        ev.append({"source": "keyframe", "shot_index": shot_index, "keyframe_index": 0})
    return ev


def words_evidence(segment_index: int, segment: dict[str, Any]) -> dict[str, Any]:
    return {"source": "transcript", "segment_index": segment_index, "word_start": 0,
            "word_end": len(segment["words"])}


def screen_evidence(segment: dict[str, Any]) -> list[dict[str, Any]]:
    """The on-screen text a segment's words were checked against (its ``fused`` list)."""
    ocr = dict.fromkeys(f["ocr_index"] for f in segment.get("fused", []))
    return [{"source": "ocr", "ocr_index": k} for k in ocr]


def build_events(brief: dict[str, Any], chapter_points: list[dict[str, Any]]
                 ) -> list[dict[str, Any]]:
    """All events of ``brief`` sorted by start time (chapters first at equal times).

    ``chapter_points`` holds each chapter's key point ({} for a chapter without one).
    """
    events: list[dict[str, Any]] = []
    for shot in brief["shots"]:
        how = "starts" if shot["transition"] == "start" else f"after a {shot['transition']}"
        events.append(_event(shot, "shot", f"Shot {shot['index'] + 1} {how}",
                             shot_evidence(brief, shot["index"])))
    for i, seg in enumerate(brief["transcript"]["segments"]):
        events.append(_event(seg, "speech", seg["text"],
                             [words_evidence(i, seg), *screen_evidence(seg)]))
    for i, item in enumerate(brief["ocr"]):
        events.append(_event(item, "text", f'On screen: "{item["text"]}"',
                             [{"source": "ocr", "ocr_index": i},
                              {"source": "shot", "shot_index": item["shot_index"]}]))
    for i, cap in enumerate(brief.get("captions", [])):
        shot = brief["shots"][cap["shot_index"]]
        k = next(j for j, kf in enumerate(shot["keyframes"]) if kf["path"] == cap["keyframe"])
        events.append({"start_s": cap["time_s"], "end_s": cap["time_s"], "kind": "caption",
                       "text": cap["text"],
                       "evidence": [{"source": "caption", "caption_index": i},
                                    {"source": "keyframe", "shot_index": cap["shot_index"],
                                     "keyframe_index": k}]})
    for chapter, point in zip(brief["chapters"], chapter_points, strict=False):
        if not point:
            continue
        events.append({"start_s": chapter["start_s"], "end_s": chapter["end_s"],
                       "kind": "chapter", "text": f"{chapter['title']}: {point['text']}",
                       "evidence": point["evidence"]})
    events.sort(key=lambda e: (e["start_s"], _KIND_ORDER[e["kind"]]))
    return events


def _event(src: dict[str, Any], kind: str, text: str, evidence: list[dict[str, Any]]
           ) -> dict[str, Any]:
    return {"start_s": src["start_s"], "end_s": src["end_s"], "kind": kind, "text": text,
            "evidence": evidence}


def resolve(brief: dict[str, Any], evidence: dict[str, Any]) -> Any:
    """The object an evidence item cites (a list of words for transcript spans).

    Raises ``LookupError`` when the citation points nowhere.
    """
    try:
        source = evidence["source"]
        if source == "shot":
            return brief["shots"][_index(evidence["shot_index"])]
        if source == "keyframe":
            shot = brief["shots"][_index(evidence["shot_index"])]
            return shot["keyframes"][_index(evidence["keyframe_index"])]
        if source == "transcript":
            words = brief["transcript"]["segments"][_index(evidence["segment_index"])]["words"]
            start, end = _index(evidence["word_start"]), _index(evidence["word_end"])
            if not start < end <= len(words):
                raise IndexError(f"word span {start}:{end} of {len(words)} words")
            return words[start:end]
        if source == "ocr":
            return brief["ocr"][_index(evidence["ocr_index"])]
        if source == "caption":
            return brief.get("captions", [])[_index(evidence["caption_index"])]
    except (KeyError, IndexError, TypeError) as exc:
        raise LookupError(f"evidence {evidence} does not resolve: {exc}") from None
    raise LookupError(f"unknown evidence source in {evidence}")


def _index(value: Any) -> int:
    if not isinstance(value, int) or value < 0:
        raise IndexError(f"bad index {value!r}")
    return value
