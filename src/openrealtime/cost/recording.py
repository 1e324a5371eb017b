"""Session recordings: every server event of a session, one JSON text per line.

Layout of ``<record_dir>/<session id>.jsonl``::

    {"type":"recording.started","session_id":...,"model":...,"started_at":...}
    ...each server event, the JSON text exactly as sent...
    {"type":"recording.stopped","duration_s":...,"cpu_s":...,"events":...}

A file is capped (``max_bytes``, ``Settings.max_recording_bytes``): the event that would
pass the cap and every later one are dropped, after one line
``{"type":"recording.truncated","max_bytes":...,"events":<events recorded>}``; the
closing line is still written, and the whole file stays within the cap.

Audio deltas are the exception to "exactly as sent": by default their base64 ``delta``
is replaced by ``delta_bytes`` (the decoded size), because audio is most of a session's
bytes and none of its cost. :func:`read_recording` turns a file back into the figures
``openrealtime cost`` needs.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

STARTED, STOPPED = "recording.started", "recording.stopped"
TRUNCATED = "recording.truncated"
MAX_BYTES = 20 * 1024 * 1024  # a session's file, unless the server says otherwise
# Kept free under the cap for the truncation and closing lines (under 200 bytes each).
RESERVE_BYTES = 1024
# GA and beta names of the events that carry base64 audio in ``delta``.
AUDIO_DELTAS = frozenset({"response.output_audio.delta", "response.audio.delta"})
FLUSH_BYTES = 256 * 1024  # hand lines to the writer thread in chunks about this big
Send = Callable[[str], Awaitable[None]]


class RecordingError(ValueError):
    """A file that is not a readable recording; the message is one line."""


class SessionRecorder:
    """Collects one session's server events and writes them without blocking the loop.

    Lines gather in memory and go to a single writer thread in chunks of about
    :data:`FLUSH_BYTES` (one thread, so chunks land in order); :meth:`close` writes the
    rest and waits for the thread. With audio payloads dropped a chunk holds thousands of
    events, so the thread is rarely woken.
    """

    def __init__(self, path: Path, *, model: str, session_id: str,
                 keep_audio: bool = False, max_bytes: int = MAX_BYTES) -> None:
        self.path = path
        self.keep_audio = keep_audio
        self.max_bytes = max_bytes
        self.events = 0
        self.truncated = False
        self._bytes = 0  # of every line so far, written or buffered
        self._lines: list[str] = []
        self._size = 0
        self._mode = "w"  # the first chunk creates the file, later ones append
        self._pending: Future[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recording")
        self._wall_start = time.monotonic()
        # process_time() is process-wide: CPU spent by concurrent sessions (and the
        # server's idle work) in the same interval is charged to this one as well.
        self._cpu_start = time.process_time()
        self._add({"type": STARTED, "session_id": session_id, "model": model,
                   "started_at": datetime.now(UTC).isoformat(timespec="milliseconds")})

    def wrap(self, send: Send) -> Send:
        """Return a ``send`` that records each text after ``send`` has sent it."""
        async def recording_send(text: str) -> None:
            await send(text)
            self.record(text)

        return recording_send

    def record(self, text: str) -> None:
        """Add one sent server event (its JSON text)."""
        self.events += 1
        if self.truncated:
            return
        # Cheap pre-check: only frames that look like audio deltas are parsed.
        if not self.keep_audio and '"delta"' in text and 'audio.delta"' in text:
            text = _without_audio(text)
        if self._bytes + _size(text) > self.max_bytes - RESERVE_BYTES:
            self.truncated = True
            self._add({"type": TRUNCATED, "max_bytes": self.max_bytes,
                       "events": self.events - 1})
            return
        self._append(text)

    async def close(self) -> None:
        """Write the closing line and everything buffered; wait until it is on disk."""
        self._add({"type": STOPPED,
                   "duration_s": round(time.monotonic() - self._wall_start, 3),
                   "cpu_s": round(time.process_time() - self._cpu_start, 3),
                   "events": self.events})
        self._flush()
        try:
            if self._pending is not None:
                await asyncio.wrap_future(self._pending)
        finally:
            self._executor.shutdown(wait=False)

    def _add(self, data: dict[str, Any]) -> None:
        self._append(json.dumps(data, separators=(",", ":")))

    def _append(self, line: str) -> None:
        self._lines.append(line)
        self._size += len(line) + 1
        self._bytes += _size(line)
        if self._size >= FLUSH_BYTES:
            self._flush()

    def _flush(self) -> None:
        if not self._lines:
            return
        chunk = "\n".join(self._lines) + "\n"
        self._lines, self._size = [], 0
        self._pending = self._executor.submit(_write, self.path, chunk, self._mode)
        self._mode = "a"


def _write(path: Path, chunk: str, mode: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open(mode, encoding="utf-8") as file:
        file.write(chunk)


def _size(line: str) -> int:
    """Bytes of ``line`` and its newline in the file (``isascii`` is O(1))."""
    return (len(line) if line.isascii() else len(line.encode("utf-8"))) + 1


def _without_audio(text: str) -> str:
    data = json.loads(text)
    delta = data.get("delta")
    if data.get("type") not in AUDIO_DELTAS or not isinstance(delta, str):
        return text
    del data["delta"]
    # Decoded size from the base64 length: 3 bytes per 4 characters, less the padding.
    data["delta_bytes"] = len(delta) * 3 // 4 - delta[-2:].count("=")
    return json.dumps(data, separators=(",", ":"))


# ----------------------------------------------------------------- reading

@dataclass
class Recording:
    """What ``openrealtime cost`` needs from one recording."""

    path: Path
    model: str | None = None
    usages: list[dict[str, Any]] = field(default_factory=list)
    duration_s: float | None = None
    cpu_s: float | None = None
    events: int = 0
    truncated: bool = False  # the server's cap cut it short: usage is a lower bound


def read_recording(path: Path) -> Recording:
    """Parse a recording; raise :class:`RecordingError` if it is not one.

    A file of plain server events (no ``recording.*`` lines, e.g. a client-side log)
    is accepted too: it has usage but no duration or CPU time.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordingError(f"cannot read {path}: {exc}") from None
    recording = Recording(path)
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError:
            raise RecordingError(f"{path}:{number}: not a JSON line") from None
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise RecordingError(f"{path}:{number}: not a server event (no \"type\")")
        _take(recording, event)
    if recording.events == 0 and recording.model is None:
        raise RecordingError(f"{path}: no events (empty or not a recording)")
    return recording


def _take(recording: Recording, event: dict[str, Any]) -> None:
    kind = event["type"]
    if kind == STARTED:
        recording.model = event.get("model")
    elif kind == TRUNCATED:
        recording.truncated = True
    elif kind == STOPPED:
        recording.duration_s = _float(event.get("duration_s"))
        recording.cpu_s = _float(event.get("cpu_s"))
    else:
        recording.events += 1
        response = event.get("response")
        if kind == "response.done" and isinstance(response, dict):
            usage = response.get("usage")
            if isinstance(usage, dict):
                recording.usages.append(usage)


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None
