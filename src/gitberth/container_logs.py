"""What an app's containers printed, in engine-neutral terms: lines, followers, redaction.

``GET /apps/{name}/logs`` and ``gitberth logs`` read the output of every container labelled
with the app (optionally one service) through the runtime's :class:`LogReader` (the Docker one
is :mod:`gitberth.runtime.docker_logs`), each line tagged with its container and the engine's
timestamp, merged in time order. Following keeps one engine log stream per container open on a
thread of its own and hands complete lines to the caller; :meth:`LogFollower.close` closes the
engine streams, which ends those threads, so a client that goes away frees everything at once.

The lines are the containers' own output, shown to callers allowed to see that app. gitberth
writes none of them into its own logs or status, except the short tail of a failed rollout,
which :func:`redact` cleans first (see :mod:`gitberth.runtime.rollout`).
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from gitberth.core.resolved import ResolvedValue

MAX_TAIL = 10_000

MAX_LINE_CHARS = 16_384
REDACTED = "[redacted]"


@dataclass(frozen=True)
class LogLine:
    container: str
    service: str
    time: str
    """The engine's RFC 3339 timestamp of the line (nanoseconds), as it gave it."""
    line: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def split_timestamp(raw: str) -> tuple[str, str]:
    """``2024-05-01T12:00:00.123456789Z text`` (``timestamps=True``) into time and text."""
    stamp, sep, text = raw.partition(" ")
    if not sep or not stamp[:1].isdigit():
        return "", raw
    return stamp, text


def decode(chunk: bytes) -> str:
    return chunk.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class LogTarget:
    """One container (or task) whose output is read: its id, name and service."""

    id: str
    name: str
    service: str


class LogReader(Protocol):
    """Reads an app's output from an engine; each runtime has one (``Runtime.logs``)."""

    def targets(self, app: str, *, service: str | None = None) -> list[LogTarget]:
        """The app's containers (of *service* only, when given), sorted by name."""
        ...

    def read(
        self, app: str, *, service: str | None = None, tail: int = 100, since: float | None = None
    ) -> list[LogLine]:
        """The last *tail* lines of each container (since *since*, POSIX seconds), merged in
        time order."""
        ...

    def follow(
        self, app: str, *, service: str | None = None, tail: int = 10, since: float | None = None
    ) -> LogFollower:
        """Start following every container of the app; read lines from the returned follower."""
        ...


class LogFollower:
    """Lines from several engine log streams, one reader thread per stream."""

    def __init__(self) -> None:
        self.lines: queue.Queue[LogLine | None] = queue.Queue(maxsize=10_000)
        self._closers: list[Callable[[], None]] = []
        self._streams: list[Any] = []
        self._threads: list[threading.Thread] = []
        self._closed = threading.Event()

    @property
    def containers(self) -> int:
        return len(self._streams)

    def add(self, target: LogTarget, stream: Any) -> None:
        self._streams.append(stream)
        thread = threading.Thread(
            target=self._pump, args=(target, stream), name="gitberth-logs", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def _pump(self, target: LogTarget, stream: Iterable[bytes]) -> None:
        pending = ""
        try:
            for chunk in stream:
                if self._closed.is_set():
                    break
                pending += decode(chunk)
                *complete, pending = pending.split("\n")
                for text in complete:
                    self._put(target, text)
        except Exception:  # noqa: BLE001 - the stream ends when closed or when the container goes
            pass
        if pending and not self._closed.is_set():
            self._put(target, pending)
        with contextlib.suppress(queue.Full):
            self.lines.put_nowait(None)  # this stream ended

    def _put(self, target: LogTarget, text: str) -> None:
        stamp, line = split_timestamp(text.rstrip("\r"))
        with contextlib.suppress(queue.Full):  # a reader far behind loses lines, not memory
            self.lines.put(
                LogLine(target.name, target.service, stamp, line[:MAX_LINE_CHARS]), timeout=1.0
            )

    def alive(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def on_close(self, closer: Callable[[], None]) -> None:
        self._closers.append(closer)

    def close(self) -> None:
        """Close every engine stream (their threads end soon after), then the connection."""
        self._closed.set()
        for stream in self._streams:
            with contextlib.suppress(Exception):
                stream.close()
        for closer in self._closers:
            with contextlib.suppress(Exception):
                closer()


def secret_values(
    env: Mapping[str, ResolvedValue], files: Mapping[str, ResolvedValue]
) -> list[str]:
    """Every secret value a container received (env from secrets, and secret files), with each
    line of a multi-line value too, longest first: what :func:`redact` removes."""
    values: set[str] = set()
    for item in (*env.values(), *files.values()):
        if item.origin.secret is None:
            continue
        value = item.value.get_secret_value()
        if value:
            values.add(value)
            values.update(line.strip() for line in value.splitlines() if len(line.strip()) >= 4)
    return sorted(values, key=len, reverse=True)


def redact(lines: Iterable[str], values: Iterable[str]) -> list[str]:
    """*lines* with every known secret value replaced by ``[redacted]``.

    Used wherever gitberth itself writes a container's output (a failed rollout's reason goes
    to status, events, logs and notifications): what a container prints is its business, but
    gitberth must not copy a value it knows into anything it writes.
    """
    known = [v for v in values if v]
    cleaned = []
    for line in lines:
        for value in known:
            line = line.replace(value, REDACTED)
        cleaned.append(line)
    return cleaned


def tail_text(lines: Iterator[str] | list[str], *, count: int = 10, width: int = 200) -> str:
    """The last *count* lines, each cut to *width* characters, for an error message."""
    kept = [line if len(line) <= width else line[:width] + "…" for line in list(lines)[-count:]]
    return "\n".join(kept)
