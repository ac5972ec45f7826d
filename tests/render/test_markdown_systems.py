"""The comment for several systems: every summary first, one limit shared fairly."""

from __future__ import annotations

from gfm import read

from reconciler.journeys import Journey
from reconciler.plan import Action, Change, FieldChange, Plan, PlanCost
from reconciler.render import render_plans
from reconciler.render.markdown import MAX_CHARS, MarkdownRenderer


def change(action: Action, login: str) -> Change:
    if action == "update":
        fields = {"position": FieldChange("Sales " * 10, "Sales Engineer " * 10)}
    else:
        fields = {"is_active": FieldChange(action == "reactivate", action != "deactivate")}
    return Change(action, login, fields, {"login": login}, {"login": login})


def plan(system: str, **counts: int) -> Plan:
    changes = [
        change(action, f"{system}.{action}.{i:05}@acme")  # type: ignore[arg-type]
        for action, n in counts.items()
        for i in range(n)
    ]
    return Plan(target=f"sim:{system}.json", changes=changes, unchanged=3, system=system)


def test_every_system_summary_then_the_people_across_them() -> None:
    dealhub = plan("dealhub", create=1, deactivate=2)
    pipedrive = plan("pipedrive", deactivate=1)
    pipedrive.cost = PlanCost("tokens", 10, 20)
    stories = [Journey("ex@acme", "ex@acme.com", "leaves: deactivated in DealHub and Pipedrive")]
    text = render_plans([dealhub, pipedrive], "markdown", journeys=stories)
    page = read(text)
    items = page.all("li")
    assert items[0] == "DealHub: 1 to create, 0 to update, 0 to reactivate, 2 to deactivate"
    assert items[1] == (
        "Pipedrive: 0 to create, 0 to update, 0 to reactivate, 1 to deactivate; cost 30 tokens"
    )
    assert items[2] == "ex@acme (ex@acme.com) leaves: deactivated in DealHub and Pipedrive"
    assert text.index("Across systems") < text.index("### DealHub plan")
    assert text.index("### DealHub plan") < text.index("### Pipedrive plan")
    assert not page.mentions()


def test_the_limit_is_shared_and_every_deactivation_stays_named() -> None:
    big = {"update": 1500, "create": 300, "deactivate": 400, "reactivate": 50}
    plans = [plan("dealhub", **big), plan("pipedrive", **big)]
    text = MarkdownRenderer().render_many(plans, [])
    assert len(text) <= MAX_CHARS
    seen = " ".join(read(text).all("p"))
    for p in plans:
        for c in p.changes:
            if c.action in ("deactivate", "reactivate"):
                assert c.login in seen, c.login
    # Each system's section is cut within its share, and says the comment's limit.
    assert text.count(f"_Cut to fit the {MAX_CHARS:,}-character limit") == 2
    # Neither system's updates crowd out the other's names: both are listed briefly.
    for system in ("dealhub", "pipedrive"):
        assert f"`{system}.update.00000@acme` (position)" in text


def test_a_small_plan_takes_what_it_needs_and_leaves_the_rest_to_a_large_one() -> None:
    small, large = plan("dealhub", deactivate=3), plan("pipedrive", update=3000, deactivate=10)
    text = MarkdownRenderer().render_many([small, large], [])
    assert len(text) <= MAX_CHARS
    section = text[text.index("### Pipedrive plan") :]
    assert len(section) > 0.9 * MAX_CHARS
    alone = MarkdownRenderer().render(small)
    assert alone in text  # not cut: as it reads on its own


def test_a_tiny_limit_still_returns_a_comment_within_it() -> None:
    plans = [plan("dealhub", deactivate=50), plan("pipedrive", deactivate=50)]
    for limit in (0, 100, 1000, 5000):
        assert len(MarkdownRenderer(limit).render_many(plans, [])) <= max(limit, 200)


def test_a_long_list_of_journeys_is_cut_after_the_first_twenty() -> None:
    stories = [
        Journey(f"p{i:02}@acme", f"p{i:02}@acme.com", "leaves: deactivated") for i in range(25)
    ]
    text = render_plans([plan("dealhub"), plan("pipedrive")], "markdown", journeys=stories)
    items = [i for i in read(text).all("li") if i.startswith("p") or i.startswith("and")]
    assert len(items) == 21 and items[19].startswith("p19@acme ")
    assert items[20] == "and 5 more (each system's plan below names their changes)"
