"""The plan as a pull-request comment (GitHub or GitLab flavoured markdown).

Every user-supplied string is made inert before it reaches the comment: a name
in the tenant must not ping @everyone, break the table, inject HTML into the
PR, or hide a character. Logins and field values are shown as code spans (what
the tenant holds, character for character: no markup, link or mention is read
inside code); other user text goes through `escape`.
"""

from __future__ import annotations

import html
import re

from reconciler.journeys import Journey
from reconciler.plan import (
    ACTIONS,
    Action,
    Change,
    Plan,
    and_joined,
    cost_line,
    external_id_note,
    summary_line,
)
from reconciler.providers import title
from reconciler.providers.dealhub.fields import USER_FIELDS
from reconciler.render.text import SYMBOLS
from reconciler.textsafe import printable

#: How many blocked users and notes the comment names before "and N more".
NAMED_SHOWN = 20

#: GitHub refuses comments over 65,536 characters; keep a margin.
MAX_CHARS = 65_000
#: Warnings listed in full before the rest are folded into <details>.
WARNINGS_SHOWN = 5
#: Where the CI recipes (examples/ci) keep the whole plan when the comment is cut.
ARTIFACT = "reconciler-plan"
FULL_PLAN = (
    f"The full plan is in the `{ARTIFACT}` artifact of this run (plan.txt, plan.json); "
    "`reconciler plan --format text` prints it too."
)
#: When the comment must be cut, details go in this order: the least risky first.
CUT_ORDER: tuple[Action, ...] = ("update", "create", "reactivate", "deactivate")
KEEP_ORDER: tuple[Action, ...] = tuple(reversed(CUT_ORDER))
_NOUNS: dict[Action, tuple[str, str]] = {
    "create": ("creation", "creations"),
    "update": ("update", "updates"),
    "reactivate": ("reactivation", "reactivations"),
    "deactivate": ("deactivation", "deactivations"),
}
#: The actions whose cut changes are still listed briefly (the others are named
#: in the lists at the top).
_BRIEF: tuple[Action, ...] = ("update", "create")
#: Who loses or regains access is named at the top, whatever is cut.
_CALLOUTS: tuple[tuple[Action, str, str], ...] = (
    ("deactivate", "WARNING", "will lose access (deactivated)"),
    ("reactivate", "IMPORTANT", "will regain access (reactivated)"),
)

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
    "$": "&#36;",  # GitHub reads $...$ as maths
}
_SPECIAL = re.compile("[" + re.escape("".join(_ENTITIES)) + "]")
_WORDS = re.compile(r"(\s+)")
# What starts a block (a list item, a heading underline) when it opens a line.
_LEADING = re.compile(r"^(?:[-+=]|(\d+)([.)]))")
_BACKTICKS = re.compile("`+")


def _span(text: str, cell: bool) -> str:
    if cell:
        # GFM splits a table row on `|` before it reads code spans: `\|` is a pipe
        # inside the cell, even in a code span (and even after a backslash).
        text = text.replace("|", "\\|")
    fence = "`" * (1 + max((len(run) for run in _BACKTICKS.findall(text)), default=0))
    # CommonMark drops one space at each end when both ends have one: pad so
    # that a backtick or a space at an end is shown, not eaten.
    if text[:1] == "`" or text[-1:] == "`" or (text[:1] == text[-1:] == " " and text.strip(" ")):
        text = f" {text} "
    return f"{fence}{text or ' '}{fence}"


def code(text: str, *, cell: bool = False) -> str:
    """User text as an inline code span, shown exactly as it is (`cell`: in a table)."""
    return _span(printable(text), cell)


def html_code(text: str) -> str:
    """User text in <code> inside raw HTML (a <summary>), where markdown is not read."""
    return f"<code>{html.escape(printable(text), quote=False)}</code>"


def escape(text: str, *, cell: bool = False) -> str:
    """Make free user text inert in markdown: no markup, HTML or mention, one line.

    A word with an `@` (a login, an email, a would-be mention) becomes a code
    span: GitHub and GitLab read no mention in code, and the word stays whole.
    (A zero-width space after the `@` also stops a mention, but it lets the
    browser break a login across lines and it travels with every copy.)
    """
    parts = _WORDS.split(printable(text).strip())
    out = "".join(
        _span(part, cell) if "@" in part else _SPECIAL.sub(lambda m: _ENTITIES[m.group()], part)
        for part in parts
    )
    return _LEADING.sub(lambda m: f"{m.group(1) or ''}&#{ord(m.group()[-1])};", out)


# A saved plan is untrusted input: only the names of real fields go in as they are.
def _field(name: str, *, cell: bool = False) -> str:
    return name if name in USER_FIELDS else code(name, cell=cell)


