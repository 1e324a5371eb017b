"""Remote generators against local fake servers that speak each provider's documented API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from openrealtime.video.generation.generator import RemoteSettings, generate_clips, providers
from openrealtime.video.generation.plan import Plan, Scene, Visual
from openrealtime.video.generation.provider import Backoff, JobRequest, ProviderError, run_job

from .generation_fixture import BASE_PATH, PROVIDER_ENV, fake_provider

FAST = Backoff(initial_s=0.01, factor=1.5, max_s=0.05)
KINDS = ["sora", "runway", "kling"]


def adapter(kind: str, base: str, **kwargs):
    return providers()[kind](env=PROVIDER_ENV[kind], base_url=base + BASE_PATH[kind],
                             sleep=lambda _: None, **kwargs)


@pytest.mark.parametrize("kind", KINDS)
def test_job_is_created_polled_and_downloaded(kind: str, tmp_path: Path) -> None:
    with fake_provider(kind, polls_to_finish=3) as state:
        client = adapter(kind, state.base)
        seen = []
        dest = run_job(client, JobRequest("a bee on a flower", 3.2, "9:16"), tmp_path / "clip.mp4",
                       backoff=FAST, on_progress=lambda s: seen.append(s.state))
        client.close()
    assert dest.read_bytes() == state.video
    assert seen == ["queued", "running", "succeeded"]
    method, _path, _, body = state.requests[0]
    assert method == "POST"
    if kind == "sora":
        assert body == {"model": "sora-2", "prompt": "a bee on a flower", "seconds": "4", "size": "720x1280"}
    elif kind == "runway":
        assert body["promptText"] == "a bee on a flower" and body["ratio"] == "720:1280" and body["duration"] == 4
    else:
        assert body["prompt"] == "a bee on a flower" and body["aspect_ratio"] == "9:16" and body["duration"] == "5"


@pytest.mark.parametrize("kind", KINDS)
def test_failed_job_reports_the_providers_reason(kind: str, tmp_path: Path) -> None:
    with fake_provider(kind, fail=True) as state:
        client = adapter(kind, state.base)
        with pytest.raises(ProviderError, match=r"failed: (prompt was blocked|Content moderation|risk control)"):
            run_job(client, JobRequest("x", 4, "16:9"), tmp_path / "c.mp4", backoff=FAST)
        client.close()


@pytest.mark.parametrize("kind", KINDS)
def test_timeout_cancels_the_job(kind: str, tmp_path: Path) -> None:
    ticks = iter(range(0, 10_000, 10))
    with fake_provider(kind, never_finish=True) as state:
        client = adapter(kind, state.base)
        with pytest.raises(ProviderError, match="cancelled"):
            run_job(client, JobRequest("x", 4, "1:1"), tmp_path / "c.mp4", backoff=FAST,
                    timeout_s=25, clock=lambda: float(next(ticks)))
        client.close()
    deletes = [r for r in state.requests if r[0] == "DELETE"]
    assert len(deletes) == (0 if kind == "kling" else 1)  # Kling documents no cancel endpoint


def test_bad_key_is_a_clear_error(tmp_path: Path) -> None:
    with fake_provider("sora") as state:
        client = providers()["sora"](env={"OPENAI_API_KEY": "wrong"}, base_url=state.base + "/v1")
        with pytest.raises(ProviderError, match=r"HTTP 401.*bad credentials"):
            client.create(JobRequest("x", 4, "9:16"))
        client.close()


def _plan(provider: str) -> Plan:
    scenes = [Scene(id=f"s{i}", narration="Bees dance.", duration_s=3.0,
                    visual=Visual(kind="remote", provider=provider, prompt=f"bees {i}")) for i in (1, 2)]
    return Plan(title="t", scenes=scenes)


def test_without_a_key_the_provider_is_skipped_with_a_message(tmp_path: Path) -> None:
    messages: list[str] = []
    clips, notes = generate_clips(_plan("runway"), tmp_path, RemoteSettings(env={}), messages.append)
    assert clips == {}
    assert notes == messages == ["runway skipped: set RUNWAYML_API_SECRET to use it; 2 scene(s) use local visuals"]


def test_cost_estimate_before_starting_and_budget(tmp_path: Path) -> None:
    with fake_provider("sora") as state:
        settings = RemoteSettings(env=PROVIDER_ENV["sora"], base_urls={"sora": state.base + "/v1"},
                                  max_cost_usd=0.5, backoff=FAST)
        with pytest.raises(Exception, match=r"estimated \$0.80 exceeds --max-cost"):
            generate_clips(_plan("sora"), tmp_path, settings, lambda _: None)
        assert state.requests == []  # nothing was started
        settings.max_cost_usd = 1.0
        clips, notes = generate_clips(_plan("sora"), tmp_path, settings, lambda _: None)
        assert len(clips) == 2 and "estimated $0.80" in notes[0]
        created = len([r for r in state.requests if r[0] == "POST"])
        clips_again, notes = generate_clips(_plan("sora"), tmp_path, settings, lambda _: None)
    assert clips_again == clips and "0 new clip(s)" in notes[0]  # cached: no second bill
    assert created == 2


def test_cli_renders_remote_scenes_from_a_fake_service(tmp_path: Path, capsys, monkeypatch) -> None:
    from openrealtime.cli import main
    from openrealtime.video.generation import generator

    monkeypatch.setattr(generator, "run_job", lambda *a, **k: run_job(*a, **{**k, "backoff": FAST}))
    with fake_provider("kling") as state:
        for key, value in {**PROVIDER_ENV["kling"], "KLING_BASE_URL": state.base}.items():
            monkeypatch.setenv(key, value)
        script = tmp_path / "s.md"
        script.write_text("## Bees\nBees dance in the sun.\n\n## Hive\nThe hive hums.\n")
        code = main(["video", "generate", str(script), "-o", str(tmp_path / "v.mp4"), "--provider", "kling",
                     "--aspect", "1:1", "--no-narration", "-q"])
    _out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads((tmp_path / "v.report.json").read_text())
    assert report["ok"] and "kling: 2 new clip(s) of 2, estimated $0.28" in report["notes"]
