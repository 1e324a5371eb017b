"""Script drafts plus options become a :class:`Plan` (visual choice per scene)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .asset import AssetLibrary, looks_like_file, resolve_asset, words
from .plan import ASPECTS, CaptionStyle, NarrationSpec, Plan, Scene, Visual
from .script import SceneDraft


@dataclass(slots=True)
class PlanOptions:
    """Everything besides the script that shapes a plan."""

    aspect: str = "9:16"
    seed: int = 0
    assets: Path | None = None
    narration: NarrationSpec = field(default_factory=NarrationSpec)
    music: str | None = None
    transition: str = "cut"
    transition_s: float = 0.5
    captions: CaptionStyle = field(default_factory=CaptionStyle)
    provider: str | None = None
    font: str | None = None


def build_plan(drafts: list[SceneDraft], options: PlanOptions, script_dir: Path | None = None) -> Plan:
    """Decide each scene's visual: chart data, a named or matching asset, a remote
    generator (``--provider``), a title card for a leading ``# Title``, else a text card."""
    library = AssetLibrary(options.assets)
    used: set[Path] = set()
    scenes = []
    for index, draft in enumerate(drafts):
        visual = _visual(index, draft, options, library, used, script_dir)
        scenes.append(Scene(
            id=f"s{index + 1}", title=draft.title, narration=draft.narration, visual=visual,
            transition=options.transition if index else "cut",
            min_duration_s=None if draft.narration else 2.5,
        ))
    title = next((d.title for d in drafts if d.title), "") or drafts[0].narration[:60]
    width, height = ASPECTS[options.aspect]
    return Plan(
        title=title, scenes=scenes, aspect=options.aspect, width=width, height=height,
        seed=options.seed, narration=options.narration, music=options.music,
        transition_s=options.transition_s, captions=options.captions, font=options.font,
    )


def _visual(
    index: int,
    draft: SceneDraft,
    options: PlanOptions,
    library: AssetLibrary,
    used: set[Path],
    script_dir: Path | None,
) -> Visual:
    keywords = sorted(words(draft.visual or "") | words(draft.narration))[:24]
    if draft.chart is not None:
        chart = {"title": draft.chart.title or draft.title, "labels": draft.chart.labels,
                 "values": draft.chart.values, "unit": draft.chart.unit}
        return Visual(kind="chart", chart=chart, keywords=keywords)
    asset = None
    if draft.visual and looks_like_file(draft.visual):
        asset = resolve_asset(draft.visual, library, script_dir)  # named: a miss is an error
    elif library.assets:
        hint = words(draft.visual) if draft.visual else words(draft.narration)
        asset = library.best(hint, words(draft.title), used)
    if asset is not None:
        used.add(asset.path)
        return Visual(kind=asset.kind, asset=str(asset.path), keywords=keywords)
    if options.provider:
        prompt = draft.visual or f"{draft.title}. {draft.narration}".strip(". ")
        return Visual(kind="remote", provider=options.provider, prompt=prompt, keywords=keywords)
    if index == 0 and draft.level == 1:
        return Visual(kind="title", keywords=keywords)
    return Visual(kind="text" if draft.title else "background", keywords=keywords)
