"""The plan as a pull-request comment (GitHub or GitLab flavoured markdown).

Every user-supplied string goes through `escape`: a name in the tenant must
not be able to ping @everyone, break the table, or inject HTML into the PR.
"""

from __future__ import annotations

import re

from reconciler.plan import ACTIONS, Change, Plan, summary_line
from reconciler.render.text import SYMBOLS

#: GitHub refuses comments over 65,536 characters; keep a margin.
MAX_CHARS = 65_000

# What is live inside a table cell or a summary line; the rest is left readable.
_SPECIAL = re.compile(r"([\\`*_\[\]|~#])")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def escape(text: str) -> str:
    """Make user text inert in markdown: no markup, no HTML, no mentions, one line."""
    text = "".join(_ENTITIES.get(ch, ch) for ch in text)
    text = _SPECIAL.sub(lambda m: "&#96;" if m.group(1) == "`" else "\\" + m.group(1), text)
    # A zero-width space after @ stops GitHub and GitLab from reading a mention.
    text = text.replace("@", "@&#8203;")
    return " ".join(text.splitlines())


def _value(value: object) -> str:
    if value is None or value == "":
        return "*(empty)*"
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(str(value))


class MarkdownRenderer:
    def __init__(self, max_chars: int = MAX_CHARS) -> None:
        self.max_chars = max_chars

    def summary(self, plan: Plan) -> str:
        env = f" · environment **{escape(plan.environment)}**" if plan.environment else ""
        lines = [
            f"### DealHub plan for {escape(plan.target)}{env}",
            "",
            f"**{summary_line(plan.summary())}** {plan.unchanged} unchanged.",
            "",
        ]
        for guard in plan.guards:
            if guard.overridden:
                lines += [f"> **Safety guard overridden:** {escape(guard.message)}", ""]
            else:
                lines += [
                    "> [!CAUTION]",
                    f"> **Safety guard tripped:** {escape(guard.message)}. "
                    "Apply will refuse this plan unless run with `--allow-mass-deactivation`.",
                    "",
                ]
        deactivations = plan.by_action("deactivate")
        if deactivations:
            lines += [
                "> [!WARNING]",
                f"> **{len(deactivations)} user{'s' if len(deactivations) != 1 else ''} "
                "will lose access (deactivated):** "
                + ", ".join(escape(c.login) for c in deactivations),
                "",
            ]
        if plan.warnings:
            lines.append("**Warnings**")
            lines += [f"- {escape(w.message)}" for w in plan.warnings]
            lines.append("")
        if not plan.changes:
            lines.append("No changes. The tenant matches the desired state.")
        return "\n".join(lines)

    def details(self, change: Change) -> str:
        symbol, _ = SYMBOLS[change.action]
        rows = [
            f"<details><summary><code>{symbol}</code> {change.action} "
            f"{escape(change.login)}</summary>",
            "",
            "| field | before | after |",
            "| --- | --- | --- |",
        ]
        for name, fc in sorted(change.fields.items()):
            before = "" if change.action == "create" else _value(fc.before)
            rows.append(f"| {name} | {before} | {_value(fc.after)} |")
        rows += ["", "</details>"]
        return "\n".join(rows)

    def render(self, plan: Plan) -> str:
        head = self.summary(plan)
        blocks = [self.details(c) for action in ACTIONS for c in plan.by_action(action)]
        budget = self.max_chars - len(head) - 400  # room for the truncation notice
        kept: list[str] = []
        used = 0
        for block in blocks:
            if used + len(block) + 1 > budget:
                break
            kept.append(block)
            used += len(block) + 1
        out = [head]
        if kept:
            out += ["", *kept]
        cut = len(blocks) - len(kept)
        if cut:
            out += [
                "",
                f"_Details of {cut} more change{'s' if cut != 1 else ''} were cut to fit "
                f"the {self.max_chars:,}-character comment limit; the summary above is "
                "complete. Run `reconciler plan --format json` for every change._",
            ]
        return "\n".join(out) + "\n"
