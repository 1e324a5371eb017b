"""Per-scene remote generation (``--provider``): estimate, confirm budget, run, cache."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .error import GenerationError
from .plan import Plan
from .provider import Backoff, HttpProvider, JobRequest, cache_name, run_job


def providers() -> dict[str, type[HttpProvider]]:
    from .kling import KlingProvider
    from .runway import RunwayProvider
    from .sora import SoraProvider

    return {"sora": SoraProvider, "runway": RunwayProvider, "kling": KlingProvider}


def check_provider(name: str) -> None:
    if name not in providers():
        raise GenerationError(f"unknown provider {name!r}; choose one of: {', '.join(providers())}")


@dataclass(slots=True)
class RemoteSettings:
    max_cost_usd: float = 5.0
    timeout_s: float = 900.0
    env: dict[str, str] | None = None  # None: the process environment
    base_urls: dict[str, str] = field(default_factory=dict)
    backoff: Backoff = field(default_factory=Backoff)


def generate_clips(plan: Plan, cache_dir: Path, settings: RemoteSettings,
                   log: Callable[[str], None]) -> tuple[dict[int, str], list[str]]:
    """Clips for every ``remote`` scene: {scene index: mp4 path}, plus notes for the report.

    Skipped providers (no key) leave their scenes to the local background renderer.
    """
    wanted: dict[str, list[int]] = {}
    for i, scene in enumerate(plan.scenes):
        if scene.visual.kind == "remote":
            wanted.setdefault(scene.visual.provider or "", []).append(i)
    clips: dict[int, str] = {}
    notes: list[str] = []
    for name, indices in wanted.items():
        check_provider(name)
        adapter = providers()[name](env=settings.env, base_url=settings.base_urls.get(name))
        try:
            reason = adapter.unavailable()
            if reason:
                notes.append(f"{name} skipped: {reason}; {len(indices)} scene(s) use local visuals")
                log(notes[-1])
                continue
            clips.update(_run_provider(adapter, plan, indices, cache_dir, settings, log, notes))
        finally:
            adapter.close()
    return clips, notes


def _run_provider(adapter: HttpProvider, plan: Plan, indices: list[int], cache_dir: Path,
                  settings: RemoteSettings, log: Callable[[str], None],
                  notes: list[str]) -> dict[int, str]:
    requests = {i: JobRequest(plan.scenes[i].visual.prompt or plan.scenes[i].narration,
                              plan.scenes[i].duration_s, plan.aspect) for i in indices}
    model = getattr(adapter, "model", "")
    todo = {i: r for i, r in requests.items() if not (cache_dir / cache_name(adapter, r, model)).is_file()}
    cost = sum(adapter.estimate_usd(r) for r in todo.values())
    notes.append(f"{adapter.name}: {len(todo)} new clip(s) of {len(indices)}, estimated ${cost:.2f}")
    log(notes[-1])
    if cost > settings.max_cost_usd:
        raise GenerationError(f"{adapter.name}: estimated ${cost:.2f} exceeds --max-cost "
                              f"${settings.max_cost_usd:.2f}; raise it to go ahead")
    cache_dir.mkdir(parents=True, exist_ok=True)
    clips = {}
    for i, request in requests.items():
        dest = cache_dir / cache_name(adapter, request, model)
        if i in todo:
            log(f"{adapter.name}: generating scene {plan.scenes[i].id}")
            run_job(adapter, request, dest, timeout_s=settings.timeout_s, backoff=settings.backoff)
        clips[i] = str(dest)
    return clips
