"""Renderers: a plan (and an apply report) as text, markdown or JSON."""

from __future__ import annotations

from reconciler.plan import Plan
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
