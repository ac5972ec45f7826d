"""Where the token may go: the target rules on plain data."""

from __future__ import annotations

import pytest

from reconciler import providers
from reconciler.errors import UsageError
from reconciler.model import Plan
from reconciler.providers.dealhub.provider import DEALHUB
from reconciler.settings import Environment, SystemTarget
from reconciler.targets import by_system, is_trusted_target, system_target

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


@pytest.fixture
def no_ambient(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("DEALHUB_API_URL", "PIPEDRIVE_API_URL"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_command_line_url_wins_over_env(no_ambient: pytest.MonkeyPatch) -> None:
    assert system_target(DEALHUB, SANDBOX, "sim:x.json") == ("sim:x.json", "DEALHUB_SANDBOX_TOKEN")


def test_env_wins_over_ambient_url(no_ambient: pytest.MonkeyPatch) -> None:
    no_ambient.setenv("DEALHUB_API_URL", "sim:prod.json")
    assert system_target(DEALHUB, SANDBOX, None)[0] == "https://api.dealhub.io"
    assert system_target(DEALHUB, None, None) == ("sim:prod.json", "DEALHUB_TOKEN")


def test_env_url_from_a_file_must_be_trusted(no_ambient: pytest.MonkeyPatch) -> None:
    evil = Environment("production", "https://collector.example")
    with pytest.raises(UsageError, match="may only name a DealHub host"):
        system_target(DEALHUB, evil, None)
    assert system_target(DEALHUB, evil, "https://collector.example")


def test_a_pipedrive_target_from_a_file_must_be_a_pipedrive_host(
    no_ambient: pytest.MonkeyPatch,
) -> None:
    pipedrive = providers.get("pipedrive")
    good = Environment(
        "production",
        "",
        systems={"pipedrive": SystemTarget("https://acme.pipedrive.com", "PIPEDRIVE_X")},
    )
    assert system_target(pipedrive, good, None) == ("https://acme.pipedrive.com", "PIPEDRIVE_X")
    evil = Environment(
        "production",
        "",
        systems={"pipedrive": SystemTarget("https://acme.dealhub.io", "PIPEDRIVE_X")},
    )
    with pytest.raises(UsageError, match="may only name a Pipedrive host"):
        system_target(pipedrive, evil, None)


def test_no_target(no_ambient: pytest.MonkeyPatch) -> None:
    with pytest.raises(UsageError, match="no target for DealHub"):
        system_target(DEALHUB, None, None)
    with pytest.raises(UsageError, match="--api-url pipedrive=URL"):
        system_target(providers.get("pipedrive"), None, None)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (("https://api.dealhub.io",), {"dealhub": "https://api.dealhub.io"}),
        (
            ("pipedrive=sim:c.json", "sim:t.json"),
            {"pipedrive": "sim:c.json", "dealhub": "sim:t.json"},
        ),
        (("dealhub=https://a.dealhub.io",), {"dealhub": "https://a.dealhub.io"}),
        (("https://x.dealhub.io/?a=b",), {"dealhub": "https://x.dealhub.io/?a=b"}),
    ],
)
def test_by_system(values: tuple[str, ...], expected: dict[str, str]) -> None:
    assert by_system(values, "--api-url") == expected


def test_by_system_refuses_a_system_named_twice() -> None:
    with pytest.raises(UsageError, match="names dealhub twice"):
        by_system(("sim:a.json", "dealhub=sim:b.json"), "--api-url")


def plan(target: str, environment: str | None = None, token_env: str = "DEALHUB_TOKEN") -> Plan:
    return Plan(target, [], 0, environment=environment, token_env=token_env, system="dealhub")
