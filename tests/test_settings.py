"""Settings: max_deactivations thresholds, protect globs, environments, systems."""

from __future__ import annotations

from fnmatch import fnmatchcase
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.settings import (
    DEFAULT_TOKEN_ENV,
    Environment,
    Settings,
    SystemSettings,
    SystemTarget,
    Threshold,
    default_token_env,
)


@pytest.mark.parametrize(
    ("raw", "value", "percent", "shown"),
    [
        ("25%", 25.0, True, "25%"),
        ("33.3%", 33.3, True, "33.3%"),
        ("100%", 100.0, True, "100%"),
        ("0%", 0.0, True, "0%"),
        (0, 0.0, False, "0"),
        (12, 12.0, False, "12"),
    ],
)
def test_parse(raw: int | str, value: float, percent: bool, shown: str) -> None:
    threshold = Threshold.parse(raw)
    assert threshold == Threshold(value, percent=percent)
    assert str(threshold) == shown


@pytest.mark.parametrize(
    ("raw", "active", "allowed"),
    [
        ("25%", 8, 2),  # 2 is exactly 25%: allowed; 3 is past it
        ("25%", 4, 1),
        ("25%", 3, 0),
        ("25%", 0, 0),
        ("10%", 100, 10),
        ("33.3%", 3000, 999),  # float arithmetic would say 998
        ("33.3%", 100_000, 33_300),
        ("100%", 5, 5),
        ("0%", 50, 0),
        (3, 100, 3),
        (3, 1, 3),
        (0, 10, 0),
    ],
)
def test_exceeded_at_and_just_past_the_limit(raw: int | str, active: int, allowed: int) -> None:
    threshold = Threshold.parse(raw)
    assert threshold.allowed(active) == allowed
    assert not threshold.exceeded_by(allowed, active)
    assert threshold.exceeded_by(allowed + 1, active)
    assert not threshold.exceeded_by(0, active)


@settings(max_examples=1000, deadline=None)
@given(
    whole=st.integers(0, 100),
    decimals=st.sampled_from(["", ".5", ".25", ".3", ".33", ".7", ".125", ".9", ".01"]),
    multiple=st.integers(0, 10**5),
    offset=st.integers(-1, 1),
)
def test_percent_threshold_is_exact(whole: int, decimals: str, multiple: int, offset: int) -> None:
    written = f"{whole}{decimals}"
    share = Fraction(written) / 100
    if share > 1:
        return
    # tenant sizes where the percentage is a whole number of users (the boundary), or next to it
    active = max(multiple * share.denominator + offset, 0)
    threshold = Threshold.parse(written + "%")
    limit = int(share * active)  # the largest whole number of deactivations <= the percentage
    assert threshold.allowed(active) == limit
    assert not threshold.exceeded_by(limit, active)
    assert threshold.exceeded_by(limit + 1, active)


@pytest.mark.parametrize(
    ("patterns", "login", "suffix", "protected"),
    [
        (("admin@acme*",), "admin@acme", "", True),
        (("admin@acme*",), "admin@acme.io", "", True),
        (("admin@acme*",), "ADMIN@Acme", "", True),  # letter case ignored
        (("admin@acme*",), "root@acme", "", False),
        (("admin@acme",), "admin@acme_sb", "_sb", True),  # suffix optional
        (("admin@acme",), "admin@acme_sb", "", False),
        (("admin@acme",), "admin@acme_sb", "_pr", False),
        (("ops?@acme", "x*"), "ops1@acme", "", True),
        (("ops?@acme",), "ops12@acme", "", False),
        ((), "admin@acme", "", False),
    ],
)
def test_protect_globs(patterns: tuple[str, ...], login: str, suffix: str, protected: bool) -> None:
    assert Settings(protect=patterns).is_protected(login, suffix) is protected


glob_text = st.text(st.sampled_from("aAbB*?[]!-@.\\"), max_size=6)
key_text = st.text(st.sampled_from("aAbB*?[]!-@.\\"), max_size=6)


@given(patterns=st.lists(glob_text, max_size=5), key=key_text, suffix=st.sampled_from(["", "_b"]))
def test_compiled_protect_globs_keep_fnmatch_meaning(
    patterns: list[str], key: str, suffix: str
) -> None:
    # Compiled once (one set, one expression), each glob still means what fnmatch says,
    # letter case aside.
    candidates = {key.lower()}
    if suffix and key.endswith(suffix):
        candidates.add(key[: -len(suffix)].lower())
    expected = any(fnmatchcase(c, p.lower()) for p in patterns for c in candidates)
    assert SystemSettings(protect=tuple(patterns)).is_protected(key, suffix) is expected


@pytest.mark.parametrize(
    ("pattern", "key"),
    [
        ("stra\u00dfe@acme.com", "STRASSE@acme.com"),
        ("jos\u00e9@acme*", "JOSE\u0301@acme.com"),
        ("jose\u0301@acme.com", "jos\u00e9@ACME.com"),
    ],
)
def test_protect_globs_ignore_unicode_encoding_as_well_as_case(pattern: str, key: str) -> None:
    assert SystemSettings(protect=(pattern,)).is_protected(key)
    assert Settings(protect=(pattern,)).is_protected(key)


