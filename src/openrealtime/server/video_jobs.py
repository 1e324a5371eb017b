"""Videos-API jobs: kept on disk, each rendered by a worker process, a few at a time.

Every job is a folder ``videos_dir/<video id>/``: ``job.json`` (the video object as the
API shows it, plus the ``spec`` the worker reads), the inputs (``reference.*``,
``source.plan.json`` for a remix), the worker's outputs (``video.mp4``,
``thumbnail.webp``, ``spritesheet.jpg``, the plan, subtitles and self-check beside the
MP4) and ``worker.log``. The server process holds no rendering code: it starts
``python -m openrealtime.video.generation.job DIR`` (which lowers its own CPU priority),
reads progress lines from it, and kills its process group on delete, timeout or shutdown.
A worker that crashes fails its job (``status: failed`` with an ``error``), nothing else.

At start the folder is read back: finished jobs are served as they were, queued ones run,
and jobs that were running when the server stopped are queued again from the beginning
(their inputs are on disk; a render is deterministic). Ids start with the creation time
in hex, so sorting ids sorts by age (list pagination needs nothing else). One server per
folder: replicas need a folder each (shared job state would go to Redis).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import secrets
import shutil
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

VIDEO_ID = re.compile(r"^video_[0-9a-f]{32}$")
WORKER_MODULE = "openrealtime.video.generation.job"
WORKER_ENV = "OPENREALTIME_VIDEO_WORKER"  # (video/generation/job.py reads it)
PENDING = ("queued", "in_progress")
_SAVE_EVERY = 10  # percent of progress between two writes of job.json
_LINE_LIMIT = 1 << 20  # bytes of one line from a worker


def new_video_id() -> str:
    """``video_`` + the creation time in ns (16 hex digits) + 16 random hex digits."""
    return f"video_{time.time_ns():016x}{secrets.token_hex(8)}"


@dataclass(slots=True)
class VideoJob:
    """One job: ``video`` is the API's video object; ``spec`` what the worker makes."""

    video: dict[str, Any]
    spec: dict[str, Any]
    path: Path
    saved_progress: int = 0

    @property
    def id(self) -> str:
        return str(self.video["id"])

    @property
    def status(self) -> str:
        return str(self.video["status"])

    def save(self) -> None:
        """Write ``job.json`` atomically (a crash leaves the old or the new one)."""
        tmp = self.path / "job.json.tmp"
        tmp.write_text(json.dumps({"video": self.video, "spec": self.spec}, indent=1),
                       encoding="utf-8")
        os.replace(tmp, self.path / "job.json")
        self.saved_progress = int(self.video["progress"])

    @classmethod
    def load(cls, path: Path) -> VideoJob:
        data = json.loads((path / "job.json").read_text(encoding="utf-8"))
        return cls(video=data["video"], spec=data["spec"], path=path)


@dataclass(frozen=True, slots=True)
class JobLimits:
    running: int = 1  # jobs rendered at once
    pending: int = 32  # jobs queued or running; more are refused
    timeout_s: float = 1800.0  # one job's rendering time
    retention_s: float = 0.0  # finished jobs are deleted this long after; 0: kept


class QueueFull(Exception):
    """More jobs are pending than :attr:`JobLimits.pending`."""


