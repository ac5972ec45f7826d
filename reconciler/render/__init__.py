"""Renderers: a plan (and an apply report) as text, markdown or JSON."""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.journeys import Journey
from reconciler.model import ApplyReport, Plan
from reconciler.plan import dumps_plans, json_text
from reconciler.render.json_format import JsonRenderer
from reconciler.render.markdown import MarkdownRenderer
from reconciler.render.text import TextRenderer, journeys_text

FORMATS = ("text", "json", "markdown")


def render_plan(plan: Plan, fmt: str, *, color: bool = False) -> str:
    """The plan in one of FORMATS."""
    if fmt == "json":
        return JsonRenderer().render(plan)
    if fmt == "markdown":
        return MarkdownRenderer().render(plan)
    return TextRenderer(color=color).render(plan)


def render_plans(
    plans: list[Plan],
    fmt: str,
    *,
    color: bool = False,
    journeys: list[Journey] | None = None,
    accounts: Mapping[str, Mapping[str, bool]] | None = None,
) -> str:
    """One plan per system: one after another, each headed by its system and target.

    `journeys` (several systems) tell each person's changes across them as one
    line; the markdown comment makes them one table of people, where `accounts`
    (by system, each folded email and whether its account is active, as
    `journeys.accounts` reads them) tells a person unchanged from one not there.
    """
    if len(plans) == 1:
        return render_plan(plans[0], fmt, color=color)
    if fmt == "json":
        return dumps_plans(plans)
    if fmt == "markdown":
        return MarkdownRenderer().render_many(plans, journeys, accounts)
    text = "\n".join(render_plan(p, fmt, color=color) for p in plans)
    return text + journeys_text(journeys or [])


def render_reports(reports: list[ApplyReport], fmt: str, *, color: bool = False) -> str:
    """One apply report per system, each with its own `Apply complete:` line."""
    from reconciler.render.report import render_report, report_data

    if len(reports) == 1:
        return render_report(reports[0], fmt, color=color)
    if fmt == "json":
        return json_text({"format_version": 1, "reports": [report_data(r) for r in reports]})
    return "\n".join(render_report(r, fmt, color=color) for r in reports)
