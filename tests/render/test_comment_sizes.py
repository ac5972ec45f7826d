"""The comment at the sizes a team meets, read as GitHub renders it (cmark-gfm).

10, 300 and 5,000 changes in one system, and 5,000 in each of two: the comment
stays under the limit, every leaver is named once, update values are kept
ahead of creation records, and hostile text stays inert.
"""

from __future__ import annotations

import pytest
from gfm import Page, read, table_rows

from reconciler.journeys import journeys
from reconciler.model import Action, Change, FieldChange, Plan, PlanNote, PlanWarning
from reconciler.render import render_plans
from reconciler.render.markdown import MAX_CHARS

FIRST = ("dana", "omar", "priya", "wei", "sara", "liam", "noa", "kai", "eli", "ivan")
LAST = ("cohen", "okafor", "garcia", "tanaka", "levi", "martin", "rossi", "schmidt")
HOSTILE = "| @everyone <script>alert(1)</script> ``` "
NAME_REASON = (
    "Pipedrive's API cannot set a name; a new user's name is their email until they accept "
    "the invitation"
)


def _person(i: int) -> tuple[str, str, str]:
    """(login, email, name) of person i: a few are hostile."""
    first, last = FIRST[i % len(FIRST)], LAST[i // len(FIRST) % len(LAST)]
    handle = f"{first}.{last}{i}"
    name = HOSTILE if i % 97 == 5 else f"{first.title()} {last.title()}"
    if i % 389 == 7:
        handle = f"@everyone{i}"  # a login that would be a mention as plain text
    return f"{handle}@acme", f"{handle}@acme.com", name


#: Of every ten people: three created, four updated, one reactivated, two deactivated.
MIX: tuple[Action, ...] = ("create",) * 3 + ("update",) * 4 + ("reactivate",) + ("deactivate",) * 2


def _action(i: int) -> Action:
    return MIX[i % 10]


def dealhub(changes: int) -> Plan:
    out = []
    for i in range(changes):
        login, email, name = _person(i)
        action = _action(i)
        if action == "create":
            fields = {
                "email": FieldChange(None, email),
                "name": FieldChange(None, name),
                "position": FieldChange(None, "Solutions Consultant"),
                "company": FieldChange(None, "Acme Europe"),
                "country": FieldChange(None, "Israel"),
                "user_manager_login": FieldChange(None, "maya.levi@acme"),
                "is_active": FieldChange(None, True),
            }
        elif action == "update":
            fields = {"position": FieldChange("Sales Manager", name if i % 97 == 5 else "VP Sales")}
            if i % 3 == 0:
                fields["city"] = FieldChange("Tel Aviv", "Haifa")
        else:
            fields = {"is_active": FieldChange(action != "reactivate", action == "reactivate")}
        send = {"login": login, "email": email, "external_user_id": f"E{i}"}
        before = None if action == "create" else {"login": login, "email": email, "name": name}
        out.append(Change(action, login, fields, before, send))
    out.sort(key=lambda c: ("create", "update", "reactivate", "deactivate").index(c.action))
    gone = [c for c in out if c.action == "deactivate"]
    return Plan(
        target="https://api.dealhub.io",
        changes=out,
        unchanged=changes * 4,
        warnings=[
            PlanWarning(
                f"x{k}@acme", f"x{k}@acme stays active but their manager {c.key} is deactivated"
            )
            for k, c in enumerate(gone[: len(gone) // 4])
        ],
        system="dealhub",
        token_env="DEALHUB_TOKEN",
    )


def pipedrive(changes: int) -> Plan:
    """The same people's access changes in Pipedrive, and creations of DealHub's others."""
    out = []
    movers = [i for i in range(changes) if _action(i) != "update"]
    others = [i for i in range(changes) if _action(i) == "update"][: changes - len(movers)]
    for i in movers + others:
        _, email, _ = _person(i)
        action = _action(i) if i in set(movers) else "create"
        record = {"email": email}
        if action == "create":
            fields = {
                "email": FieldChange(None, email),
                "access": FieldChange(
                    None, [{"app": "sales"}, {"app": "campaigns", "admin": False}]
                ),
                "is_active": FieldChange(None, True),
            }
        else:
            fields = {"is_active": FieldChange(action != "reactivate", action == "reactivate")}
        out.append(Change(action, email, fields, None if action == "create" else record, record))
    out.sort(key=lambda c: ("create", "update", "reactivate", "deactivate").index(c.action))
    return Plan(
        target="https://acme.pipedrive.com",
        system="pipedrive",
        changes=out,
        unchanged=changes * 4,
        notes=[
            PlanNote(_person(i)[1], "name", _person(i)[1], _person(i)[2], NAME_REASON)
            for i in range(0, changes, 13)
        ],
        token_env="DEALHUB_TOKEN",
    )


def outside_folds(page: Page, tag: str) -> list[str]:
    return [e.text for e in page.elements if e.tag == tag and "details" not in e.parents]


def check_common(text: str, plans: list[Plan]) -> Page:
    assert len(text) <= MAX_CHARS
    page = read(text)
    assert page.mentions() == []
    assert not {e.tag for e in page.elements} & {"script", "img", "pre", "h1", "h2", "del"}
    assert text.count("<details>") == text.count("</details>")
    items = {e.text.split(" ", 1)[0]: e.text for e in page.elements if e.tag == "li"}
    for plan in plans:
        updates = [c for c in plan.changes if c.action == "update"]
        creates = plan.by_action("create")
        valued = sum("→" in items.get(c.key, "") for c in updates)
        records = sum(": " in items.get(c.key, "") for c in creates)
        # Update values are kept ahead of creation records.
        if records:
            assert valued == len(updates), (plan.system, valued, records)
        # A hostile value shown is shown exactly, in code.
        if valued or records:
            assert HOSTILE in page.all("code")
    return page


@pytest.mark.parametrize("changes", [10, 300, 5_000])
def test_one_system_at_size(changes: int) -> None:
    plan = dealhub(changes)
    text = render_plans([plan], "markdown")
    page = check_common(text, [plan])
    callouts = [e.text for e in page.elements if e.tag == "p" and "blockquote" in e.parents]
    shown = outside_folds(page, "code")
    for change in plan.changes:
        if change.action in ("deactivate", "reactivate"):
            assert shown.count(change.key) == 1, change.key
            assert any(change.key in c for c in callouts)
    if changes <= 300:
        assert "Cut to fit" not in text  # every value shown, nothing folded but the notes
        items = outside_folds(page, "li")
        assert "wei.cohen3@acme position: Sales Manager → VP Sales · city: Tel Aviv → Haifa" in (
            items
        )


def test_two_systems_at_5000_changes_each() -> None:
    plans = [dealhub(5_000), pipedrive(5_000)]
    assert len(plans[1].changes) == 5_000
    people = []
    text = render_plans(plans, "markdown", journeys=journeys(plans, people, {}))
    page = check_common(text, plans)
    # The people table, and the paragraphs below it that name a large row's people.
    table = text[text.index("**People whose access changes**") : text.index("### DealHub plan")]
    cells = read(table).all("code")
    shown = outside_folds(page, "code")
    leavers = {c.key for c in plans[0].by_action("deactivate")}
    assert leavers and {c.key for c in plans[0].by_action("reactivate")}
    for login in leavers:
        # One row for the person, named once (by DealHub login, with the same email handle).
        assert cells.count(login) == 1, login
        assert shown.count(login) == 1, login
        assert shown.count(login + ".com") == 0, login
    rows = table_rows(page)
    assert rows[0] == ["deactivated", "deactivated", f"{len(leavers):,}, named below"]
    assert f"**{len(leavers):,} deactivated in DealHub, deactivated in Pipedrive:** " in table
    # The repeated Pipedrive note is one line, its reason said once.
    assert text.count("cannot set a name") == 1