class VideoJobs:
    """The jobs of one folder: create, look up, list, delete; a scheduler runs them."""

    def __init__(self, directory: Path, limits: JobLimits, worker: dict[str, Any]) -> None:
        self.directory = directory.expanduser()
        self.limits = limits
        self.worker = worker  # the worker's model settings (WORKER_ENV)
        self.worker_command = [sys.executable, "-m", WORKER_MODULE]
        self.jobs: dict[str, VideoJob] = {}
        self.queue: deque[str] = deque()
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.pids: dict[str, int] = {}  # running workers (process group ids)
        self.closing = False

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        """Read the folder back; re-queue what was running; start the queue."""
        for job in await asyncio.to_thread(self._load_all):
            self.jobs[job.id] = job
            if job.status in PENDING:
                if job.status == "in_progress":
                    log.warning("video %s was rendering when the server stopped: queued again",
                                job.id)
                job.video.update(status="queued", progress=0)
                await asyncio.to_thread(job.save)
                self.queue.append(job.id)
        await self.purge()
        self._pump()

    async def aclose(self) -> None:
        """Stop every worker; their jobs stay ``in_progress`` on disk (queued again at
        the next start)."""
        self.closing = True
        tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    def _load_all(self) -> list[VideoJob]:
        if not self.directory.is_dir():
            return []
        jobs = []
        for path in sorted(self.directory.iterdir()):
            if not VIDEO_ID.match(path.name):
                continue
            try:
                jobs.append(VideoJob.load(path))
            except (OSError, ValueError, KeyError) as exc:  # a job cut off while created
                log.warning("video folder %s is unreadable (%s): removed", path, exc)
                shutil.rmtree(path, ignore_errors=True)
        return jobs

    # ------------------------------------------------------------------ the API's verbs

    def get(self, video_id: str) -> VideoJob | None:
        job = self.jobs.get(video_id) if VIDEO_ID.match(video_id) else None
        if job is not None and _expired(job):
            return None
        return job

    def pending(self) -> int:
        return sum(1 for job in self.jobs.values() if job.status in PENDING)

    async def create(self, video: dict[str, Any], spec: dict[str, Any],
                     files: dict[str, bytes | Path]) -> VideoJob:
        """A new queued job; ``files``: name -> content or a file to copy into its folder."""
        if self.pending() >= self.limits.pending:
            raise QueueFull
        job = VideoJob(video=video, spec=spec, path=self.directory / video["id"])
        await asyncio.to_thread(_write_job, job, files)
        self.jobs[job.id] = job
        self.queue.append(job.id)
        self._pump()
        return job

    async def delete(self, video_id: str) -> bool:
        """Remove a job and its files; a running one is killed first (and waited for)."""
        job = self.jobs.pop(video_id, None) if VIDEO_ID.match(video_id) else None
        if job is None:
            return False
        with contextlib.suppress(ValueError):
            self.queue.remove(video_id)
        task = self.tasks.get(video_id)
        if task is not None:
            task.cancel()
            await asyncio.wait([task])
        await asyncio.to_thread(shutil.rmtree, job.path, True)
        return True

    def listing(self, *, after: str | None, limit: int, ascending: bool
                ) -> tuple[list[VideoJob], bool]:
        """One page of jobs, oldest or newest first, after the id ``after``."""
        ids = sorted((i for i, job in self.jobs.items() if not _expired(job)),
                     reverse=not ascending)
        if after:
            ids = [i for i in ids if (i > after if ascending else i < after)]
        return [self.jobs[i] for i in ids[:limit]], len(ids) > limit

    async def purge(self) -> None:
        """Delete finished jobs past their ``expires_at``."""
        for job in [j for j in self.jobs.values() if _expired(j)]:
            await self.delete(job.id)

    # ------------------------------------------------------------------ running

    def _pump(self) -> None:
        while not self.closing and self.queue and len(self.tasks) < self.limits.running:
            job = self.jobs[self.queue.popleft()]
            task = asyncio.create_task(self._run(job), name=f"video {job.id}")
            self.tasks[job.id] = task
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.tasks = {i: t for i, t in self.tasks.items() if t is not task}
        self._pump()

    async def _run(self, job: VideoJob) -> None:
        # job.json is written on the loop (a few hundred bytes): a save in a thread would
        # go on after a cancel, into a folder that delete is removing.
        job.video.update(status="in_progress", progress=0)
        job.save()
        outcome = await self._work(job)
        if "done" in outcome:
            now = int(time.time())
            job.video.update(status="completed", progress=100, completed_at=now)
            if self.limits.retention_s:
                job.video["expires_at"] = now + int(self.limits.retention_s)
        else:
            job.video.update(status="failed", error=outcome["error"])
            log.warning("video %s failed: %s", job.id, outcome["error"]["message"])
        job.save()

    async def _work(self, job: VideoJob) -> dict[str, Any]:
        """Run the worker to its end: ``{"done": True}`` or ``{"error": {...}}``."""
        env = {**os.environ, WORKER_ENV: json.dumps(self.worker)}
        try:
            with (job.path / "worker.log").open("ab") as stderr:
                proc = await asyncio.create_subprocess_exec(
                    *self.worker_command, str(job.path), stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE, stderr=stderr, env=env,
                    start_new_session=True, limit=_LINE_LIMIT)
        except OSError as exc:
            return {"error": {"code": "worker_crashed",
                              "message": f"The video worker could not start: {exc}"}}
        self.pids[job.id] = proc.pid
        outcome: dict[str, Any] = {}
        try:
            async with asyncio.timeout(self.limits.timeout_s):
                assert proc.stdout is not None
                async for line in proc.stdout:
                    outcome.update(self._message(job, line))
                await proc.wait()
        except TimeoutError:
            await _kill(proc)
            outcome = {"error": {"code": "video_timeout", "message":
                                 f"The video was not rendered within {self.limits.timeout_s:g} s."}}
        except asyncio.CancelledError:
            await _kill(proc)  # (delete or shutdown)
            raise
        finally:
            self.pids.pop(job.id, None)
            if proc.stdin is not None:
                proc.stdin.close()
        if "done" not in outcome and "error" not in outcome:
            outcome = {"error": {"code": "worker_crashed", "message":
                                 f"The video worker {_exit_text(proc.returncode)}."}}
        elif proc.returncode != 0 and "done" in outcome:
            outcome = {"error": {"code": "worker_crashed", "message":
                                 f"The video worker {_exit_text(proc.returncode)} at the end."}}
        return outcome

    def _message(self, job: VideoJob, line: bytes) -> dict[str, Any]:
        """One line from the worker; progress is applied here, the rest returned."""
        try:
            message = json.loads(line)
        except ValueError:
            return {}
        if not isinstance(message, dict):
            return {}
        percent = message.get("progress")
        if isinstance(percent, int) and job.video["progress"] < percent < 100:
            job.video["progress"] = percent
            if percent - job.saved_progress >= _SAVE_EVERY:
                job.save()  # (a few hundred bytes; the state seen after a crash)
        error = message.get("error")
        if isinstance(error, dict):
            return {"error": {"code": str(error.get("code") or "generation_failed"),
                              "message": str(error.get("message") or "failed")}}
        return {"done": True} if message.get("done") is True else {}


def _write_job(job: VideoJob, files: dict[str, bytes | Path]) -> None:
    job.path.mkdir(parents=True)
    try:
        for name, content in files.items():
            if isinstance(content, Path):
                shutil.copyfile(content, job.path / name)
            else:
                (job.path / name).write_bytes(content)
        job.save()
    except OSError:
        shutil.rmtree(job.path, ignore_errors=True)
        raise


def _expired(job: VideoJob) -> bool:
    expires = job.video.get("expires_at")
    return expires is not None and job.status not in PENDING and expires <= time.time()


async def _kill(proc: asyncio.subprocess.Process) -> None:
    """Kill the worker's whole process group and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    await proc.wait()


def _exit_text(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"died of {signal.Signals(-code).name}"
        except ValueError:
            return f"died of signal {-code}"
    return f"exited with status {code} without a result"
