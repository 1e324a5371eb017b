"""The Videos API (/v1/videos) through the official openai SDK, against the real server
with fake models: every video here is really rendered by a worker process (4 s, the
shortest the API allows, at 720x1280 or 1280x720: about 2-3 s each on 2 cores)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai import AsyncOpenAI
from PIL import Image

from openrealtime.server.app import create_app
from openrealtime.server.run import running_server
from openrealtime.server.settings import Settings

# The SDK marks client.videos deprecated (OpenAI shuts its Sora API down on 2026-09-24).
pytestmark = pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")

KEY = "sk-videos-test"
SCRIPT = "# Garden bees\n\nBees carry pollen. Flowers need them."
POLL_MS = 100


@contextlib.asynccontextmanager
async def serving(videos_dir: Path, **settings: Any) -> AsyncIterator[tuple[str, Any]]:
    app = create_app(Settings(backend="fake", api_keys=KEY, videos_dir=videos_dir, **settings))
    async with running_server(app) as url:
        yield url, app


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[tuple[str, Any]]:
    async with serving(tmp_path / "videos") as running:
        yield running


def sdk(url: str) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0)


def probe(data: bytes) -> dict[str, Any]:
    import av

    with av.open(io.BytesIO(data)) as container:
        video = container.streams.video[0]
        first = next(container.decode(video=0)).to_ndarray(format="rgb24")
        return {"width": video.codec_context.width, "height": video.codec_context.height,
                "duration_s": container.duration / 1_000_000,
                "audio_streams": len(container.streams.audio), "first_frame": first}


def png(color: tuple[int, int, int], size: tuple[int, int] = (64, 64)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


async def wait_for(client: AsyncOpenAI, video_id: str, statuses: tuple[str, ...],
                   seen: list[int] | None = None, timeout_s: float = 60.0) -> Any:
    async with asyncio.timeout(timeout_s):
        while True:
            video = await client.videos.retrieve(video_id)
            if seen is not None:
                seen.append(video.progress)
            if video.status in statuses:
                return video
            await asyncio.sleep(0.05)


async def test_create_and_poll_renders_the_requested_size_and_length(server) -> None:
    url, _ = server
    async with sdk(url) as client:
        video = await client.videos.create_and_poll(
            prompt="Why bees matter to a garden", model="sora-2", seconds="4", size="720x1280",
            poll_interval_ms=POLL_MS)
        assert video.status == "completed", video.error
        assert (video.progress, video.seconds, video.size, video.model) == (100, "4", "720x1280", "sora-2")
        assert video.object == "video" and video.prompt == "Why bees matter to a garden"
        assert video.created_at <= video.completed_at and video.error is None
        mp4 = (await client.videos.download_content(video.id)).content
        thumbnail = (await client.videos.download_content(video.id, variant="thumbnail")).content
        sheet = (await client.videos.download_content(video.id, variant="spritesheet")).content
    info = probe(mp4)
    assert (info["width"], info["height"]) == (720, 1280)
    assert info["duration_s"] == pytest.approx(4.0, abs=0.5)
    assert info["audio_streams"] == 1
    with Image.open(io.BytesIO(thumbnail)) as image:
        assert (image.format, image.size) == ("WEBP", (720, 1280))
    with Image.open(io.BytesIO(sheet)) as image:
        # 12 frames in a 4 x 3 grid of tiles 180 px high
        assert (image.format, image.size) == ("JPEG", (4 * round(720 * 180 / 1280), 3 * 180))


async def test_reference_image_opens_the_video_and_progress_moves(server) -> None:
    url, app = server
    seen: list[int] = []
    async with sdk(url) as client:
        created = await client.videos.create(
            prompt=SCRIPT, seconds="4", size="1280x720",
            input_reference=("red.png", png((220, 20, 20)), "image/png"))
        assert created.status == "queued" and created.progress == 0
        video = await wait_for(client, created.id, ("completed", "failed"), seen)
        assert video.status == "completed", video.error
        mp4 = (await client.videos.download_content(video.id)).content
    info = probe(mp4)
    assert (info["width"], info["height"]) == (1280, 720)
    assert info["duration_s"] == pytest.approx(4.0, abs=0.5)
    red = info["first_frame"].reshape(-1, 3).mean(axis=0)
    assert red[0] > 150 and red[1] < 90 and red[2] < 90, red  # the reference, first
    assert any(0 < p < 100 for p in seen), seen  # progress moved during the render
    assert seen == sorted(seen)
    job = app.state.videos.jobs.get(created.id)
    plan = json.loads((job.path / "video.plan.json").read_text())
    assert plan["scenes"][0]["visual"]["kind"] == "image"
    assert plan["size"] == "1280x720" and plan["duration_s"] == 4.0


async def test_list_retrieve_remix_and_delete(server) -> None:
    url, app = server
    async with sdk(url) as client:
        first = await client.videos.create_and_poll(prompt=SCRIPT, seconds="4",
                                                     poll_interval_ms=POLL_MS)
        assert first.status == "completed", first.error
        remix = await client.videos.remix(first.id, prompt="# Bees again\n\nBees dance.")
        assert remix.remixed_from_video_id == first.id and remix.status == "queued"
        assert (remix.seconds, remix.size, remix.model) == (first.seconds, first.size, first.model)
        remix = await wait_for(client, remix.id, ("completed", "failed"))
        assert remix.status == "completed", remix.error
        assert [v.id async for v in client.videos.list(limit=1, order="asc")] == [first.id, remix.id]
        page = await client.videos.list(limit=1)
        assert [v.id for v in page.data] == [remix.id] and page.has_more
        assert (await client.videos.retrieve(first.id)).status == "completed"
        deleted = await client.videos.delete(first.id)
        assert (deleted.id, deleted.deleted, deleted.object) == (first.id, True, "video.deleted")
        with pytest.raises(openai.NotFoundError):
            await client.videos.retrieve(first.id)
        assert [v.id async for v in client.videos.list()] == [remix.id]
    jobs = app.state.videos.jobs
    source = json.loads((jobs.get(remix.id).path / "source.plan.json").read_text())
    remixed = json.loads((jobs.get(remix.id).path / "video.plan.json").read_text())
    assert remixed["seed"] == source["seed"] and remixed["size"] == source["size"]
    assert remixed["scenes"][0]["narration"] == "Bees dance."
    assert not (jobs.directory / first.id).exists()


async def test_errors_have_openai_shapes(server) -> None:
    url, _ = server
    async with sdk(url) as client:
        with pytest.raises(openai.BadRequestError) as bad_size:
            await client.videos.create(prompt="bees", size="640x480")  # type: ignore[arg-type]
        assert bad_size.value.status_code == 400
        assert bad_size.value.body["param"] == "size" and "'720x1280'" in bad_size.value.body["message"]
        with pytest.raises(openai.BadRequestError) as bad_seconds:
            await client.videos.create(prompt="bees", seconds="5")  # type: ignore[arg-type]
        assert bad_seconds.value.body["param"] == "seconds"
        for call in (client.videos.retrieve("video_nope"), client.videos.delete("video_" + "0" * 32),
                     client.videos.download_content("video_" + "1" * 32),
                     client.videos.remix("video_nope", prompt="x")):
            with pytest.raises(openai.NotFoundError) as missing:
                await call
            assert missing.value.body["code"] == "video_not_found"
        with pytest.raises(openai.BadRequestError) as bad_ref:
            await client.videos.create(prompt="bees",
                                       extra_body={"input_reference": {"image_url": "https://x/y.png"}})
        assert bad_ref.value.body["param"] == "input_reference.image_url"
        async with AsyncOpenAI(base_url=url + "/v1", api_key="wrong", max_retries=0) as stranger:
            with pytest.raises(openai.AuthenticationError):
                await stranger.videos.list()
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {KEY}"}) as http:
        missing_prompt = await http.post("/v1/videos", json={"seconds": "4"})
        assert missing_prompt.status_code == 400
        assert missing_prompt.json()["error"]["code"] == "missing_required_parameter"
        bad_limit = await http.get("/v1/videos", params={"limit": "0"})
        assert bad_limit.status_code == 400 and bad_limit.json()["error"]["param"] == "limit"


async def test_an_unwritable_videos_dir_is_a_server_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    async with serving(blocker) as (url, _), sdk(url) as client:
        with pytest.raises(openai.InternalServerError) as failed:
            await client.videos.create(prompt="bees")
    assert failed.value.status_code == 500 and failed.value.body["code"] == "storage_error"


async def test_json_body_and_data_url_reference_are_taken(server) -> None:
    url, app = server
    image = png((10, 200, 10))
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {KEY}"}) as http:
        created = await http.post("/v1/videos", json={
            "prompt": "bees", "seconds": 8, "size": "1024x1792",
            "input_reference": {"image_url": "data:image/png;base64," + base64.b64encode(image).decode()}})
        assert created.status_code == 200, created.text
        video = created.json()
        assert (video["seconds"], video["size"], video["model"]) == ("8", "1024x1792", "sora-2")
        assert (app.state.videos.jobs.get(video["id"]).path / "reference.png").read_bytes() == image
        early = await http.get(f"/v1/videos/{video['id']}/content")
        assert early.status_code == 400 and early.json()["error"]["code"] == "invalid_video_state"
        assert (await http.delete(f"/v1/videos/{video['id']}")).json()["deleted"] is True
    # The SDK's create() takes only a file as input_reference (its extract_files refuses the
    # typed {"image_url"} object); the object goes as extra_body, which the SDK sends as the
    # multipart fields input_reference[image_url].
    data_url = "data:image/png;base64," + base64.b64encode(image).decode()
    async with sdk(url) as client:
        sent = await client.videos.create(prompt="bees",
                                          extra_body={"input_reference": {"image_url": data_url}})
        assert (app.state.videos.jobs.get(sent.id).path / "reference.png").read_bytes() == image
        await client.videos.delete(sent.id)


async def test_delete_cancels_a_running_render(server) -> None:
    url, app = server
    jobs = app.state.videos.jobs
    async with sdk(url) as client:
        video = await client.videos.create(prompt=SCRIPT, seconds="12", size="1792x1024")
        async with asyncio.timeout(30):
            while (await client.videos.retrieve(video.id)).progress < 20:  # noqa: ASYNC110
                await asyncio.sleep(0.05)  # (polled like a client; 20 %: rendering frames)
        pid = jobs.pids[video.id]
        assert os.getpriority(os.PRIO_PROCESS, pid) >= 10  # reniced below the voice sessions
        deleted = await client.videos.delete(video.id)
        assert deleted.deleted
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # killed and reaped
        with pytest.raises(openai.NotFoundError):
            await client.videos.retrieve(video.id)
    assert not (jobs.directory / video.id).exists() and not jobs.tasks


async def test_a_crashing_worker_fails_its_video_not_the_server(server) -> None:
    url, app = server
    app.state.videos.jobs.worker_command = [
        sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"]
    async with sdk(url) as client:
        video = await client.videos.create_and_poll(prompt="bees", poll_interval_ms=POLL_MS)
    assert video.status == "failed"
    assert video.error.code == "worker_crashed" and "SIGSEGV" in video.error.message
    async with httpx.AsyncClient(base_url=url) as http:
        assert (await http.get("/healthz")).status_code == 200


async def test_jobs_survive_a_restart(tmp_path: Path) -> None:
    videos_dir = tmp_path / "videos"
    async with serving(videos_dir) as (url, _):
        async with sdk(url) as client:
            done = await client.videos.create_and_poll(prompt=SCRIPT, poll_interval_ms=POLL_MS)
            mp4 = (await client.videos.download_content(done.id)).content
            running = await client.videos.create(prompt=SCRIPT)
            queued = await client.videos.create(prompt="# Second\n\nAnother one.")
            await wait_for(client, running.id, ("in_progress",))
    states = {p.name: json.loads((p / "job.json").read_text())["video"]["status"]
              for p in videos_dir.iterdir()}
    assert states == {done.id: "completed", running.id: "in_progress", queued.id: "queued"}
    async with serving(videos_dir) as (url, _):
        async with sdk(url) as client:
            again = await client.videos.retrieve(done.id)
            assert again.status == "completed" and again.completed_at == done.completed_at
            assert (await client.videos.download_content(done.id)).content == mp4
            for video in (running, queued):  # re-queued, and still queued: both run now
                finished = await wait_for(client, video.id, ("completed", "failed"))
                assert finished.status == "completed", finished.error
            assert {v.id async for v in client.videos.list()} == {done.id, running.id, queued.id}


async def test_the_sora_adapter_drives_another_openrealtime(server, tmp_path: Path) -> None:
    """video/generation/sora.py, the generation CLI's remote provider, against this server."""
    from openrealtime.video.generation.provider import Backoff, JobRequest, run_job
    from openrealtime.video.generation.sora import SoraProvider

    url, _ = server
    adapter = SoraProvider(env={"OPENREALTIME_VIDEOS_URL": url + "/v1",
                                "OPENREALTIME_VIDEOS_API_KEY": KEY})
    assert adapter.unavailable() is None and adapter.estimate_usd(JobRequest("x", 4, "9:16")) == 0
    try:
        dest = await asyncio.to_thread(
            run_job, adapter, JobRequest("Bees in the sun", 3.2, "9:16"), tmp_path / "clip.mp4",
            backoff=Backoff(initial_s=0.1, factor=1.0, max_s=0.1), timeout_s=60)
    finally:
        adapter.close()
    info = probe(dest.read_bytes())
    assert (info["width"], info["height"]) == (720, 1280)
    assert info["duration_s"] == pytest.approx(4.0, abs=0.5)
