"""The plan as a person reads it in a terminal or a CI log."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Hashable, Iterable
from typing import IO, Any, TypeVar

import click

from reconciler.guards import remedy
from reconciler.journeys import Journey
from reconciler.model import Action, Change, Plan, PlanNote
from reconciler.providers import title
from reconciler.providers.remarks import plan_remarks
from reconciler.textsafe import printable
from reconciler.wording import cost_line, summary_line

SYMBOLS: dict[Action, tuple[str, str]] = {
    "create": ("+", "green"),
    "update": ("~", "yellow"),
    "reactivate": ("^", "cyan"),
    "deactivate": ("-", "red"),
}
T = TypeVar("T")

LEGEND = "Legend: + create, ~ update, ^ reactivate, - deactivate"


def use_color(stream: IO[str] | None = None) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    stream = stream or sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)())


def show(value: Any) -> str:
    """A field value shown unambiguously: strings quoted, null as (empty)."""
    if value is None or value == "":
        return "(empty)"
    return printable(json.dumps(value, ensure_ascii=False))


class TextRenderer:
    def __init__(self, *, color: bool = False) -> None:
        self.color = color

    def _style(self, text: str, **kwargs: Any) -> str:
        return click.style(text, **kwargs) if self.color else text

    def header(self, plan: Plan) -> str:
        env = f" (environment: {printable(plan.environment)})" if plan.environment else ""
        return f"{title(plan.system)} plan for {printable(plan.target)}{env}"

    def change(self, change: Change) -> list[str]:
        symbol, colour = SYMBOLS[change.action]
        lines = [
            self._style(f"  {symbol} {change.action:<10}", fg=colour, bold=True)
            + " "
            + printable(change.key)
        ]
        width = max((len(name) for name in change.fields), default=0)
        for name, fc in sorted(change.fields.items()):
            label = f"{name}:".ljust(width + 1)
            if change.action == "create":
                lines.append(f"      {label} {show(fc.after)}")
            else:
                lines.append(f"      {label} {show(fc.before)} -> {show(fc.after)}")
        if change.blocked:
            lines.append(self._style(f"      not sent: {printable(change.blocked)}", fg="red"))
        return lines

    def notes(self, plan: Plan) -> list[str]:
        """The notes, a reason said once for every user it concerns (largest group first)."""
        if not plan.notes:
            return []
        out = ["", "Notes (differences apply cannot change; not counted as changes):"]
        for group in note_groups(plan.notes):
            first = group[0]
            if len(group) == 1:
                reason = f" ({printable(first.reason)})" if first.reason else ""
                out.append(_note_line(first) + reason)
                continue
            reason = f": {printable(first.reason)}" if first.reason else ""
            out.append(f"  {printable(first.field)}, {len(group):,} users{reason}")
            out += [_note_line(note) for note in group]
        return out

    def render(self, plan: Plan) -> str:
        out = [self.header(plan), ""]
        if not plan.changes:
            out.append("No changes. The tenant matches the desired state.")
        for change in plan.changes:
            out.extend(self.change(change))
        if plan.changes:
            out += ["", LEGEND]
        out += self.notes(plan)
        for remark in plan_remarks(plan):
            out += ["", f"Note: {printable(remark.text)}"]
        cost = cost_line(plan)
        if cost:
            out += ["", cost]
        if plan.warnings:
            out += ["", "Warnings:"]
            out += [self._style(f"  ! {printable(w.message)}", fg="yellow") for w in plan.warnings]
        for guard in plan.guards:
            if guard.overridden:
                out += [
                    "",
                    "Safety guard overridden (--allow-mass-deactivation): "
                    + printable(guard.message),
                ]
            else:
                out += [
                    "",
                    self._style(
                        f"Safety guard tripped: {printable(guard.message)}.", fg="red", bold=True
                    ),
                    f"Apply will refuse this plan. {remedy([guard])}",
                ]
        out += ["", self._style(summary_line(plan.summary()), bold=True)]
        return "\n".join(out) + "\n"


def grouped(items: Iterable[T], key: Callable[[T], Hashable]) -> list[list[T]]:
    """Items with the same key together, the largest group first (else in order)."""
    groups: dict[Hashable, list[T]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    return sorted(groups.values(), key=lambda group: -len(group))


def note_groups(notes: list[PlanNote]) -> list[list[PlanNote]]:
    """Notes of one field and one reason together: the reason is said once."""
    return grouped(notes, lambda note: (note.field, note.reason))


def _note_line(note: PlanNote) -> str:
    field = printable(note.field)
    return f"  = {printable(note.key)} {field}: {show(note.before)} -> {show(note.after)}"


def journeys_text(journeys: list[Journey]) -> str:
    """The stories of a multi-system run, after every system's plan."""
    if not journeys:
        return ""
    lines = ["Across systems (one person, every system of this run):"]
    lines += [f"  * {printable(j.who())} {printable(j.story)}" for j in journeys]
    return "\n" + "\n".join(lines) + "\n"
