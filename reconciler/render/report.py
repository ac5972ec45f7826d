"""The outcome of an apply, in the same three formats as the plan."""

from __future__ import annotations

import json
from typing import Any

import click

from reconciler import __version__
from reconciler.model import ApplyReport, Held, Outcome
from reconciler.providers import title
from reconciler.render.markdown import MAX_CHARS, code, escape
from reconciler.textsafe import printable
from reconciler.wording import complete_line, plural

_MARKS = {"done": ("ok", "green"), "failed": ("FAILED", "red"), "skipped": ("skipped", "yellow")}


def report_data(report: ApplyReport) -> dict[str, Any]:
    return {
        "format_version": 1,
        "reconciler_version": __version__,
        "system": report.system,
        "target": report.target,
        "environment": report.environment,
        "ok": report.ok,
        "summary": report.counts(),
        "requests": dict(sorted(report.requests.items())),
        "held": [_held_data(h) for h in report.held],
        "no_longer_needed": [_held_data(h) for h in report.no_longer_needed],
        "outcomes": [
            {"login": o.key, "action": o.action, "status": o.status, "message": o.message}
            for o in report.outcomes
        ],
    }


def _held_data(held: Held) -> dict[str, Any]:
    return {
        "login": held.key,
        "action": held.action,
        "fields": list(held.fields),
        "reason": held.reason,
    }


#: What a reader does about held changes, said once wherever they are listed.
HELD_ADVICE = (
    "Record the change in the files in a pull request (or, to undo it, review a plan "
    "that holds it: plan --out), then apply that reviewed plan."
)


#: Held rows a comment shows; a larger number points to the JSON report (the limit is
#: the comment's 65,000 characters: 200 rows of about 150 characters fit well within).
MAX_HELD_ROWS = 200


def _held_line(held: Held) -> str:
    fields = f" ({', '.join(held.fields)})" if held.fields else ""
    return f"{held.action:<10} {printable(held.key)}{fields}: {printable(held.reason)}"


def held_count_line(report: ApplyReport) -> str | None:
    """`Held: N changes not written.`, or None when nothing was held."""
    count = len(report.held)
    if not count:
        return None
    return f"Held: {plural(count, 'change')} not written. {HELD_ADVICE}"


def render_text(report: ApplyReport, *, color: bool = False) -> str:
    def style(text: str, **kw: Any) -> str:
        return click.style(text, **kw) if color else text

    env = f" (environment: {report.environment})" if report.environment else ""
    lines = [f"{title(report.system)} apply to {printable(report.target)}{printable(env)}", ""]
    if report.held:
        # First: what a reviewer must act on.
        lines += [style("Held (not written: no reviewed plan holds them):", fg="red", bold=True)]
        lines += [
            f"  {style('held    ', fg='red', bold=True)} {_held_line(h)}" for h in report.held
        ]
        lines.append("")
    if report.no_longer_needed:
        lines.append("No longer needed (in the reviewed plan, not written):")
        lines += [f"  {'-':<8} {_held_line(h)}" for h in report.no_longer_needed]
        lines.append("")
    for o in report.outcomes:
        mark, colour = _MARKS[o.status]
        line = f"  {style(f'{mark:<8}', fg=colour, bold=True)} {o.action:<10} {printable(o.key)}"
        if o.message:
            line += f": {printable(o.message)}"
        lines.append(line)
    if not report.outcomes:
        lines.append(
            "Nothing written."
            if report.held
            else "No changes. The tenant matches the desired state."
        )
    lines += ["", style(complete_line(report.counts()), bold=True)]
    held = held_count_line(report)
    if held:
        lines.append(style(held, fg="red", bold=True))
    return "\n".join(lines) + "\n"


def render_json(report: ApplyReport) -> str:
    return json.dumps(report_data(report), indent=2, ensure_ascii=False) + "\n"


def render_markdown(report: ApplyReport, max_chars: int = MAX_CHARS) -> str:
    counts = report.counts()
    env = f" · environment **{escape(report.environment)}**" if report.environment else ""
    head = [f"### {title(report.system)} apply to {escape(report.target)}{env}", ""]
    head += [f"**{complete_line(counts)}**", ""]
    if report.held:
        head += [
            "> [!WARNING]",
            f"> **{len(report.held)} held: not written, no reviewed plan holds "
            f"{'them' if len(report.held) != 1 else 'it'}.** {escape(HELD_ADVICE)}",
            "",
            "| held action | login | fields | why |",
            "| --- | --- | --- | --- |",
        ]
        head += [
            f"| {h.action} | {code(h.key, cell=True)} | {escape(', '.join(h.fields), cell=True)} "
            f"| {escape(h.reason, cell=True)} |"
            for h in report.held[:MAX_HELD_ROWS]
        ]
        if len(report.held) > MAX_HELD_ROWS:
            head.append(
                f"\n_{len(report.held) - MAX_HELD_ROWS} more held; the JSON report lists all._"
            )
        head.append("")
    if report.no_longer_needed:
        head += ["No longer needed (in the reviewed plan, not written):", ""]
        head += [
            f"- {h.action} {code(h.key)}: {escape(h.reason)}"
            for h in report.no_longer_needed[:MAX_HELD_ROWS]
        ]
        if len(report.no_longer_needed) > MAX_HELD_ROWS:
            head.append(f"- _and {len(report.no_longer_needed) - MAX_HELD_ROWS} more_")
        head.append("")
    problems = [o for o in report.outcomes if o.status != "done"]
    if problems:
        head += ["> [!CAUTION]", f"> **{len(problems)} user(s) not applied.**", ""]
    rows = ["| status | action | login | message |", "| --- | --- | --- | --- |"]
    body: list[str] = []
    budget = max_chars - sum(len(h) + 1 for h in head) - 600
    cut = used = 0
    # Failures first: they are what a reviewer must see.
    for o in sorted(report.outcomes, key=lambda o: (o.status == "done", o.key)):
        row = _row(o)
        if used + len(row) > budget:
            cut += 1
            continue
        body.append(row)
        used += len(row) + 1
    out = head
    if body:
        out += ["<details><summary>Every user</summary>", "", *rows, *body, "", "</details>"]
    if cut:
        out += ["", f"_{cut} more rows were cut to fit the comment limit._"]
    return "\n".join(out) + "\n"


def _row(o: Outcome) -> str:
    return (
        f"| {o.status} | {o.action} | {code(o.key, cell=True)} | {escape(o.message, cell=True)} |"
    )


def render_report(report: ApplyReport, fmt: str, *, color: bool = False) -> str:
    if fmt == "json":
        return render_json(report)
    if fmt == "markdown":
        return render_markdown(report)
    return render_text(report, color=color)
