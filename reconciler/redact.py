"""The one place that keeps API tokens out of every output.

A client registers its token when it is opened; everything the tool writes
(stdout, stderr, logs, plan files, reports) passes through `redact` on the way
out. Masking at the exit rather than at each source is what makes it a
guarantee: a server may echo the token back in any field, id or message, and
a new code path cannot forget to mask.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO, TextIO

MASK = "[REDACTED]"
# Shorter strings would mask ordinary text; no real token is this short.
MIN_SECRET_LENGTH = 4

_lock = threading.Lock()
_secrets: tuple[str, ...] = ()


def register(secret: str) -> None:
    """Mask `secret` in every later output of this process."""
    global _secrets
    secret = secret.strip()
    if len(secret) < MIN_SECRET_LENGTH:
        return
    with _lock:
        if secret not in _secrets:
            # Longest first, so a token that contains another is masked whole.
            _secrets = tuple(sorted((*_secrets, secret), key=len, reverse=True))


def forget_all() -> None:
    """Drop every registered secret (for tests that run many commands in one process)."""
    global _secrets
    with _lock:
        _secrets = ()


def redact(text: str) -> str:
    """`text` with every registered secret replaced by MASK."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in the formatted message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def redact_bytes(data: bytes) -> bytes:
    """`data` with every registered secret (a token is ASCII) replaced by MASK."""
    for secret in _secrets:
        raw = secret.encode("utf-8")
        if raw in data:
            data = data.replace(raw, MASK.encode("ascii"))
    return data


class _RedactingBinary:
    """The bytes side of RedactingStream: click writes bytes through `buffer`."""

    def __init__(self, inner: BinaryIO) -> None:
        self._inner = inner

    def write(self, data: bytes) -> int:
        self._inner.write(redact_bytes(bytes(data)))
        return len(data)

    def flush(self) -> None:
        self._inner.flush()


class RedactingStream:
    """A text stream that masks secrets in everything written through it, text or bytes."""

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner
        self.encoding = getattr(inner, "encoding", "utf-8")
        self.errors = getattr(inner, "errors", "strict")
        binary = getattr(inner, "buffer", None)
        if binary is not None:
            self.buffer = _RedactingBinary(binary)

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError("RedactingStream takes text only")
        self._inner.write(redact(text))
        return len(text)

    def flush(self) -> None:
        self._inner.flush()

    def isatty(self) -> bool:
        return bool(getattr(self._inner, "isatty", lambda: False)())

    def fileno(self) -> int:
        return self._inner.fileno()


@contextmanager
def redacted_output() -> Iterator[None]:
    """Route sys.stdout and sys.stderr through RedactingStream for the duration."""
    saved = sys.stdout, sys.stderr
    sys.stdout = RedactingStream(saved[0])
    sys.stderr = RedactingStream(saved[1])
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
