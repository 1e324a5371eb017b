"""Which model work goes first when sessions compete for one model.

Each local model runs one request at a time. With several conversations, the order of
the waiting requests decides who waits: a user who has finished speaking must not wait
behind another session's later sentences, or behind a speculative draft for a turn that
may not even end. The runtime marks its work with :data:`PRIORITY` (a context variable,
so it follows the task that calls the model, through a model worker's pipe as well), and
the models' :class:`PriorityExecutor` runs the most urgent request first, in arrival
order within one level. A request that has started is not stopped by the executor;
the local LLM gives way by itself (see :mod:`.local.llama`): a long answer that is ahead
of its listener ends its call while other work waits and queues the rest of itself
behind it, so another user's first words do not wait for this one's story.

Levels: :data:`URGENT` (a committed turn's transcription, an answer's LLM call and
first clause, a draft's too: what a user is waiting for now, or most likely will be),
:data:`NORMAL` (later clauses, speculative transcriptions), :data:`BACKGROUND` (partial
captions).
"""

from __future__ import annotations

import concurrent.futures
import heapq
import itertools
import threading
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

URGENT = 0
NORMAL = 1
BACKGROUND = 2
PRIORITY: ContextVar[int] = ContextVar("openrealtime_priority", default=NORMAL)


def later(level: int) -> int:
    """The level of what follows work at ``level`` (a response's later clauses)."""
    return min(level + 1, BACKGROUND)


class PriorityExecutor(concurrent.futures.Executor):
    """One thread running submitted calls most urgent first (:data:`PRIORITY` at the
    moment of ``submit``, which ``loop.run_in_executor`` calls in the caller's task)."""

    def __init__(self, thread_name: str = "model") -> None:
        self._name = thread_name
        self._queue: list[tuple[int, int, concurrent.futures.Future[Any], Callable[..., Any],
                                tuple[Any, ...], dict[str, Any]]] = []
        self._ready = threading.Condition()
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._closed = False

    def submit(self, fn: Callable[..., Any], /, *args: Any,
               **kwargs: Any) -> concurrent.futures.Future[Any]:
        return self.submit_at(PRIORITY.get(), fn, *args, **kwargs)

    def submit_at(self, level: int, fn: Callable[..., Any], /, *args: Any,
                  **kwargs: Any) -> concurrent.futures.Future[Any]:
        """``submit`` at ``level`` rather than the caller's :data:`PRIORITY` (work that
        queues its own continuation from the model's thread)."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        with self._ready:
            if self._closed:
                raise RuntimeError("cannot schedule new futures after shutdown")
            heapq.heappush(self._queue, (level, next(self._order), future, fn, args, kwargs))
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name=self._name,
                                                daemon=True)
                self._thread.start()
            self._ready.notify()
        return future

    def waiting(self) -> int:
        """Calls queued, not yet started."""
        with self._ready:
            return len(self._queue)

    def most_urgent_waiting(self) -> int | None:
        """The level of the most urgent call queued and not cancelled, or None."""
        with self._ready:
            levels = [item[0] for item in self._queue if not item[2].cancelled()]
        return min(levels, default=None)

    def _work(self) -> None:
        while True:
            with self._ready:
                while not self._queue and not self._closed:
                    self._ready.wait()
                if not self._queue:
                    return
                _, _, future, fn, args, kwargs = heapq.heappop(self._queue)
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(result)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._ready:
            self._closed = True
            if cancel_futures:
                for item in self._queue:
                    item[2].cancel()
                self._queue.clear()
            self._ready.notify_all()
            thread = self._thread
        if wait and thread is not None and thread is not threading.current_thread():
            thread.join()
