"""Messages between the server and a model worker: length-prefixed pickles over a pipe.

Both ends are our own processes started from the same installation, so pickle is
safe here and carries numpy arrays and the backend dataclasses as they are. A frame
is a 4-byte big-endian length followed by that many bytes of pickle (protocol 5).

Server → worker:  ``("call", rid, method, args, kwargs, window)``, ``("credit", rid, n)``,
                  ``("cancel", rid)``
Worker → server:  ``("ready", info)``, ``("fatal", message)``,
                  ``("item", rid, value)``, ``("end", rid, value)``,
                  ``("error", rid, code, message)``

``window`` is None for a call that returns one value, else the number of stream items
the worker may send before it must wait for a ``credit``: the consumer's pace reaches
the model (a paused pipeline pauses the LLM), as it does in-process.
"""

from __future__ import annotations

import pickle
import struct
from typing import IO, Any

HEADER = struct.Struct(">I")
MAX_MESSAGE_BYTES = 256 * 1024 * 1024  # far above any audio we send; guards a corrupt length


class WireClosed(Exception):
    """The other end closed the pipe (or sent a corrupt frame)."""


def write_message(stream: IO[bytes], message: tuple[Any, ...]) -> None:
    payload = pickle.dumps(message, protocol=5)
    stream.write(HEADER.pack(len(payload)) + payload)
    stream.flush()


def read_message(stream: IO[bytes]) -> tuple[Any, ...]:
    header = _read_exact(stream, HEADER.size)
    (size,) = HEADER.unpack(header)
    if size > MAX_MESSAGE_BYTES:
        raise WireClosed(f"corrupt frame length {size}")
    message = pickle.loads(_read_exact(stream, size))
    if not isinstance(message, tuple) or not message:
        raise WireClosed(f"unexpected message {type(message).__name__}")
    return message


def _read_exact(stream: IO[bytes], size: int) -> bytes:
    chunks: list[bytes] = []
    while size:
        chunk = stream.read(size)
        if not chunk:
            raise WireClosed("end of stream")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)
