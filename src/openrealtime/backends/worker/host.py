"""The model worker process: one model role, serving every session of one server.

``python -m openrealtime.backends.worker.host ROLE CONFIG_JSON``

The worker loads the in-process backend of its role (the same classes the server used
to run itself), warms it up, says ``ready`` and then serves calls read from stdin,
writing results to the original stdout. Native libraries print to fd 1 now and then,
so fd 1 is pointed at stderr and the protocol uses a duplicate of the original.

Calls run as asyncio tasks of the worker's own loop; a ``cancel`` cancels one (the
backend's own cancellation then stops llama.cpp within a token, Piper between
sentences). When stdin closes — the server exited or dropped us — the worker exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import IO, Any

from ..base import BackendError, EchoOutput
from ..priority import PRIORITY
from .wire import WireClosed, read_message, write_message

log = logging.getLogger("openrealtime.worker")
MAX_VAD_STREAMS = 4096  # per-connection VAD states; the least recently used go first


@dataclass(slots=True)
class Handler:
    """What one role serves: ``calls`` return one value, ``streams`` async-iterate;
    ``info`` (the model's name and shape) goes to the server with ``ready``."""

    info: dict[str, Any]
    calls: dict[str, Callable[..., Awaitable[Any]]] = field(default_factory=dict)
    streams: dict[str, Callable[..., AsyncIterator[Any]]] = field(default_factory=dict)


def _vad(config: dict[str, Any]) -> Handler:
    from ..local.silero import SileroVAD

    vad = SileroVAD()
    vad.warmup()
    states: OrderedDict[str, Any] = OrderedDict()

    async def score(stream_id: str, windows: list[Any]) -> list[float]:
        state = states.get(stream_id)
        if state is None:
            state = states[stream_id] = vad.stream()
            while len(states) > MAX_VAD_STREAMS:
                states.popitem(last=False)
        states.move_to_end(stream_id)
        return [state.probability(w) for w in windows]

    async def close(stream_id: str) -> None:
        states.pop(stream_id, None)

    return Handler({"name": vad.name, "window_samples": vad.window_samples},
                   calls={"score": score, "close": close})


def _stt(config: dict[str, Any]) -> Handler:
    from ..local.whisper import WhisperSTT

    stt = WhisperSTT(**config)
    stt.warmup()
    return Handler({"name": stt.name, "timestamps": True}, calls={"transcribe": stt.transcribe})


def _llm(config: dict[str, Any]) -> Handler:
    from ..local.llama import LlamaLLM

    llm = LlamaLLM(**config)
    llm.warmup()
    return Handler({"name": llm.name, "context_tokens": llm.context_tokens},
                   streams={"stream": llm.stream})


def _tts(config: dict[str, Any]) -> Handler:
    from ..local.piper import PiperTTS

    tts = PiperTTS(**config)
    tts.warmup()
    return Handler({"name": tts.name, "sample_rate": tts.sample_rate},
                   streams={"synthesize": tts.synthesize})


def _vision(config: dict[str, Any]) -> Handler:
    from ..local.vision import LocalVision

    vision = LocalVision()
    vision.warmup()
    return Handler({"name": vision.name}, calls={"describe": vision.describe})


def _turn(config: dict[str, Any]) -> Handler:
    from ..local.smart_turn import SmartTurn

    model = SmartTurn(**config)
    model.warmup()
    return Handler({"name": model.name}, calls={"score": model.score})


def _echo(config: dict[str, Any]) -> Handler:
    from ..local.echo import EchoCancellers

    cancellers = EchoCancellers(**config)
    cancellers.warmup()

    async def process(stream_id: str, mic: Any, far: Any, lead: Any = None,
                      denoise: bool = False) -> EchoOutput:
        cleaned = cancellers.process(stream_id, mic, far, lead, denoise)
        return EchoOutput(cleaned, near_db=cancellers.get(stream_id).near_db)

    async def close(stream_id: str) -> None:
        cancellers.close(stream_id)

    return Handler({"name": cancellers.name, "latency_samples": cancellers.latency_samples},
                   calls={"process": process, "close": close})


ROLES: dict[str, Callable[[dict[str, Any]], Handler]] = {
    "vad": _vad, "stt": _stt, "llm": _llm, "tts": _tts, "vision": _vision, "turn": _turn,
    "echo": _echo,
}


class Host:
    """Runs calls and streams for one handler; owns the protocol's output pipe."""

    def __init__(self, role: str, handler: Handler, out: IO[bytes]) -> None:
        self.role = role
        self.handler = handler
        self.out = out
        self.tasks: dict[int, asyncio.Task[None]] = {}
        self.credits: dict[int, asyncio.Semaphore] = {}

    def send(self, message: tuple[Any, ...]) -> None:
        write_message(self.out, message)

    def dispatch(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "call":
            _, rid, method, args, kwargs, window, priority = message
            self.tasks[rid] = asyncio.get_running_loop().create_task(
                self._run(rid, method, args, kwargs, window, priority))
        elif kind == "credit":
            semaphore = self.credits.get(message[1])
            for _ in range(message[2] if semaphore is not None else 0):
                semaphore.release()  # type: ignore[union-attr]
        elif kind == "cancel":
            task = self.tasks.get(message[1])
            if task is not None:
                task.cancel()

    async def _run(self, rid: int, method: str, args: tuple[Any, ...],
                   kwargs: dict[str, Any], window: int | None, priority: int) -> None:
        PRIORITY.set(priority)  # (this task's own context: the model's queue reads it)
        try:
            if window is None:
                value = await self.handler.calls[method](*args, **kwargs)
                self.send(("end", rid, value))
            else:
                await self._stream(rid, self.handler.streams[method](*args, **kwargs), window)
                self.send(("end", rid, None))
        except asyncio.CancelledError:
            pass  # the server cancelled this call; it expects no answer
        except BackendError as exc:
            self.send(("error", rid, exc.code, exc.message))
        except Exception as exc:
            log.exception("%s worker: %s failed", self.role, method)
            self.send(("error", rid, f"{self.role}_error", f"{type(exc).__name__}: {exc}"))
        finally:
            self.tasks.pop(rid, None)
            self.credits.pop(rid, None)

    async def _stream(self, rid: int, items: AsyncIterator[Any], window: int) -> None:
        credits = self.credits[rid] = asyncio.Semaphore(window)
        async with contextlib.aclosing(items) as stream:  # type: ignore[type-var]
            while True:
                await credits.acquire()  # no item leaves before the server asked for it
                try:
                    item = await anext(stream)
                except StopAsyncIteration:
                    return
                self.send(("item", rid, item))


async def serve(role: str, handler: Handler, inbox: IO[bytes], out: IO[bytes]) -> None:
    host = Host(role, handler, out)
    loop = asyncio.get_running_loop()
    closed = asyncio.Event()

    def read() -> None:
        try:
            while True:
                loop.call_soon_threadsafe(host.dispatch, read_message(inbox))
        except (WireClosed, OSError, ValueError):
            pass
        finally:
            loop.call_soon_threadsafe(closed.set)

    threading.Thread(target=read, name=f"{role}-inbox", daemon=True).start()
    host.send(("ready", {**handler.info, "pid": os.getpid()}))
    await closed.wait()
    for task in list(host.tasks.values()):
        task.cancel()


def main(argv: list[str]) -> int:
    role, config = argv[1], json.loads(argv[2]) if len(argv) > 2 else {}
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything a native library prints goes to stderr, not into the protocol
    sys.stdout = sys.stderr
    logging.basicConfig(level=logging.WARNING,
                        format=f"%(asctime)s %(levelname)s {role}-worker: %(message)s")
    # A lower priority for work off the critical path: the CPU goes to the reply first.
    niceness = int(config.pop("nice", 0))
    if niceness:
        os.nice(niceness)
    try:
        handler = ROLES[role](config)
    except Exception as exc:  # a missing model file, a broken install: one clear line
        write_message(out, ("fatal", f"{type(exc).__name__}: {exc}"))
        return 1
    asyncio.run(serve(role, handler, sys.stdin.buffer, out))
    # The server is gone: leave now, without interpreter teardown (a native library's
    # threads and destructors racing it ended in std::terminate).
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
