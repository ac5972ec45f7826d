from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from reconciler import redact


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    redact.forget_all()
    yield
    redact.forget_all()


def test_registered_secret_is_masked_everywhere_in_text() -> None:
    redact.register("tok-SECRET-1234")
    assert redact.redact("a tok-SECRET-1234 b tok-SECRET-1234") == "a [REDACTED] b [REDACTED]"


def test_nothing_registered_changes_nothing() -> None:
    assert redact.redact("tok-SECRET-1234") == "tok-SECRET-1234"


def test_short_secrets_are_not_registered() -> None:
    redact.register("ab")
    assert redact.redact("abc") == "abc"


def test_longest_secret_is_masked_whole() -> None:
    redact.register("abcd")
    redact.register("abcdefgh")
    assert redact.redact("xabcdefghx") == "x[REDACTED]x"


def test_logging_filter_masks_formatted_message(caplog: pytest.LogCaptureFixture) -> None:
    redact.register("tok-SECRET-1234")
    logger = logging.getLogger("reconciler.test_redact")
    logger.addFilter(redact.RedactingFilter())
    with caplog.at_level(logging.WARNING, logger="reconciler.test_redact"):
        logger.warning("server said %s", "tok-SECRET-1234")
    assert "tok-SECRET-1234" not in caplog.text
    assert "[REDACTED]" in caplog.text


def test_bytes_written_through_the_stream_are_masked_too() -> None:
    import io

    redact.register("tok-SECRET-1234")
    inner = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    stream = redact.RedactingStream(inner)
    stream.write("text tok-SECRET-1234\n")
    stream.buffer.write(b"bytes tok-SECRET-1234\n")
    stream.flush()
    inner.flush()
    written = inner.buffer.getvalue()  # type: ignore[attr-defined]
    assert b"tok-SECRET-1234" not in written
    assert written.count(b"[REDACTED]") == 2
