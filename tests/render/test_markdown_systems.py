"""The comment for several systems: every summary first, one table of people, one limit."""

from __future__ import annotations

from gfm import read, table_rows

from reconciler.journeys import Journey
from reconciler.model import Action, Change, FieldChange, Plan, PlanCost
from reconciler.render import render_plans
from reconciler.render.markdown import MAX_CHARS, MarkdownRenderer


def change(action: Action, login: str, email: str | None = None) -> Change:
    if action == "update":
        fields = {"name": FieldChange("Dan " * 10, "Daniel " * 10)}
    else:
        fields = {"is_active": FieldChange(action == "reactivate", action != "deactivate")}
    record = {"login": login, "email": email or login}
    return Change(action, login, fields, None if action == "create" else record, record)


def plan(system: str, **counts: int) -> Plan:
    changes = [
        change(action, f"{system}.{action}.{i:05}@acme")  # type: ignore[arg-type]
        for action, n in counts.items()
        for i in range(n)
    ]
    return Plan(
        target=f"sim:{system}.json",
        changes=changes,
        unchanged=3,
        system=system,
        token_env="DEALHUB_TOKEN",
    )


def acme() -> list[Plan]:
    """README's example, as the two plans carry it (DealHub by login, Pipedrive by email)."""
    dealhub = Plan(
        target="sim:tenant.json",
        unchanged=7,
        changes=[
            change("create", "lucas@acme", "lucas@acme.com"),
            change("update", "sara@acme", "sara@acme.com"),
            change("reactivate", "noa@acme", "noa@acme.com"),
            change("deactivate", "ex.employee@acme", "ex@acme.com"),
            change("deactivate", "temp.intern@acme", "intern@acme.com"),
        ],
        system="dealhub",
        token_env="DEALHUB_TOKEN",
    )
    pipedrive = Plan(
        target="sim:company.json",
        system="pipedrive",
        unchanged=5,
        changes=[
            change("create", "lucas@acme.com"),
            change("create", "priya@acme.com"),
            change("reactivate", "noa@acme.com"),
            change("deactivate", "ex@acme.com"),
            change("deactivate", "intern@acme.com"),
            change("deactivate", "sara@acme.com"),
        ],
        token_env="DEALHUB_TOKEN",
    )
    pipedrive.cost = PlanCost("tokens", 60, 20)
    return [dealhub, pipedrive]


ACCOUNTS = {
    "dealhub": {"priya@acme.com": True, "sara@acme.com": True, "old@acme.com": False},
    "pipedrive": {"sara@acme.com": True},
}


def test_every_system_summary_then_the_people_table_then_each_plan() -> None:
    text = render_plans(acme(), "markdown", journeys=[], accounts=ACCOUNTS)
    page = read(text)
    items = page.all("li")
    assert items[0] == "DealHub: 1 to create, 1 to update, 1 to reactivate, 2 to deactivate"
    assert items[1] == (
        "Pipedrive: 2 to create, 0 to update, 1 to reactivate, 3 to deactivate; cost 80 tokens"
    )
    assert text.index("People whose access changes") < text.index("### DealHub plan")
    assert text.index("### DealHub plan") < text.index("### Pipedrive plan")
    assert "> [!WARNING]\n> **3 people will lose access:** deactivated in DealHub (2) and " in text
    assert not page.mentions()


def test_each_person_is_one_row_leavers_and_returners_first() -> None:
    text = render_plans(acme(), "markdown", journeys=[], accounts=ACCOUNTS)
    page = read(text)
    assert page.all("th") == ["DealHub", "Pipedrive", "people"]
    assert table_rows(page) == [
        [
            "deactivated",
            "deactivated",
            "ex.employee@acme (ex@acme.com), temp.intern@acme (intern@acme.com)",
        ],
        ["updated", "deactivated", "sara@acme"],
        ["reactivated", "reactivated", "noa@acme"],
        ["created", "created", "lucas@acme"],
        ["unchanged", "created", "priya@acme.com"],  # no journey names her otherwise
    ]
    # Named once: the sections count them and point at the table (a fold, such as
    # whom the external_user_id note concerns, may name them again).
    codes = [e.text for e in page.elements if e.tag == "code" and "details" not in e.parents]
    for name in ("ex.employee@acme", "ex@acme.com", "temp.intern@acme", "noa@acme"):
        assert codes.count(name) == 1, name
    assert "**2 deactivations and 1 reactivation:** named in the people table above." in text
    assert "**3 deactivations and 1 reactivation:** named in the people table above." in text