def _html_field(name: str) -> str:
    return name if name in USER_FIELDS else html_code(name)


def _value(value: object) -> str:
    if value is None or value == "":
        return "*(empty)*"
    if isinstance(value, bool):
        return "true" if value else "false"
    return code(str(value), cell=True)


def _capped(items: list[str], budget: int, sep: int = 2) -> tuple[list[str], int]:
    """The first items that fit in `budget` characters, and how many were left out."""
    kept: list[str] = []
    used = 0
    for item in items:
        if used + len(item) + sep > budget:
            break
        kept.append(item)
        used += len(item) + sep
    return kept, len(items) - len(kept)


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _names(changes: list[Change], budget: int) -> tuple[str, int]:
    """The logins as one line of code spans, cut to `budget` with the count left out."""
    names, more = _capped([code(c.login) for c in changes], budget)
    tail = f" … and {more} more (see the artifact)" if more else ""
    return ", ".join(names) + tail, more


class _Cut:
    """What a comment leaves out to fit: the notice says it, in these words."""

    def __init__(self) -> None:
        self.details: dict[Action, int] = dict.fromkeys(ACTIONS, 0)
        self.warnings = 0
        self.listed = 0  # deactivated and reactivated users, named at the top
        self.unnamed = 0  # of them, those left out of the lists

    def __bool__(self) -> bool:
        return bool(self.warnings or self.unnamed or any(self.details.values()))

    def notice(self, max_chars: int) -> str:
        details = [
            _count(n, *_NOUNS[action]) for action in KEEP_ORDER if (n := self.details[action])
        ]
        missing = []
        if details:
            missing.append("the details of " + and_joined(details))
        if self.warnings:
            missing.append(_count(self.warnings, "warning", "warnings"))
        if self.unnamed:
            missing.append(_count(self.unnamed, "login", "logins") + " of the lists above")
        named = ""
        if self.listed and not self.unnamed:
            named = " Every deactivated and reactivated user is named above."
        return (
            f"_Cut to fit the {max_chars:,}-character limit of a comment. "
            f"Not shown here: {'; '.join(missing)}.{named} {FULL_PLAN}_"
        )

    @classmethod
    def worst(cls, plan: Plan) -> _Cut:
        """The longest notice this plan could need (room is kept for it)."""
        cut = cls()
        cut.details = {a: len(plan.changes) for a in ACTIONS}
        cut.warnings = len(plan.warnings)
        cut.unnamed = len(plan.changes)
        return cut


