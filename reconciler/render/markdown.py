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

# Characters that are markup somewhere in a PR comment: tables (|), code spans (`),
# emphasis, links, strikethrough, headings, escapes, HTML and entities. They
# become numeric character references, which read the same in text, in table
# cells and inside the HTML of <details> (where a backslash escape would show).
_ENTITIES = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    "|": "&#124;",
    "`": "&#96;",
    "\\": "&#92;",
    "*": "&#42;",
    "_": "&#95;",
    "[": "&#91;",
    "]": "&#93;",
    "~": "&#126;",
    "#": "&#35;",
    # A zero-width space after @ stops GitHub and GitLab from reading a mention.
    "@": "@&#8203;",
}
_SPECIAL = re.compile("[" + re.escape("".join(_ENTITIES)) + "]")
# Control characters and the bidirectional overrides (the reordering of
# "Trojan source"): shown as their code point, never acted on.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def escape(text: str) -> str:
    """Make user text inert in markdown: no markup, no HTML, no mentions, one line."""
    text = " ".join(text.splitlines())
    text = _UNSAFE.sub(lambda m: f"U+{ord(m.group()):04X}", text)
    return _SPECIAL.sub(lambda m: _ENTITIES[m.group()], text)


def _value(value: object) -> str:
    if value is None or value == "":
        return "*(empty)*"
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(str(value))


def _capped(items: list[str], budget: int) -> tuple[list[str], int]:
    """The first items that fit in `budget` characters, and how many were left out."""
    kept: list[str] = []
    used = 0
    for item in items:
        if used + len(item) + 2 > budget:
            break
        kept.append(item)
        used += len(item) + 2
    return kept, len(items) - len(kept)


class MarkdownRenderer:
    def __init__(self, max_chars: int = MAX_CHARS) -> None:
        self.max_chars = max_chars

    @property
    def _list_budget(self) -> int:
        # The list of deactivated logins and the warnings may each take a third of
        # the comment: a plan of thousands of changes still fits, counts intact.
        return max(200, (self.max_chars - 2_000) // 3)

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
            names, more = _capped([escape(c.login) for c in deactivations], self._list_budget)
            lines += [
                "> [!WARNING]",
                f"> **{len(deactivations)} user{'s' if len(deactivations) != 1 else ''} "
                "will lose access (deactivated):** "
                + ", ".join(names)
                + (f" … and {more} more" if more else ""),
                "",
            ]
        if plan.warnings:
            shown, more = _capped(
                [f"- {escape(w.message)}" for w in plan.warnings], self._list_budget
            )
            lines.append(f"**Warnings ({len(plan.warnings)})**")
            lines += shown
            if more:
                lines.append(f"- … and {more} more (see `reconciler plan --format json`)")
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

    def _notice(self, cut: int) -> str:
        return (
            f"_Details of {cut} more change{'s' if cut != 1 else ''} were cut to fit "
            f"the {self.max_chars:,}-character comment limit; the summary above is "
            "complete. Run `reconciler plan --format json` for every change._"
        )

    def render(self, plan: Plan) -> str:
        head = self.summary(plan)
        blocks = [self.details(c) for action in ACTIONS for c in plan.by_action(action)]
        # Room for the head, the notice, the blank lines between parts.
        budget = self.max_chars - len(head) - len(self._notice(len(blocks))) - 8
        kept, _ = _capped(blocks, budget)
        out = [head]
        if kept:
            out += ["", *kept]
        cut = len(blocks) - len(kept)
        if cut:
            out += ["", self._notice(cut)]
        text = "\n".join(out) + "\n"
        if len(text) > self.max_chars:
            # Only a head larger than the limit itself (a tiny max_chars) gets here.
            notice = "\n\n_Cut to fit the comment limit._\n"
            text = text[: max(0, self.max_chars - len(notice))] + notice
            text = text[: self.max_chars]
        return text
