"""The documented JSON Schema of ``brief.json`` and its validation.

The schema lives here, in code, so it ships with the package without package-data
configuration; ``analyze`` also writes a copy next to each brief (``brief.schema.json``).
Times are seconds from the start of the video, rounded to milliseconds.
"""

from __future__ import annotations

from typing import Any

SCHEMA_VERSION = 1

_TIME = {"type": "number", "minimum": 0}
_INDEX = {"type": "integer", "minimum": 0}


def _obj(required: dict[str, Any], optional: dict[str, Any] | None = None,
         description: str = "") -> dict[str, Any]:
    props = {**required, **(optional or {})}
    out: dict[str, Any] = {"type": "object", "required": list(required), "properties": props,
                           "additionalProperties": False}
    if description:
        out["description"] = description
    return out


EVIDENCE = {"oneOf": [
    _obj({"source": {"const": "shot"}, "shot_index": _INDEX}, description="A whole shot."),
    _obj({"source": {"const": "keyframe"}, "shot_index": _INDEX, "keyframe_index": _INDEX},
         description="shots[shot_index].keyframes[keyframe_index]: one frame."),
    _obj({"source": {"const": "transcript"}, "segment_index": _INDEX, "word_start": _INDEX,
          "word_end": _INDEX},
         description="transcript.segments[segment_index].words[word_start:word_end] "
                     "(end exclusive)."),
    _obj({"source": {"const": "ocr"}, "ocr_index": _INDEX}, description="ocr[ocr_index]."),
    _obj({"source": {"const": "caption"}, "caption_index": _INDEX},
         description="captions[caption_index]."),
]}
_EVIDENCE_LIST = {"type": "array", "items": EVIDENCE, "minItems": 1}
_WORD = _obj({"word": {"type": "string"}, "start_s": _TIME, "end_s": _TIME})
_FUSED = {"type": "array", "description": "Spoken words checked against on-screen text of "
          "the same shot: words[word_index] is the on-screen spelling (`shown`, from "
          "ocr[ocr_index]) of what Whisper wrote (`heard`); heard == shown when both agreed.",
          "items": _obj({"word_index": _INDEX, "heard": {"type": "string"},
                         "shown": {"type": "string"}, "ocr_index": _INDEX,
                         "score": {"type": "number", "minimum": 0, "maximum": 1},
                         "source": {"const": "screen+speech"}})}
_KEYFRAME = _obj({"time_s": _TIME, "path": {"type": "string"}},
                 description="An image under OUTDIR (relative path).")

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://openrealtime.dev/schemas/video-brief-v1.json",
    "title": "openrealtime video brief",
    "description": "What `openrealtime video analyze` found in a video, every claim tied to a "
                   "moment. Events and key points cite their sources in `evidence`.",
    **_obj({
        "schema_version": {"const": SCHEMA_VERSION},
        "source": _obj({"path": {"type": "string"}, "width": _INDEX, "height": _INDEX,
                        "fps": {"type": "number", "minimum": 0}, "has_video": {"type": "boolean"},
                        "has_audio": {"type": "boolean"}}),
        "duration_s": _TIME,
        "shots": {"type": "array", "description": "Shots in time order; a shot's transition is "
                  "how it began.", "items": _obj({
                      "index": _INDEX, "start_s": _TIME, "end_s": _TIME,
                      "transition": {"enum": ["start", "cut", "dissolve", "fade"]},
                      "keyframe": {"type": ["string", "null"],
                                   "description": "The first keyframe's path."},
                      "keyframes": {"type": "array", "items": _KEYFRAME}})},
        "transcript": _obj({
            "language": {"type": ["string", "null"]},
            "segments": {"type": "array", "items": _obj({
                "start_s": _TIME, "end_s": _TIME, "text": {"type": "string"},
                "words": {"type": "array", "items": _WORD}}, optional={"fused": _FUSED})}}),
        "ocr": {"type": "array", "description": "On-screen text, one item per text per shot "
                "(sightings in successive frames merged).", "items": _obj({
                    "start_s": _TIME, "end_s": _TIME, "text": {"type": "string"},
                    "shot_index": _INDEX,
                    "source": {"enum": ["keyframe", "region_change"]},
                    "box": {"type": "array", "items": {"type": "integer"},
                            "minItems": 4, "maxItems": 4,
                            "description": "x0, y0, x1, y1 in keyframe pixels."}})},
        "rhythm": _obj({
            "shot_count": _INDEX,
            "mean_shot_s": _TIME, "median_shot_s": _TIME,
            "cuts_per_min": {"type": "number", "minimum": 0,
                             "description": "Shot boundaries of any kind per minute."},
            "speech_wpm": {"type": "number", "minimum": 0,
                           "description": "Words per minute while speaking."},
            "speech_ratio": {"type": "number", "minimum": 0, "maximum": 1,
                             "description": "Share of the video covered by speech."}}),
        "chapters": {"type": "array", "items": _obj({
            "start_s": _TIME, "end_s": _TIME, "title": {"type": "string"},
            "shot_indices": {"type": "array", "items": _INDEX}})},
        "events": {"type": "array", "description": "Sorted by start_s.", "items": _obj({
            "start_s": _TIME, "end_s": _TIME,
            "kind": {"enum": ["shot", "speech", "text", "caption", "chapter"]},
            "text": {"type": "string"}, "evidence": _EVIDENCE_LIST})},
        "topic": {"type": "string"},
        "key_points": {"type": "array", "items": _obj({
            "text": {"type": "string"}, "start_s": _TIME, "evidence": _EVIDENCE_LIST})},
    }, optional={
        "captions": {"type": "array", "description": "Present when a vision model is "
                     "configured: one caption per captioned keyframe.", "items": _obj({
                         "time_s": _TIME, "shot_index": _INDEX, "keyframe": {"type": "string"},
                         "text": {"type": "string"}})},
        "processing": _obj({
            "llm": {"type": ["string", "null"]}, "vlm": {"type": ["string", "null"]},
            "timings_s": {"type": "object", "additionalProperties": {"type": "number"}},
            "warnings": {"type": "array", "items": {"type": "string"}}}),
    }),
}


class BriefError(ValueError):
    """The brief does not match its schema (a bug: it is checked before writing)."""


def validate(brief: dict[str, Any]) -> None:
    """Raise :class:`BriefError` with the first problem found, if any."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(SCHEMA)
    error = jsonschema.exceptions.best_match(validator.iter_errors(brief))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        raise BriefError(f"brief.json invalid at {where}: {error.message}")
