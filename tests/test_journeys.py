"""A person's journey across systems, on plain plans: who leaves, joins, moves."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.desired import DesiredUser
from reconciler.journeys import Journey, accounts, journeys
from reconciler.model import Action, Change, FieldChange, Plan

ACTIVE_BEFORE = {"deactivate": True, "reactivate": False, "update": True}


def change(action: Action, key: str, email: str, *, active: bool = True) -> Change:
    after = {"deactivate": False, "reactivate": True, "create": active, "update": True}[action]
    fields = {"is_active": FieldChange(None if action == "create" else not after, after)}
    if action == "update":
        fields = {"position": FieldChange("Sales", "CCS")}
    if action == "create":
        return Change(action, key, fields, None, {"email": email, "is_active": active})
    before = {"email": email, "is_active": ACTIVE_BEFORE[action]}
    return Change(action, key, fields, before, {"login": key})


def plan(system: str, *changes: Change) -> Plan:
    return Plan(
        target=f"sim:{system}",
        changes=list(changes),
        unchanged=0,
        system=system,
        token_env="DEALHUB_TOKEN",
    )


def person(login: str, email: str) -> DesiredUser:
    return DesiredUser(login, {"email": email}, "users.yaml", 1, {})


def stories(
    plans: list[Plan], held: dict[str, dict[str, bool]], *people: DesiredUser
) -> dict[str, str]:
    return {j.who(): j.story for j in journeys(plans, list(people), held)}


def test_a_leaver_deactivated_in_both_is_one_line_named_by_login_and_email() -> None:
    plans = [
        plan("dealhub", change("deactivate", "ex@acme", "Ex@Acme.com")),
        plan("pipedrive", change("deactivate", "ex@acme.com", "ex@acme.com")),
    ]
    assert stories(plans, {"dealhub": {}, "pipedrive": {}}) == {
        "ex@acme (Ex@Acme.com)": "leaves: deactivated in DealHub and Pipedrive"
    }


def test_the_files_name_the_person_when_they_list_them() -> None:
    plans = [
        plan("dealhub", change("create", "lucas@acme", "lucas@acme.com")),
        plan("pipedrive", change("create", "lucas@acme.com", "LUCAS@acme.com")),
    ]
    found = journeys(plans, [person("lucas@acme", "Lucas@Acme.com")], {})
    assert found == [
        Journey("lucas@acme", "Lucas@Acme.com", "joins: created in DealHub and Pipedrive")
    ]


def test_a_mover_leaves_one_system_and_stays_in_the_other() -> None:
    plans = [
        plan("dealhub"),
        plan("pipedrive", change("deactivate", "sara@acme.com", "sara@acme.com")),
    ]
    held = {"dealhub": {"sara@acme.com": True}, "pipedrive": {"sara@acme.com": True}}
    assert stories(plans, held) == {
        "sara@acme.com": "moves: deactivated in Pipedrive, stays active in DealHub"
    }


def test_in_one_system_not_the_other() -> None:
    plans = [
        plan("dealhub"),
        plan("pipedrive", change("create", "priya@acme.com", "priya@acme.com")),
    ]
    held = {"dealhub": {"priya@acme.com": True}, "pipedrive": {}}
    assert stories(plans, held) == {
        "priya@acme.com": "in DealHub, not in Pipedrive: created in Pipedrive"
    }


def test_a_leaver_already_inactive_elsewhere_and_a_return() -> None:
    plans = [
        plan(
            "dealhub",
            change("deactivate", "a@x", "a@x.com"),
            change("reactivate", "b@x", "b@x.com"),
        ),
        plan("pipedrive", change("reactivate", "b@x.com", "b@x.com")),
    ]
    held = {"dealhub": {}, "pipedrive": {"a@x.com": False}}
    assert stories(plans, held) == {
        "a@x (a@x.com)": "leaves: deactivated in DealHub, already inactive in Pipedrive",
        "b@x (b@x.com)": "returns: reactivated in DealHub and Pipedrive",
    }


def test_a_change_of_system_is_a_move() -> None:
    plans = [
        plan("dealhub", change("deactivate", "c@x", "c@x.com")),
        plan("pipedrive", change("create", "c@x.com", "c@x.com")),
    ]
    assert stories(plans, {}) == {
        "c@x (c@x.com)": "moves: deactivated in DealHub, created in Pipedrive"
    }


@pytest.mark.parametrize(
    ("plans", "held"),
    [
        # One system's change and no account elsewhere: the plan already says it.
        ([plan("dealhub", change("deactivate", "d@x", "d@x.com")), plan("pipedrive")], {}),
        # Updates are each system's own business.
        (
            [
                plan("dealhub", change("update", "d@x", "d@x.com")),
                plan("pipedrive", change("update", "d@x.com", "d@x.com")),
            ],
            {},
        ),
        # An inactive create gives no access.
        (
            [
                plan("dealhub"),
                plan("pipedrive", change("create", "d@x.com", "d@x.com", active=False)),
            ],
            {"dealhub": {"d@x.com": True}},
        ),
        # One system in the run: no story at all.
        (
            [plan("dealhub", change("deactivate", "d@x", "d@x.com"))],
            {"pipedrive": {"d@x.com": True}},
        ),
    ],
)
def test_no_story_that_one_plan_already_tells(
    plans: list[Plan], held: dict[str, dict[str, bool]]
) -> None:
    assert journeys(plans, [], held) == []


def test_accounts_by_folded_email_skip_absent_and_emailless_records() -> None:
    records: list[dict[str, Any] | None] = [
        {"email": "A@x.com", "is_active": True},
        {"email": "b@x.com", "is_active": False},
        None,
        {"email": None, "is_active": True},
        {"login": "c"},
    ]
    assert accounts(records) == {"a@x.com": True, "b@x.com": False}


ACTIONS: list[Action] = ["create", "reactivate", "deactivate", "update"]


@given(
    st.dictionaries(
        st.sampled_from(["a@x.com", "B@x.com", "c@x.com", "d@x.com"]),
        st.tuples(st.sampled_from([*ACTIONS, None]), st.sampled_from([*ACTIONS, None])),
    )
)
def test_every_story_names_each_system_it_spans_and_only_access_changes(
    people: dict[str, tuple[Action | None, Action | None]],
) -> None:
    dealhub, pipedrive = plan("dealhub"), plan("pipedrive")
    for email, (first, second) in people.items():
        if first:
            dealhub.changes.append(change(first, email.split("@")[0], email))
        if second:
            pipedrive.changes.append(change(second, email, email))
    found = journeys([dealhub, pipedrive], [], {})
    told = {j.email for j in found}
    for email, acts in people.items():
        moving = [a for a in acts if a in ("create", "reactivate", "deactivate")]
        assert (email in told) == (len(moving) == 2)
    for j in found:
        assert "DealHub" in j.story and "Pipedrive" in j.story


def test_one_email_written_two_ways_is_one_person_across_systems() -> None:
    # The key rule: letter case and Unicode encoding aside (é, or e and a combining accent).
    plans = [
        plan("dealhub", change("deactivate", "jose@acme", "Jos\u00e9@acme.com")),
        plan("pipedrive", change("deactivate", "jose\u0301@acme.com", "jose\u0301@acme.com")),
    ]
    assert stories(plans, {"dealhub": {}, "pipedrive": {}}) == {
        "jose@acme (Jos\u00e9@acme.com)": "leaves: deactivated in DealHub and Pipedrive"
    }
    held = accounts([{"email": "stra\u00dfe@acme.com", "is_active": True}])
    assert held == accounts([{"email": "STRASSE@acme.com", "is_active": True}])
