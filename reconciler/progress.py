"""Progress of a long apply, for a person at a terminal or reading a CI log.

On a terminal it is a bar that redraws in place. Anywhere else (a CI log) it is a
line every few seconds, `batch N of M, U of T users settled, F failed, 12 s`,
written by a small background thread so that a long wait (a Retry-After, an
asynchronous request being polled) still shows the run is alive, and what it
waits for.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

import click

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

#: Seconds between two progress lines in a log.
LOG_INTERVAL = 5.0


@dataclass
class Snapshot:
    batch: int = 0
    batches: int = 0
    settled: int = 0
    users: int = 0
    failed: int = 0
    waiting_for: str = ""


class Progress:
    """Receives the applier's progress; shows nothing (the quiet form)."""

    def start(self, batches: int, users: int) -> None:
        """The apply is about to send `batches` requests for `users` users."""

    def update(self, batch: int, settled: int, failed: int) -> None:
        """`batch` requests are done; `settled` users have an outcome, `failed` failed."""

    def waiting(self, what: str) -> None:
        """A wait began (empty: it ended); `what` says what for."""

    def finish(self) -> None:
        """The writes are over."""


class LogProgress(Progress):
    """A line every `interval` seconds on `stream`, while anything is under way."""

    def __init__(
        self,
        stream: TextIO,
        *,
        interval: float = LOG_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._state = Snapshot()
        self._started = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, batches: int, users: int) -> None:
        self._started = self._clock()
        with self._lock:
            self._state = Snapshot(batches=batches, users=users)
        self._emit()
        self._thread = threading.Thread(target=self._tick, name="progress", daemon=True)
        self._thread.start()

    def update(self, batch: int, settled: int, failed: int) -> None:
        with self._lock:
            self._state.batch, self._state.settled, self._state.failed = batch, settled, failed

    def waiting(self, what: str) -> None:
        with self._lock:
            self._state.waiting_for = what
        if what:
            self._emit()

    def finish(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._emit()

    def line(self) -> str:
        with self._lock:
            s = Snapshot(**vars(self._state))
        elapsed = self._clock() - self._started
        text = (
            f"apply: batch {s.batch} of {s.batches}, {s.settled} of {s.users} users settled, "
            f"{s.failed} failed, {elapsed:.0f} s"
        )
        if s.waiting_for:
            text += f"; waiting for {s.waiting_for}"
        return text

    def _emit(self) -> None:
        self._stream.write(self.line() + "\n")
        self._stream.flush()

    def _tick(self) -> None:
        while not self._stop.wait(self._interval):
            self._emit()


class BarProgress(Progress):
    """click's progress bar, counted in users, on a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._bar: ProgressBar[int] | None = None
        self._shown = 0

    def start(self, batches: int, users: int) -> None:
        self._bar = click.progressbar(length=users, label="Applying", file=self._stream)
        self._bar.__enter__()

    def update(self, batch: int, settled: int, failed: int) -> None:
        if self._bar is not None:
            self._bar.update(settled - self._shown)
            self._shown = settled

    def waiting(self, what: str) -> None:
        if self._bar is not None:
            self._bar.label = f"Applying (waiting for {what})" if what else "Applying"

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)


def for_stream(stream: TextIO, *, quiet: bool) -> Progress:
    """A bar on a terminal, lines in a log, nothing when quiet."""
    if quiet:
        return Progress()
    if stream.isatty():
        return BarProgress(stream)
    return LogProgress(stream)