def test_the_accounts_tell_unchanged_from_not_there_and_inactive() -> None:
    dealhub = Plan(
        "sim:t.json",
        [change("deactivate", "a@acme", "a@acme.com")],
        0,
        system="dealhub",
        token_env="DEALHUB_TOKEN",
    )
    pipedrive = Plan(
        "sim:c.json",
        [change("deactivate", "b@acme.com"), change("create", "old@acme.com")],
        0,
        system="pipedrive",
        token_env="DEALHUB_TOKEN",
    )
    accounts = {"dealhub": {"old@acme.com": False}, "pipedrive": {"a@acme.com": True}}
    text = render_plans([dealhub, pipedrive], "markdown", journeys=[], accounts=accounts)
    assert table_rows(read(text)) == [
        ["deactivated", "unchanged", "a@acme"],
        ["not there", "deactivated", "b@acme.com"],
        ["unchanged, inactive", "created", "old@acme.com"],
    ]


def test_without_the_accounts_the_journeys_tell_who_is_there() -> None:
    plans = acme()
    stories = [Journey("sara@acme", "sara@acme.com", "moves: …")]
    rows = table_rows(read(render_plans(plans, "markdown", journeys=stories)))
    assert ["not there", "created", "priya@acme.com"] in rows  # no journey: no DealHub account
    # A saved plan shown again has neither: the cell says only that nothing changes.
    rows = table_rows(read(render_plans(plans, "markdown")))
    assert ["no change", "created", "priya@acme.com"] in rows


def test_the_limit_is_shared_and_every_deactivation_stays_named() -> None:
    big = {"update": 1500, "create": 300, "deactivate": 400, "reactivate": 50}
    plans = [plan("dealhub", **big), plan("pipedrive", **big)]
    text = MarkdownRenderer().render_many(plans, [])
    assert len(text) <= MAX_CHARS
    table = text[text.index("**People whose access changes**") : text.index("### DealHub plan")]
    for p in plans:
        for c in p.changes:
            if c.action in ("deactivate", "reactivate"):
                assert c.key in table, c.key
    # Each system's section says what it cut, and the comment's limit.
    for system in ("DealHub", "Pipedrive"):
        section = text[text.index(f"### {system} plan") :]
        assert f"_Cut to fit the {MAX_CHARS:,}-character limit" in section
    # Neither system's updates crowd out the other's names: both are named.
    for system in ("dealhub", "pipedrive"):
        assert f"`{system}.update.00000@acme` (name)" in text


def test_a_small_plan_keeps_its_values_beside_a_large_one() -> None:
    small, large = plan("dealhub", update=3, deactivate=3), plan("pipedrive", update=3000)
    text = MarkdownRenderer().render_many([small, large], [])
    assert len(text) <= MAX_CHARS
    items = [e.text for e in read(text).elements if e.tag == "li"]
    for c in small.by_action("update"):
        assert any(i.startswith(f"{c.key} name: Dan") for i in items), c.key
    section = text[text.index("### Pipedrive plan") :]
    assert len(section) > 0.8 * MAX_CHARS


def test_a_tiny_limit_still_returns_a_comment_within_it() -> None:
    plans = [plan("dealhub", deactivate=50), plan("pipedrive", deactivate=50)]
    for limit in (0, 100, 1000, 5000):
        assert len(MarkdownRenderer(limit).render_many(plans, [])) <= max(limit, 200)
