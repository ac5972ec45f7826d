"""Renderers: a plan (and an apply report) as text, markdown or JSON."""

from __future__ import annotations

from reconciler.apply import ApplyReport
from reconciler.plan import Plan, dumps_plans, json_text
from reconciler.render.json_format import JsonRenderer
from reconciler.render.markdown import MarkdownRenderer
from reconciler.render.text import TextRenderer

FORMATS = ("text", "json", "markdown")


def render_plan(plan: Plan, fmt: str, *, color: bool = False) -> str:
    """The plan in one of FORMATS."""
    if fmt == "json":
        return JsonRenderer().render(plan)
    if fmt == "markdown":
        return MarkdownRenderer().render(plan)
    return TextRenderer(color=color).render(plan)


def render_plans(plans: list[Plan], fmt: str, *, color: bool = False) -> str:
    """One plan per system: one after another, each headed by its system and target."""
    if len(plans) == 1:
        return render_plan(plans[0], fmt, color=color)
    if fmt == "json":
        return dumps_plans(plans)
    if fmt == "markdown":
        # The summary of every system first, one line each, then each system's plan.
        head = ["### reconciler plan", ""] + [f"- {_system_summary(p)}" for p in plans]
        return "\n".join(head) + "\n\n" + "\n".join(render_plan(p, fmt) for p in plans)
    return "\n".join(render_plan(p, fmt, color=color) for p in plans)


def render_reports(reports: list[ApplyReport], fmt: str, *, color: bool = False) -> str:
    """One apply report per system, each with its own `Apply complete:` line."""
    from reconciler.render.report import render_report, report_data

    if len(reports) == 1:
        return render_report(reports[0], fmt, color=color)
    if fmt == "json":
        return json_text({"format_version": 1, "reports": [report_data(r) for r in reports]})
    return "\n".join(render_report(r, fmt, color=color) for r in reports)


def _system_summary(plan: Plan) -> str:
    """One system's line of a multi-system comment: counts, notes, cost, guards."""
    from reconciler.providers import title

    counts = plan.summary()
    line = (
        f"**{title(plan.system)}**: {counts['create']} to create, {counts['update']} to "
        f"update, {counts['reactivate']} to reactivate, {counts['deactivate']} to deactivate"
    )
    if plan.notes:
        line += f"; {len(plan.notes)} note{'s' if len(plan.notes) != 1 else ''}"
    if plan.cost is not None:
        line += f"; cost {plan.cost.total:,} {plan.cost.unit}"
    if not plan.safe:
        line += "; **a safety guard tripped**"
    return line
