"""The Videos-API job store without workers: ids, reading a folder back, expiry, paging."""

from __future__ import annotations

import time
from pathlib import Path

from openrealtime.server.video_jobs import JobLimits, VideoJob, VideoJobs, new_video_id


def job(folder: Path, status: str, expires_at: int | None = None) -> VideoJob:
    video_id = new_video_id()
    path = folder / video_id
    path.mkdir(parents=True)
    made = VideoJob(video={"id": video_id, "status": status, "progress": 0,
                           "expires_at": expires_at}, spec={}, path=path)
    made.save()
    return made


def test_ids_sort_by_creation_and_are_checked() -> None:
    ids = [new_video_id() for _ in range(50)]
    assert ids == sorted(ids) and len(set(ids)) == 50
    jobs = VideoJobs(Path("/nonexistent"), JobLimits(), {})
    assert jobs.get("../../etc") is None and jobs.get("video_" + "0" * 32) is None


def test_folder_is_read_back_and_broken_jobs_are_removed(tmp_path: Path) -> None:
    done = job(tmp_path, "completed")
    (tmp_path / new_video_id()).mkdir()  # cut off before its job.json was written
    (tmp_path / "notes.txt").write_text("not a job")
    loaded = VideoJobs(tmp_path, JobLimits(), {})._load_all()
    assert [j.id for j in loaded] == [done.id]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([done.id, "notes.txt"])


async def test_expired_videos_are_hidden_then_purged(tmp_path: Path) -> None:
    jobs = VideoJobs(tmp_path, JobLimits(retention_s=60), {})
    old = job(tmp_path, "completed", expires_at=int(time.time()) - 1)
    fresh = job(tmp_path, "completed", expires_at=int(time.time()) + 600)
    pending = job(tmp_path, "queued", expires_at=int(time.time()) - 1)  # not finished: kept
    jobs.jobs = {j.id: j for j in (old, fresh, pending)}
    assert jobs.get(old.id) is None and jobs.get(fresh.id) is fresh
    await jobs.purge()
    assert set(jobs.jobs) == {fresh.id, pending.id} and not old.path.exists()


def test_listing_pages_by_id_either_way(tmp_path: Path) -> None:
    jobs = VideoJobs(tmp_path, JobLimits(), {})
    made = [job(tmp_path, "completed") for _ in range(5)]
    jobs.jobs = {j.id: j for j in made}
    page, more = jobs.listing(after=None, limit=2, ascending=True)
    assert [j.id for j in page] == [made[0].id, made[1].id] and more
    page, more = jobs.listing(after=made[1].id, limit=10, ascending=True)
    assert [j.id for j in page] == [j.id for j in made[2:]] and not more
    page, more = jobs.listing(after=made[2].id, limit=10, ascending=False)
    assert [j.id for j in page] == [made[1].id, made[0].id] and not more
