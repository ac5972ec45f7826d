"""DealHub's checks of the people listed for it (providers/dealhub/people.py), on plain data."""

from __future__ import annotations

from reconciler.providers.dealhub.people import person_check
from reconciler.settings import Settings
from tests.helpers.checks import files_of, found_by, person


def test_dealhub_asks_nothing_of_anyone_when_its_settings_ask_nothing() -> None:
    assert person_check(files_of(settings=Settings())) is None
    assert person_check(files_of(settings=Settings(require_external_id=True))) is not None
    assert person_check(files_of(settings=Settings(protect=("root@*",)))) is not None


def test_dealhub_refuses_a_protected_login_set_inactive_and_a_missing_external_id() -> None:
    settings = Settings(protect=("boss@*",), require_external_id=True)
    boss = person("boss@acme", "boss@acme.com", 3, is_active=False)
    kept = person("ann@acme", "ann@acme.com", 4, external_user_id="e1")
    check = person_check(files_of(boss, kept, settings=settings))
    assert found_by(check, boss, kept) == [
        "boss@acme has no external_user_id (settings.require_external_id); "
        "the vendor's v2 schema requires it",
        "boss@acme is protected (settings.protect) and cannot be set is_active: false",
    ]
