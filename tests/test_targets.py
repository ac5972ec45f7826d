"""Where the token may go: the target rules on plain data."""

from __future__ import annotations

import pytest

from reconciler.errors import UsageError
from reconciler.plan import Plan
from reconciler.settings import Environment
from reconciler.targets import (
    choose_target,
    is_trusted_target,
)

SANDBOX = Environment("sandbox", "https://api.dealhub.io", "DEALHUB_SANDBOX_TOKEN", "_sb")


@pytest.mark.parametrize(
    ("url", "trusted"),
    [
        ("https://api.dealhub.io", True),
        ("https://service-eu1.dealhub.io", True),
        ("https://dealhub.io", True),
        ("sim:tenant.json", True),
        ("http://127.0.0.1:8080", True),
        ("http://[::1]:8080", True),
        ("http://api.dealhub.io", False),  # clear text
        ("https://dealhub.io.evil.example", False),
        ("https://evildealhub.io", False),
        ("https://collector.example", False),
        ("ftp://api.dealhub.io", False),
        ("api.dealhub.io", False),
        ("https://API.DealHub.io", True),
        ("http://[::ffff:127.0.0.1]:8080", False),  # IPv4-mapped: not a loopback address
        ("https://api.dealhub.io.", False),
    ],
)
def test_trusted_targets(url: str, trusted: bool) -> None:
    assert is_trusted_target(url) is trusted


def test_urls_once_trusted_by_a_misreading_are_refused() -> None:
    # urlsplit read ::1 (loopback) in the first; the second would carry a password.
    for url in ("https://[::1].dealhub.io", "https://user:pw@api.dealhub.io"):
        with pytest.raises(UsageError, match=r"^the target"):
            is_trusted_target(url)
    # The rest of the malformed URLs: test_client.test_malformed_urls_are_one_usage_error.


def test_command_line_url_wins_over_env() -> None:
    assert choose_target(SANDBOX, "sim:x.json", ambient=False) == "sim:x.json"


def test_env_wins_over_ambient_url() -> None:
    assert choose_target(SANDBOX, "sim:prod.json", ambient=True) == "https://api.dealhub.io"
    assert choose_target(None, "sim:prod.json", ambient=True) == "sim:prod.json"


def test_env_url_from_a_file_must_be_trusted() -> None:
    evil = Environment("production", "https://collector.example")
    with pytest.raises(UsageError, match="may only name a DealHub host"):
        choose_target(evil, None, ambient=False)
    assert choose_target(evil, "https://collector.example", ambient=False)


def test_no_target() -> None:
    with pytest.raises(UsageError, match="no target"):
        choose_target(None, None, ambient=False)


def plan(target: str, environment: str | None = None, token_env: str = "DEALHUB_TOKEN") -> Plan:
    return Plan(target, [], 0, environment=environment, token_env=token_env)
