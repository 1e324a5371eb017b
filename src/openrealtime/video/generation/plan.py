"""The storyboard: scenes with narration, visual and timing, saved as editable JSON.

``OUT.plan.json`` is the contract between planning and rendering: ``--plan-only`` writes
it, a person edits it, ``--from-plan`` renders it. Everything a render depends on (sizes,
seed, voice, caption style, asset paths) is in it, so the same plan and seed give the
same video. ``start_s``/``duration_s`` are written back after timing; on render they are
recomputed from the narration (scenes follow the speech), ``min_duration_s`` is the knob.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .error import GenerationError

PLAN_VERSION = 1
FPS = 30
ASPECTS = {"9:16": (1080, 1920), "16:9": (1920, 1080), "1:1": (1080, 1080)}
VISUAL_KINDS = ("title", "text", "background", "image", "clip", "chart", "remote")
TRANSITIONS = ("cut", "crossfade")


@dataclass(slots=True)
class CaptionStyle:
    """Burned-in caption look. ``size`` is the font height as a fraction of frame width."""

    enabled: bool = True
    position: str = "bottom"  # bottom | center | top
    size: float = 0.052
    style: str = "box"  # box (dark panel) | outline (stroked text) | plain
    color: str = "#FFFFFF"
    max_lines: int = 2


@dataclass(slots=True)
class Visual:
    """What a scene shows. ``asset`` is a resolved file path for image/clip."""

    kind: str = "text"
    asset: str | None = None
    keywords: list[str] = field(default_factory=list)
    chart: dict[str, Any] | None = None  # {"title", "labels", "values", "unit"}
    prompt: str | None = None  # remote generators
    provider: str | None = None
    motion: str = "ken_burns"  # ken_burns | none (a still the plan asks to hold)


@dataclass(slots=True)
class Scene:
    id: str
    title: str = ""
    narration: str = ""
    visual: Visual = field(default_factory=Visual)
    transition: str = "cut"  # into this scene from the previous one
    min_duration_s: float | None = None
    start_s: float = 0.0
    duration_s: float = 0.0


@dataclass(slots=True)
class NarrationSpec:
    mode: str = "tts"  # tts | audio | none
    voice: str | None = None  # Piper .onnx model; None: the bundled joe voice
    speed: float = 1.0
    audio: str | None = None


@dataclass(slots=True)
class Plan:
    title: str
    scenes: list[Scene]
    aspect: str = "9:16"
    width: int = 1080
    height: int = 1920
    fps: int = FPS
    seed: int = 0
    narration: NarrationSpec = field(default_factory=NarrationSpec)
    music: str | None = None
    transition_s: float = 0.5
    captions: CaptionStyle = field(default_factory=CaptionStyle)
    font: str | None = None
    # "WxH" overrides the aspect's frame size (the Videos API's 720x1280, 1792x1024...).
    size: str | None = None
    # The video lasts exactly this long (narration is fitted: narration.fit_length);
    # None: scenes follow the speech.
    duration_s: float | None = None
    version: int = PLAN_VERSION

    @property
    def narration_text(self) -> str:
        """All narration, scene after scene, as the subtitles will read."""
        return " ".join(s.narration for s in self.scenes if s.narration)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, ensure_ascii=False) + "\n"

    def save(self, path: Path) -> None:
        path.write_text(self.to_json(), encoding="utf-8")


_NUM = {"type": "number"}
SIZE_PATTERN = r"^[1-9][0-9]{1,3}x[1-9][0-9]{1,3}$"
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["title", "scenes", "aspect", "seed"],
    "properties": {
        "version": {"const": PLAN_VERSION},
        "aspect": {"enum": list(ASPECTS)},
        "fps": {"const": FPS},
        "seed": {"type": "integer"},
        "transition_s": {"type": "number", "minimum": 0, "maximum": 2},
        "music": {"type": ["string", "null"]},
        "font": {"type": ["string", "null"]},
        "size": {"anyOf": [{"type": "null"}, {"type": "string", "pattern": SIZE_PATTERN}]},
        "duration_s": {"anyOf": [{"type": "null"}, {**_NUM, "minimum": 1, "maximum": 600}]},
        "narration": {"type": "object", "properties": {
            "mode": {"enum": ["tts", "audio", "none"]},
            "speed": {"type": "number", "exclusiveMinimum": 0, "maximum": 4}}},
        "captions": {"type": "object", "properties": {
            "position": {"enum": ["bottom", "center", "top"]},
            "size": {"type": "number", "minimum": 0.02, "maximum": 0.15},
            "style": {"enum": ["box", "outline", "plain"]},
            "max_lines": {"type": "integer", "minimum": 1, "maximum": 4}}},
        "scenes": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["id"],
            "properties": {
                "narration": {"type": "string"}, "title": {"type": "string"},
                "transition": {"enum": list(TRANSITIONS)},
                "min_duration_s": {"anyOf": [{"type": "null"}, {**_NUM, "minimum": 0.5}]},
                "visual": {"type": "object", "properties": {
                    "kind": {"enum": list(VISUAL_KINDS)},
                    "motion": {"enum": ["ken_burns", "none"]}}}}}},
    },
}


def load_plan(path: Path) -> Plan:
    """Read and validate a plan file; errors name the offending field."""
    import jsonschema

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GenerationError(f"plan file not found: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise GenerationError(f"{path}: not valid JSON ({exc})") from None
    try:
        jsonschema.validate(data, SCHEMA)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(top level)"
        raise GenerationError(f"{path}: invalid plan at {where}: {exc.message}") from None
    return plan_from_dict(data)


def plan_from_dict(data: dict[str, Any]) -> Plan:
    """Build a :class:`Plan` from validated JSON data (unknown keys are ignored)."""
    scenes = [
        Scene(**{**_known(Scene, s), "visual": Visual(**_known(Visual, s.get("visual", {})))})
        for s in data["scenes"]
    ]
    width, height = parse_size(data["size"]) if data.get("size") else ASPECTS[data["aspect"]]
    return Plan(**{
        **_known(Plan, data),
        "scenes": scenes,
        "width": width,
        "height": height,
        "narration": NarrationSpec(**_known(NarrationSpec, data.get("narration", {}))),
        "captions": CaptionStyle(**_known(CaptionStyle, data.get("captions", {}))),
    })


def parse_size(size: str) -> tuple[int, int]:
    """``"720x1280"`` -> (720, 1280); even numbers (H.264 4:2:0 halves the chroma)."""
    width, _, height = size.partition("x")
    try:
        w, h = int(width), int(height)
    except ValueError:
        raise GenerationError(f"size must be WIDTHxHEIGHT, got {size!r}") from None
    if not (16 <= w <= 4096 and 16 <= h <= 4096) or w % 2 or h % 2:
        raise GenerationError(f"size {size!r}: width and height must be even, 16 to 4096")
    return w, h


def nearest_aspect(width: int, height: int) -> str:
    """The aspect name closest to a frame size (remote generators take names)."""
    return "9:16" if width < height else "16:9" if width > height else "1:1"


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}
