"""One key rule per system, the same for validate, plan, export and adoption.

Pipedrive keys users by email, letter case and Unicode encoding aside (canonical
caseless matching); DealHub by login, as written. A pair of keys that validate
passes is never one the plan refuses, and the reverse.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from reconciler.desired import load_desired
from reconciler.diff import compute_plan, tenant_index
from reconciler.errors import InputError, ResponseError
from reconciler.keys import caseless
from reconciler.providers import get

WriteFile = Callable[[str, str], str]

PIPEDRIVE = get("pipedrive")
DEALHUB = get("dealhub")
HEAD = "version: 1\nsettings:\n  systems: [pipedrive]\nusers:\n"

NFC = "jos\u00e9@acme.com"
NFD = "jose\u0301@acme.com"


def people(*emails: str) -> str:
    return HEAD + "".join(
        f'  - {{login: "p{i}@acme", email: "{email}", name: P{i}}}\n'
        for i, email in enumerate(emails)
    )


def pd_user(user_id: int, email: str, **overrides: Any) -> dict[str, Any]:
    user = {"id": user_id, "email": email, "name": email, "active_flag": True}
    user["access"] = [{"app": "sales", "admin": False}]
    return {**user, **overrides}


def pd_plan(write: WriteFile, text: str, company: list[dict[str, Any]]) -> Any:
    state = load_desired([write("people.yaml", text)])
    return compute_plan(state, company, target="sim:x", provider=PIPEDRIVE)


@pytest.mark.parametrize(
    ("first", "second"),
    [(NFC, NFD), ("stra\u00dfe@acme.com", "STRASSE@acme.com"), ("Ana@acme.com", "ana@ACME.com")],
)
def test_validate_refuses_two_people_of_one_pipedrive_key(
    write: WriteFile, first: str, second: str
) -> None:
    with pytest.raises(InputError) as info:
        load_desired([write("people.yaml", people(first, second))])
    [problem] = info.value.problems
    assert problem.line == 6 and "is listed twice for Pipedrive" in problem.message


def test_emails_equal_only_after_normalisation_are_shown_escaped(write: WriteFile) -> None:
    with pytest.raises(InputError) as info:
        load_desired([write("people.yaml", people(NFC, NFD))])
    assert "'jose\\u0301@acme.com' and 'jos\\xe9@acme.com' are the same after Unicode" in str(
        info.value.problems[0]
    )


def test_an_nfd_email_in_the_file_is_the_nfc_user_of_the_company(write: WriteFile) -> None:
    plan = pd_plan(write, people(NFD), [pd_user(7, NFC)])
    assert plan.changes == [] and plan.unchanged == 1


def test_a_folded_email_in_the_file_is_the_company_user(write: WriteFile) -> None:
    plan = pd_plan(write, people("STRASSE@acme.com"), [pd_user(7, "stra\u00dfe@acme.com")])
    assert plan.changes == []


def test_two_company_users_of_one_key_are_refused_not_one_dropped() -> None:
    with pytest.raises(ResponseError, match="two users that are one email"):
        tenant_index(PIPEDRIVE, [pd_user(1, NFC), pd_user(2, NFD)])
    # A deleted one is absent: no conflict.
    index = tenant_index(PIPEDRIVE, [pd_user(1, NFC), pd_user(2, NFD, is_deleted=True)])
    assert [view["id"] for view in index.values()] == [1]


def test_dealhub_keeps_logins_as_written() -> None:
    caps = DEALHUB.capabilities
    assert caps.key_fold("Ana@acme") != caps.key_fold("ana@acme")
    assert caps.key_fold(NFC) == NFC


# Emails built from the characters where lower(), casefold() and normalisation disagree.
tricky_letters = st.sampled_from(
    ["a", "A", "s", "S", "k", "K", "\u212a", "\u00df", "\u1e9e", "ss", "SS", "\u00e9",
     "e\u0301", "E\u0301", "\u00c9", "i", "I", "\u0130", "\u0131", "\u03c3", "\u03c2", "\u03a3"]
)  # fmt: skip
tricky_emails = st.lists(tricky_letters, min_size=1, max_size=4).map(
    lambda parts: "".join(parts) + "@acme.com"
)


@settings(deadline=None)
@given(first=tricky_emails, second=tricky_emails)
def test_validate_and_plan_apply_one_rule_to_any_two_emails(first: str, second: str) -> None:
    assume(first != second)  # one email written twice is one record: the loader's own check
    from reconciler.desired import DesiredState, DesiredUser
    from reconciler.settings import Settings

    def person(login: str, email: str) -> DesiredUser:
        return DesiredUser(login, {"email": email, "name": "N"}, "people.yaml", 1, {})

    state = DesiredState(
        {"a": person("a", first), "b": person("b", second)},
        Settings(systems=("pipedrive",)),
        ["people.yaml"],
    )
    from reconciler.desired import check_semantics

    one_key = caseless(first) == caseless(second)
    validate_refuses = any("listed twice" in p.message for p in check_semantics(state)[0])
    records = PIPEDRIVE.project(state)
    plan_refuses = bool(PIPEDRIVE.check(records, {}, state))
    assert validate_refuses == plan_refuses == one_key
    # One key: the plan of either email against a company holding the other is empty.
    if one_key:
        alone = DesiredState({"a": person("a", first)}, state.settings, state.files)
        plan = compute_plan(alone, [pd_user(1, second)], target="x", provider=PIPEDRIVE)
        assert plan.changes == []
    # The rule is a canonical equivalence: the encoding never matters.
    assert caseless(unicodedata.normalize("NFD", first)) == caseless(first)