def test_from_mapping() -> None:
    settings = Settings.from_mapping(
        {
            "unlisted": "ignore",
            "protect": ["a*"],
            "max_deactivations": "5%",
            "require_external_id": True,
            "environments": {
                "sandbox": {"api_url": "https://sb", "token_env": "SB", "login_suffix": "_sb"},
                "prod": {"api_url": "https://prod"},
            },
        }
    )
    assert settings == Settings(
        unlisted="ignore",
        protect=("a*",),
        max_deactivations=Threshold(5, percent=True),
        require_external_id=True,
        environments={
            "sandbox": Environment("sandbox", "https://sb", "SB", "_sb"),
            "prod": Environment("prod", "https://prod", DEFAULT_TOKEN_ENV, ""),
        },
    )


@pytest.mark.parametrize("raw", [None, {}])
def test_from_mapping_defaults(raw: dict[str, object] | None) -> None:
    settings = Settings.from_mapping(raw)
    assert settings.unlisted == "deactivate"
    assert settings.protect == ()
    assert settings.max_deactivations == Threshold(25, percent=True)
    assert settings.require_external_id is False
    assert settings.environments == {}


# --- several systems -------------------------------------------------------------


def test_from_mapping_of_several_systems() -> None:
    settings = Settings.from_mapping(
        {
            "systems": ["dealhub", "pipedrive"],
            "protect": ["admin@*"],
            "pipedrive": {"unlisted": "ignore", "protect": ["owner@acme.com"], "max_creates": 3},
            "dealhub": {"max_creates": 50},
            "environments": {
                "prod": {
                    "api_url": "https://api.dealhub.io",
                    "pipedrive": {"api_url": "https://acme.pipedrive.com"},
                },
                "pd-sandbox": {
                    "pipedrive": {
                        "api_url": "https://sb.pipedrive.com",
                        "token_env": "PIPEDRIVE_SB",
                    }
                },
            },
        }
    )
    assert settings.systems == ("dealhub", "pipedrive")
    assert settings.blocks == {
        "dealhub": {"max_creates": 50},
        "pipedrive": {"unlisted": "ignore", "protect": ["owner@acme.com"], "max_creates": 3},
    }
    prod = settings.environments["prod"]
    assert prod.systems == {
        "pipedrive": SystemTarget("https://acme.pipedrive.com", default_token_env("pipedrive"))
    }
    assert prod.target("dealhub") == SystemTarget("https://api.dealhub.io", DEFAULT_TOKEN_ENV)
    assert prod.target("pipedrive") == prod.systems["pipedrive"]
    sandbox = settings.environments["pd-sandbox"]
    assert sandbox.api_url == ""
    assert sandbox.target("dealhub") is None
    assert sandbox.target("pipedrive") == SystemTarget("https://sb.pipedrive.com", "PIPEDRIVE_SB")
    assert [default_token_env(name) for name in ("dealhub", "pipedrive")] == [
        "DEALHUB_TOKEN",
        "PIPEDRIVE_API_TOKEN",
    ]


SHARED = {"unlisted": "ignore", "protect": ["admin@*"], "max_deactivations": 7}


@pytest.mark.parametrize(
    ("system", "block", "expected"),
    [
        # no block: the shared settings; the shared protect is DealHub's alone
        ("dealhub", None, SystemSettings("ignore", ("admin@*",), Threshold(7, percent=False))),
        ("pipedrive", None, SystemSettings("ignore", (), Threshold(7, percent=False))),
        # a block's keys win, one by one
        (
            "pipedrive",
            {"unlisted": "deactivate", "protect": ["o@acme.com"]},
            SystemSettings("deactivate", ("o@acme.com",), Threshold(7, percent=False)),
        ),
        (
            "pipedrive",
            {"max_deactivations": "10%", "max_creates": 0},
            SystemSettings("ignore", (), Threshold(10, percent=True), max_creates=0),
        ),
        # DealHub's own protect adds to the shared one
        (
            "dealhub",
            {"protect": ["ops@acme"], "max_creates": 5},
            SystemSettings("ignore", ("admin@*", "ops@acme"), Threshold(7, percent=False), 5),
        ),
    ],
)
def test_for_system_merges_a_block_over_the_shared_settings(
    system: str, block: dict[str, object] | None, expected: SystemSettings
) -> None:
    raw: dict[str, object] = {**SHARED, "systems": ["dealhub", "pipedrive"]}
    if block is not None:
        raw[system] = block
    assert Settings.from_mapping(raw).for_system(system) == expected


def test_for_system_of_an_old_mapping_is_the_top_level_settings() -> None:
    settings = Settings.from_mapping(SHARED)
    assert settings.systems == ("dealhub",)
    assert settings.blocks == {}
    assert settings.for_system("dealhub") == SystemSettings(
        settings.unlisted, settings.protect, settings.max_deactivations, None
    )


@pytest.mark.parametrize(
    ("email", "protected"),
    [
        ("owner@acme.com", True),
        ("OWNER@Acme.com", True),
        ("x@ops.acme.com", True),
        ("x@acme.com", False),
    ],
)
def test_pipedrive_protect_is_email_globs_in_any_case(email: str, protected: bool) -> None:
    settings = Settings.from_mapping(
        {"systems": ["pipedrive"], "pipedrive": {"protect": ["owner@acme.com", "*@ops.acme.com"]}}
    )
    assert settings.for_system("pipedrive").is_protected(email) is protected
