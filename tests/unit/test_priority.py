"""Model work is served most urgent first: the executor's order, and the priority's way
from the runtime's task through a worker's pipe to the model's queue."""

from __future__ import annotations

import asyncio
import io
import threading

from openrealtime.backends.priority import (
    BACKGROUND,
    NORMAL,
    PRIORITY,
    URGENT,
    PriorityExecutor,
    later,
)
from openrealtime.backends.worker.host import Handler, Host
from openrealtime.backends.worker.wire import read_message


def test_waiting_calls_run_most_urgent_first_in_arrival_order() -> None:
    executor = PriorityExecutor("test")
    gate, started = threading.Event(), threading.Event()
    ran: list[str] = []

    def busy() -> None:
        started.set()
        gate.wait()

    executor.submit(busy)  # busy: the rest queue behind it
    assert started.wait(5)
    futures = []
    for name, level in [("caption", BACKGROUND), ("later-a", NORMAL), ("first-a", URGENT),
                        ("later-b", NORMAL), ("first-b", URGENT)]:
        token = PRIORITY.set(level)
        futures.append(executor.submit(ran.append, name))
        PRIORITY.reset(token)
    assert executor.waiting() == 5
    gate.set()
    for future in futures:
        future.result(timeout=5)
    assert ran == ["first-a", "first-b", "later-a", "later-b", "caption"]
    executor.shutdown()


def test_the_most_urgent_waiting_level_ignores_running_and_cancelled_calls() -> None:
    executor = PriorityExecutor("test")
    gate, started = threading.Event(), threading.Event()
    executor.submit_at(URGENT, lambda: (started.set(), gate.wait()))
    assert started.wait(5)
    assert executor.most_urgent_waiting() is None  # (the running call does not count)
    later_clause = executor.submit_at(NORMAL, lambda: None)
    first_clause = executor.submit_at(URGENT, lambda: None)
    assert executor.most_urgent_waiting() == URGENT
    first_clause.cancel()
    assert executor.most_urgent_waiting() == NORMAL
    gate.set()
    later_clause.result(timeout=5)
    assert executor.most_urgent_waiting() is None
    executor.shutdown()


def test_shutdown_cancels_what_waits() -> None:
    executor = PriorityExecutor("test")
    gate = threading.Event()
    running = executor.submit(gate.wait)
    waiting = executor.submit(lambda: "never")
    gate.set()
    running.result(timeout=5)
    executor.shutdown(cancel_futures=True)
    assert waiting.cancelled() or waiting.result() == "never"


def test_later_clauses_rank_one_level_lower() -> None:
    assert later(URGENT) == NORMAL and later(NORMAL) == BACKGROUND
    assert later(BACKGROUND) == BACKGROUND


async def test_a_workers_call_runs_at_the_callers_priority() -> None:
    async def level() -> int:
        return PRIORITY.get()

    out = io.BytesIO()
    host = Host("test", Handler({}, calls={"level": level}), out)
    host.dispatch(("call", 1, "level", (), {}, None, URGENT))
    host.dispatch(("call", 2, "level", (), {}, None, BACKGROUND))
    await asyncio.gather(*host.tasks.values())
    out.seek(0)
    answers = {tuple(read_message(out)[1:]) for _ in range(2)}
    assert answers == {(1, URGENT), (2, BACKGROUND)}
    assert PRIORITY.get() == NORMAL  # (the host's own context is untouched)
