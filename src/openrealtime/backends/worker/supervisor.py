"""Supervised model worker processes, as seen from the server.

A :class:`Worker` owns one child process for one model role, shared by every session.
Requests go down its stdin; a reader thread routes replies to the asyncio queue of
the request that waits for them (whatever event loop it runs on, so a worker outlives
the loops of tests that share it). Everything here is threads and pipes: nothing
native runs in the server process.

When the child dies — a segfault in espeak-ng, an abort in llama.cpp, the kernel's
OOM killer — its pipe closes at once: every request in flight fails with a
:class:`BackendError` naming the role and the cause (so only the responses using it
end ``failed``), and the worker is started again with a short backoff. A watchdog
kills a child that owes a reply and has said nothing for ``stall_s`` (a hang), or
whose RSS passes ``max_rss_mb``; the same path then restarts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from ..base import BackendError
from ..priority import NORMAL, PRIORITY
from .wire import WireClosed, read_message, write_message

log = logging.getLogger(__name__)
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
RESTART_BACKOFF_S = (0.2, 1.0, 3.0, 10.0)  # consecutive quick crashes back off further
STABLE_S = 30.0  # a worker that lived this long resets the backoff


@dataclass(slots=True)
class _Request:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[tuple[Any, ...]]
    granted: int = 1  # replies the worker owes us (a call: one; a stream: its window)
    received: int = 0
    last_progress: float = field(default_factory=time.monotonic)

    def deliver(self, message: tuple[Any, ...]) -> None:
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, message)
        except RuntimeError:  # that event loop is closed: nobody waits any more
            pass


@dataclass(slots=True)
class _Child:
    process: subprocess.Popen[bytes]
    started: float
    info: dict[str, Any]
    kill_reason: str | None = None
    # Messages for the child, written by its own thread: a hung child with a full pipe
    # then blocks that thread, never the event loop (and so never the other sessions).
    outbox: queue.SimpleQueue[tuple[Any, ...] | None] = field(default_factory=queue.SimpleQueue)

    def write_all(self) -> None:
        """The writer thread: send queued messages in order until told to stop."""
        while (message := self.outbox.get()) is not None:
            try:
                write_message(self.process.stdin, message)  # type: ignore[arg-type]
            except (OSError, ValueError):  # the child is gone; its reader fails the requests
                return


class Worker:
    """One supervised model process. Thread-safe; usable from any event loop."""

    def __init__(self, role: str, config: dict[str, Any] | None = None, *,
                 stall_s: float = 30.0, max_rss_mb: float = 4096.0,
                 start_timeout_s: float = 180.0, ready_wait_s: float = 30.0,
                 max_in_flight: int = 256) -> None:
        self.role = role
        self.config = config or {}
        self.stall_s = stall_s
        self.max_rss_mb = max_rss_mb
        self.start_timeout_s = start_timeout_s
        self.ready_wait_s = ready_wait_s
        self.max_in_flight = max_in_flight
        self.state = "stopped"  # starting | ready | restarting | failed | stopped
        self.restarts = 0
        self.last_exit: str | None = None
        self.info: dict[str, Any] = {}
        self._child: _Child | None = None
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._requests: dict[int, _Request] = {}
        self._ids = itertools.count(1)
        self._quick_crashes = 0
        self._closing = False
        self._watchdog: threading.Thread | None = None
        self._last_message = 0.0  # monotonic time of the child's latest reply

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start the child and wait until its model is loaded. Raises BackendError."""
        self.state = "starting"
        self._spawn()
        if self._watchdog is None:
            self._watchdog = threading.Thread(target=self._watch, daemon=True,
                                              name=f"{self.role}-watchdog")
            self._watchdog.start()

    def close(self) -> None:
        """Stop the child (SIGTERM, then SIGKILL) and fail whatever still waits."""
        self._closing = True
        self.state = "stopped"
        child = self._child
        if child is not None:
            with contextlib.suppress(OSError):
                child.process.stdin.close()  # type: ignore[union-attr]
            try:
                child.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
        self._fail_all("the server is shutting down", code="worker_stopped")

    def kill(self, reason: str) -> None:
        """Kill the child now (the restart path follows); used for hangs and memory."""
        child = self._child
        if child is None or child.process.poll() is not None:
            return
        child.kill_reason = reason
        log.error("%s worker (pid %d): %s; killing it", self.role, child.process.pid, reason)
        with contextlib.suppress(ProcessLookupError):
            child.process.send_signal(signal.SIGKILL)

    def health(self) -> dict[str, Any]:
        child = self._child
        return {"state": self.state, "pid": child.process.pid if child else None,
                "restarts": self.restarts, "in_flight": len(self._requests),
                "last_exit": self.last_exit, "model": self.info.get("name")}

    @property
    def pid(self) -> int | None:
        child = self._child
        return child.process.pid if child is not None else None

    def _spawn(self) -> None:
        command = [sys.executable, "-m", "openrealtime.backends.worker.host", self.role,
                   json.dumps(self.config)]
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   start_new_session=True)
        started = time.monotonic()
        try:
            first = self._first_message(process)
        except BaseException:
            process.kill()
            process.wait()
            for pipe in (process.stdin, process.stdout):
                pipe.close()  # type: ignore[union-attr]
            raise
        if first[0] != "ready":
            process.wait()
            for pipe in (process.stdin, process.stdout):
                pipe.close()  # type: ignore[union-attr]
            raise BackendError(f"{self.role} worker could not load its model: {first[1]}",
                               code="worker_start_failed")
        child = _Child(process, started, dict(first[1]))
        with self._lock:
            self._child = child
            self.info = child.info
            self.state = "ready"
            self._ready.set()
        threading.Thread(target=self._read, args=(child,), daemon=True,
                         name=f"{self.role}-reader").start()
        threading.Thread(target=child.write_all, daemon=True,
                         name=f"{self.role}-writer").start()
        log.info("%s worker ready (pid %d, %s) in %.1f s", self.role, process.pid,
                 child.info.get("name"), time.monotonic() - started)

    def _first_message(self, process: subprocess.Popen[bytes]) -> tuple[Any, ...]:
        result: list[tuple[Any, ...]] = []

        def first() -> None:
            with contextlib.suppress(WireClosed, OSError):
                result.append(read_message(process.stdout))  # type: ignore[arg-type]

        reader = threading.Thread(target=first, daemon=True)
        reader.start()
        reader.join(self.start_timeout_s)
        if not result:
            code = process.poll()
            why = (f"exited with {_exit_text(code)}" if code is not None
                   else f"did not load within {self.start_timeout_s:g} s")
            raise BackendError(f"{self.role} worker {why}", code="worker_start_failed")
        return result[0]

    # ------------------------------------------------------------------ requests

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Run ``method`` in the worker and return its value."""
        rid, request = await self._open(method, args, kwargs, None)
        message: tuple[Any, ...] | None = None
        try:
            message = await request.queue.get()
        finally:
            self._forget(rid, cancel=message is None)
        return self._value(message)

    async def stream(self, method: str, *args: Any, ahead: int = 2,
                     **kwargs: Any) -> AsyncIterator[Any]:
        """Iterate the items of a streaming ``method``; at most ``ahead`` run ahead."""
        rid, request = await self._open(method, args, kwargs, ahead)
        finished = False
        try:
            while True:
                message = await request.queue.get()
                if message[0] != "item":
                    finished = True
                    self._value(message)
                    return
                yield message[2]
                request.granted += 1
                request.last_progress = time.monotonic()
                self._send(("credit", rid, 1))
        finally:
            self._forget(rid, cancel=not finished)

    def notify(self, method: str, *args: Any) -> None:
        """Run ``method`` in the worker without waiting for it (nothing if it is down)."""
        if self._ready.is_set():
            with contextlib.suppress(BackendError):
                self._send(("call", next(self._ids), method, args, {}, None, NORMAL))

    async def _open(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any],
                    window: int | None) -> tuple[int, _Request]:
        await self._wait_ready()
        if len(self._requests) >= self.max_in_flight:
            raise BackendError(f"the {self.role} worker is overloaded "
                               f"({self.max_in_flight} requests in flight)", code="worker_busy")
        rid = next(self._ids)
        request = _Request(asyncio.get_running_loop(), asyncio.Queue(), granted=window or 1)
        with self._lock:
            self._requests[rid] = request
        try:
            # (the caller's priority: the worker's model queue orders by it)
            self._send(("call", rid, method, args, kwargs, window, PRIORITY.get()))
        except BaseException:
            self._forget(rid, cancel=False)
            raise
        return rid, request

    async def _wait_ready(self) -> None:
        """Wait out a restart (bounded), so the next turn works once the model is back."""
        deadline = time.monotonic() + self.ready_wait_s
        while not self._ready.is_set():
            if self.state in ("failed", "stopped") or time.monotonic() > deadline:
                raise BackendError(f"the {self.role} worker is {self.state}"
                                   + (f" (last exit: {self.last_exit})" if self.last_exit else ""),
                                   code="worker_unavailable")
            await asyncio.sleep(0.05)

    def _value(self, message: tuple[Any, ...]) -> Any:
        if message[0] == "end":
            return message[2]
        raise BackendError(message[3], code=message[2])

    def _send(self, message: tuple[Any, ...]) -> None:
        child = self._child
        if child is None:
            raise BackendError(f"the {self.role} worker is not running",
                               code="worker_unavailable")
        if child.process.poll() is not None:
            raise BackendError(f"the {self.role} worker is gone", code="worker_crashed")
        child.outbox.put(message)

    def _forget(self, rid: int, *, cancel: bool) -> None:
        with self._lock:
            request = self._requests.pop(rid, None)
        if cancel and request is not None:
            with contextlib.suppress(BackendError):
                self._send(("cancel", rid))

    # ------------------------------------------------------------------ child side

    def _read(self, child: _Child) -> None:
        """Route the child's replies until its pipe closes; then fail and restart."""
        try:
            while True:
                message = read_message(child.process.stdout)  # type: ignore[arg-type]
                with self._lock:
                    request = self._requests.get(message[1]) if len(message) > 1 else None
                self._last_message = time.monotonic()
                if request is not None:
                    request.received += 1
                    request.last_progress = time.monotonic()
                    request.deliver(message)
        except (WireClosed, OSError, ValueError, EOFError):
            pass
        code = child.process.wait()
        child.outbox.put(None)  # stop its writer thread
        for pipe in (child.process.stdin, child.process.stdout):
            with contextlib.suppress(OSError):
                pipe.close()  # type: ignore[union-attr]
        self._on_exit(child, code)

    def _on_exit(self, child: _Child, code: int) -> None:
        cause = child.kill_reason or f"exited with {_exit_text(code)}"
        with self._lock:
            if self._child is child:
                self._ready.clear()
                self.last_exit = cause
        if self._closing:
            return
        log.error("%s worker (pid %d) %s", self.role, child.process.pid, cause)
        self.state = "restarting"
        self._fail_all(f"the {self.role} worker ({self.info.get('name', self.role)}) {cause}; "
                       "it is being restarted", code="worker_crashed")
        quick = time.monotonic() - child.started < STABLE_S
        self._quick_crashes = self._quick_crashes + 1 if quick else 0
        threading.Thread(target=self._restart, daemon=True,
                         name=f"{self.role}-restart").start()

    def _restart(self) -> None:
        delay = RESTART_BACKOFF_S[min(self._quick_crashes, len(RESTART_BACKOFF_S)) - 1] \
            if self._quick_crashes else RESTART_BACKOFF_S[0]
        while not self._closing:
            time.sleep(delay)
            try:
                self._spawn()
                self.restarts += 1
                if self._closing:  # close() ran while this child was starting
                    self.close()
                return
            except BackendError as exc:
                log.error("%s worker restart failed: %s", self.role, exc.message)
                self.last_exit = exc.message
                delay = RESTART_BACKOFF_S[-1]

    def _fail_all(self, message: str, *, code: str) -> None:
        with self._lock:
            waiting = list(self._requests.values())
        for request in waiting:
            request.deliver(("error", 0, code, message))

    def _watch(self) -> None:
        """Kill a child that hangs while it owes a reply, or that grows past its memory cap."""
        while not self._closing:
            time.sleep(0.2)
            child = self._child
            if child is None or child.process.poll() is not None or not self._ready.is_set():
                continue
            now = time.monotonic()
            with self._lock:
                owed = [r for r in self._requests.values() if r.received < r.granted]
            # A request queued behind other sessions' work is not a hang: the child is
            # stalled only when it owes a reply and has sent nothing at all for stall_s.
            if owed and now - max(self._last_message,
                                  min(r.last_progress for r in owed)) > self.stall_s:
                self.kill(f"stalled: no reply for {self.stall_s:g} s")
                continue
            rss_mb = _rss_mb(child.process.pid)
            if rss_mb > self.max_rss_mb:
                self.kill(f"ran out of memory: RSS {rss_mb:.0f} MiB over the "
                          f"{self.max_rss_mb:g} MiB limit")


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * PAGE_BYTES / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def _exit_text(code: int | None) -> str:
    if code is None:
        return "no exit code"
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"