class MarkdownRenderer:
    def __init__(self, max_chars: int = MAX_CHARS, *, limit: int | None = None) -> None:
        self.max_chars = max_chars
        #: The comment's limit as a cut notice states it (one system's share is less).
        self.limit = limit or max_chars

    def render_many(self, plans: list[Plan], journeys: list[Journey]) -> str:
        """One comment for several systems: every system's summary first, then each plan.

        The limit is shared fairly: a plan that fits in an equal share takes only
        what it needs, and the rest goes to the plans that do not, so each system
        keeps its deactivations and reactivations named, then detailed, first.
        """
        head = ["### reconciler plan", ""] + [f"- {system_summary(p)}" for p in plans]
        head += self.journeys(journeys)
        top = "\n".join(head) + "\n\n"
        room = self.max_chars - len(top) - len(plans)
        shown: dict[int, str] = {}
        pending = list(range(len(plans)))
        while pending:
            share = max(0, room // len(pending))
            fits = {i: MarkdownRenderer(share, limit=self.limit).fit(plans[i]) for i in pending}
            whole = [i for i in pending if not fits[i][1]]
            if not whole:
                shown.update((i, fits[i][0]) for i in pending)
                break
            for i in whole:
                shown[i] = fits[i][0]
                room -= len(shown[i])
                pending.remove(i)
        return top + "\n".join(shown[i] for i in range(len(plans)))

    def journeys(self, journeys: list[Journey]) -> list[str]:
        """The people whose changes span systems, one line each (the first NAMED_SHOWN)."""
        if not journeys:
            return []
        lines = ["", "**Across systems** (one person, every system of this run):", ""]
        for journey in journeys[:NAMED_SHOWN]:
            who = code(journey.person)
            if journey.person.casefold() != journey.email.casefold():
                who += f" ({code(journey.email)})"
            lines.append(f"- {who} {escape(journey.story)}")
        if len(journeys) > NAMED_SHOWN:
            # The artifact's plan.txt is made from the saved plan, which has no
            # journeys (SPEC 5 fixes its keys): point at what does name them.
            more = len(journeys) - NAMED_SHOWN
            lines.append(f"- and {more} more (each system's plan below names their changes)")
        return lines

    def title(self, plan: Plan) -> list[str]:
        env = f" · environment **{escape(plan.environment)}**" if plan.environment else ""
        return [
            f"### {title(plan.system)} plan for {escape(plan.target)}{env}",
            "",
            f"**{summary_line(plan.summary())}** {plan.unchanged} unchanged.",
        ]

    def guards(self, plan: Plan) -> list[str]:
        lines: list[str] = []
        blocked = plan.blocked
        if blocked:
            shown = ", ".join(code(c.login) for c in blocked[:NAMED_SHOWN])
            more = f" and {len(blocked) - NAMED_SHOWN} more" if len(blocked) > NAMED_SHOWN else ""
            lines += [
                "",
                "> [!WARNING]",
                f"> **{_count(len(blocked), 'user', 'users')} the API cannot take "
                f"(apply skips them):** {shown}{more}. The text plan gives each reason.",
            ]
        external = external_id_note(plan)
        if external:
            lines += ["", f"> **Note:** {escape(external)}"]
        cost = cost_line(plan)
        if cost:
            lines += ["", escape(cost)]
        if plan.notes:
            items = [
                f"- {code(n.login)} {_field(n.field)}: {_value(n.before)} → {_value(n.after)}"
                for n in plan.notes[:NAMED_SHOWN]
            ]
            if len(plan.notes) > NAMED_SHOWN:
                items.append(f"- and {len(plan.notes) - NAMED_SHOWN} more (see the text plan)")
            summary = _count(len(plan.notes), "note", "notes")
            lines += [
                "",
                f"<details><summary>{summary}: differences apply cannot change</summary>",
                "",
                *items,
                "",
                "</details>",
            ]
        for guard in plan.guards:
            if guard.overridden:
                lines += ["", f"> **Safety guard overridden:** {escape(guard.message)}"]
            else:
                lines += [
                    "",
                    "> [!CAUTION]",
                    f"> **Safety guard tripped:** {escape(guard.message)}. "
                    "Apply will refuse this plan unless run with `--allow-mass-deactivation`.",
                ]
        return lines

    def details(self, change: Change) -> str:
        symbol, _ = SYMBOLS[change.action]
        changed = ""
        if change.action == "update":
            # The fields an update changes, readable without opening it.
            changed = ": " + ", ".join(_html_field(name) for name in sorted(change.fields))
        rows = [
            f"<details><summary><code>{symbol}</code> {change.action} "
            f"{html_code(change.login)}{changed}</summary>",
            "",
            "| field | before | after |",
            "| --- | --- | --- |",
        ]
        for name, fc in sorted(change.fields.items()):
            before = "" if change.action == "create" else _value(fc.before)
            rows.append(f"| {_field(name, cell=True)} | {before} | {_value(fc.after)} |")
        rows += ["", "</details>"]
        return "\n".join(rows)

    def brief(self, change: Change) -> str:
        """A change in a few words, for one whose details were cut."""
        if change.action != "update":
            return code(change.login)
        return f"{code(change.login)} ({', '.join(_field(n) for n in sorted(change.fields))})"

    def render(self, plan: Plan) -> str:
        return self.fit(plan)[0]

    def fit(self, plan: Plan) -> tuple[str, bool]:
        """The comment, and whether anything was cut to fit `max_chars`."""
        title, guards = self.title(plan), self.guards(plan)
        fixed = sum(len(line) + 1 for line in title + guards)
        budget = self.max_chars - fixed - len(_Cut.worst(plan).notice(self.limit))
        parts = _Parts(self)
        for _ in range(4):
            text, cut = self._compose(plan, budget, parts)
            if len(text) <= self.max_chars:
                return text, cut
            # The headings and blank lines around the lists did not fit: take
            # their room from the budget and compose again (a few rounds at most).
            budget -= len(text) - self.max_chars + 200
        # Only a title and guards larger than the limit itself (a tiny max_chars).
        notice = "\n\n_Cut to fit the comment limit._\n"
        return (text[: max(0, self.max_chars - len(notice))] + notice)[: self.max_chars], True

    def _compose(self, plan: Plan, budget: int, parts: _Parts) -> tuple[str, bool]:
        """The comment, with `budget` characters for the lists and the changes."""
        cut = _Cut()
        title, guards = self.title(plan), self.guards(plan)

        callouts: list[str] = []
        for action, kind, heading in _CALLOUTS:
            changes = plan.by_action(action)
            if changes:
                names, unnamed = _names(changes, max(0, budget))
                cut.listed += len(changes)
                cut.unnamed += unnamed
                line = f"> **{_count(len(changes), 'user', 'users')} {heading}:** {names}"
                callouts += ["", f"> [!{kind}]", line]
                budget -= len(line)

        warnings: list[str] = []
        if plan.warnings:
            items = [f"- {escape(w.message)}" for w in plan.warnings]
            shown, _ = _capped(items[:WARNINGS_SHOWN], max(0, budget), sep=1)
            budget -= sum(len(item) + 1 for item in shown)
            # The rest is folded, and takes at most a third of the comment, after
            # the details of the deactivations and reactivations.
            risky = [c for a in KEEP_ORDER if a not in _BRIEF for c in plan.by_action(a)]
            room = min(budget, self.max_chars // 3)
            for change in risky:
                if room <= 0:
                    break
                room -= len(parts.full(change)) + 1
            rest, _ = _capped(items[len(shown) :], max(0, room), sep=1)
            budget -= sum(len(item) + 1 for item in rest)
            cut.warnings = len(items) - len(shown) - len(rest)
            warnings = ["", f"**Warnings ({len(items)})**", *shown]
            if rest:
                more = _count(len(rest), "more warning", "more warnings")
                warnings += ["", f"<details><summary>{more}</summary>", "", *rest, "", "</details>"]
            if cut.warnings:
                warnings += ["", f"_… and {cut.warnings} more (see the artifact)._"]

        body = self._body(plan, budget, cut, parts)
        out = title
        if cut:
            out += ["", cut.notice(self.limit)]
        out += guards + callouts + warnings
        if not plan.changes:
            out += ["", "No changes. The tenant matches the desired state."]
        return "\n".join(out + body) + "\n", bool(cut)

    def _body(self, plan: Plan, budget: int, cut: _Cut, parts: _Parts) -> list[str]:
        """The changes, in full while they fit; cut in CUT_ORDER, the least risky first.

        A cut create or update is still listed briefly (a deactivation or a
        reactivation is already named above); only when even those do not fit
        are the brief entries dropped, updates first. Filled in KEEP_ORDER, so
        only what is shown is ever rendered (a plan may have 100,000 changes).
        """
        level: dict[int, int] = {}  # 2 in full, 1 briefly; absent: not shown
        size = 0
        briefs = [c for a in KEEP_ORDER if a in _BRIEF for c in plan.by_action(a)]
        for change in briefs:
            if size + len(parts.brief(change)) + 2 > budget:
                break
            size += len(parts.brief(change)) + 2
            level[id(change)] = 1
        if len(level) == len(briefs):
            for change in (c for a in KEEP_ORDER for c in plan.by_action(a)):
                grown = size + len(parts.full(change)) + 1
                if id(change) in level:
                    grown -= len(parts.brief(change)) + 2
                if grown > budget:
                    break
                size = grown
                level[id(change)] = 2
        body: list[str] = []
        for action in ACTIONS:
            changes = plan.by_action(action)
            blocks = [parts.full(c) for c in changes if level.get(id(c)) == 2]
            short = [parts.brief(c) for c in changes if level.get(id(c)) == 1]
            gone = len(changes) - len(blocks) - len(short)
            cut.details[action] = len(changes) - len(blocks)
            if blocks:
                # One <details> may follow another; markdown after them needs a blank line.
                body += blocks if body and body[-1].endswith("</details>") else ["", *blocks]
            if short or (gone and action in _BRIEF):
                what = _count(len(short) + gone, *_NOUNS[action])
                tail = f" … and {gone} more (see the artifact)" if gone else ""
                body += ["", f"**{what} without details:** {', '.join(short)}{tail}"]
        return body


class _Parts:
    """Each change's details and brief entry, rendered once and only when needed."""

    def __init__(self, renderer: MarkdownRenderer) -> None:
        self._renderer = renderer
        self._full: dict[int, str] = {}
        self._brief: dict[int, str] = {}

    def full(self, change: Change) -> str:
        if (text := self._full.get(id(change))) is None:
            text = self._full[id(change)] = self._renderer.details(change)
        return text

    def brief(self, change: Change) -> str:
        if (text := self._brief.get(id(change))) is None:
            text = self._brief[id(change)] = self._renderer.brief(change)
        return text


def system_summary(plan: Plan) -> str:
    """One system's line of a multi-system comment: counts, notes, cost, guards."""
    counts = plan.summary()
    line = (
        f"**{title(plan.system)}**: {counts['create']} to create, {counts['update']} to "
        f"update, {counts['reactivate']} to reactivate, {counts['deactivate']} to deactivate"
    )
    if plan.notes:
        line += f"; {_count(len(plan.notes), 'note', 'notes')}"
    if plan.cost is not None:
        line += f"; cost {plan.cost.total:,} {plan.cost.unit}"
    if not plan.safe:
        line += "; **a safety guard tripped**"
    return line
