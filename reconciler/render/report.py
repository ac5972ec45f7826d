"""The outcome of an apply, in the same three formats as the plan."""

from __future__ import annotations

import json
from typing import Any

import click

from reconciler.apply import ApplyReport, Outcome, complete_line
from reconciler.providers import title
from reconciler.render.markdown import MAX_CHARS, code, escape
from reconciler.textsafe import printable

_MARKS = {"done": ("ok", "green"), "failed": ("FAILED", "red"), "skipped": ("skipped", "yellow")}


def report_data(report: ApplyReport) -> dict[str, Any]:
    return {
        "format_version": 1,
        "system": report.system,
        "target": report.target,
        "environment": report.environment,
        "ok": report.ok,
        "summary": report.counts(),
        "requests": dict(sorted(report.requests.items())),
        "outcomes": [
            {"login": o.login, "action": o.action, "status": o.status, "message": o.message}
            for o in report.outcomes
        ],
    }


def render_text(report: ApplyReport, *, color: bool = False) -> str:
    def style(text: str, **kw: Any) -> str:
        return click.style(text, **kw) if color else text

    env = f" (environment: {report.environment})" if report.environment else ""
    lines = [f"{title(report.system)} apply to {printable(report.target)}{printable(env)}", ""]
    for o in report.outcomes:
        mark, colour = _MARKS[o.status]
        line = f"  {style(f'{mark:<8}', fg=colour, bold=True)} {o.action:<10} {printable(o.login)}"
        if o.message:
            line += f": {printable(o.message)}"
        lines.append(line)
    if not report.outcomes:
        lines.append("No changes. The tenant matches the desired state.")
    lines += ["", style(complete_line(report.counts()), bold=True)]
    return "\n".join(lines) + "\n"


def render_json(report: ApplyReport) -> str:
    return json.dumps(report_data(report), indent=2, ensure_ascii=False) + "\n"


def render_markdown(report: ApplyReport, max_chars: int = MAX_CHARS) -> str:
    counts = report.counts()
    env = f" · environment **{escape(report.environment)}**" if report.environment else ""
    head = [f"### {title(report.system)} apply to {escape(report.target)}{env}", ""]
    head += [f"**{complete_line(counts)}**", ""]
    problems = [o for o in report.outcomes if o.status != "done"]
    if problems:
        head += ["> [!CAUTION]", f"> **{len(problems)} user(s) not applied.**", ""]
    rows = ["| status | action | login | message |", "| --- | --- | --- | --- |"]
    body: list[str] = []
    budget = max_chars - sum(len(h) + 1 for h in head) - 600
    cut = used = 0
    # Failures first: they are what a reviewer must see.
    for o in sorted(report.outcomes, key=lambda o: (o.status == "done", o.login)):
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
        f"| {o.status} | {o.action} | {code(o.login, cell=True)} | {escape(o.message, cell=True)} |"
    )


def render_report(report: ApplyReport, fmt: str, *, color: bool = False) -> str:
    if fmt == "json":
        return render_json(report)
    if fmt == "markdown":
        return render_markdown(report)
    return render_text(report, color=color)
