"""The plan as a pull-request comment (GitHub or GitLab flavoured markdown).

Designed for its reader: the summary of every system first; who loses and who
regains access next (for several systems, one table of people, each person
once); then each system's changes with their values on their own line, an
update as `field: before → after`. Notes and warnings that repeat one
condition are said once, with their count and, folded, whom they concern.

A comment holds 65,000 characters at most. When a plan does not fit, detail
is given up in tiers, the least needed first (`TIERS`): the full records of
creations, then the context of what does not change (whom a note concerns),
then the values of updates, then the names of creations and updates. Every
deactivated and reactivated user stays named; the comment says what it left
out and where the whole plan is.

Every user-supplied string is made inert before it reaches the comment: a name
in the tenant must not ping @everyone, break the table, inject HTML into the
PR, or hide a character. Logins and field values are shown as code spans (what
the tenant holds, character for character: no markup, link or mention is read
inside code); other user text goes through `escape`.
"""

from __future__ import annotations

import functools
import html
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.journeys import Journey
from reconciler.model import Change, Plan, PlanNote
from reconciler.providers import REGISTRY, get, title
from reconciler.providers.remarks import plan_remarks
from reconciler.render.people import LEAVER, MOVED, RETURNER, Person, Row, people_rows
from reconciler.render.text import grouped, note_groups
from reconciler.textsafe import printable
from reconciler.wording import and_joined, cost_line, summary_line

#: GitHub refuses comments over 65,536 characters; keep a margin.
MAX_CHARS = 65_000
#: Where the CI recipes (examples/ci) keep the whole plan when the comment is cut.
ARTIFACT = "reconciler-plan"
FULL_PLAN = (
    f"The full plan is in the `{ARTIFACT}` artifact of this run (plan.txt, plan.json); "
    "`reconciler plan --format text` prints it too."
)

#: What a comment keeps, most needed first; it gives up detail in the reverse order.
#: RISKY: the users who lose or regain access, and those the API cannot take.
#: WARNED: one line per warning or note (a repeated one is one line).
#: NAMED: the users created or updated, by name.
#: VALUES: an update's `field: before → after`.
#: CONTEXT: what does not change: whom a note or a repeated warning concerns.
#: RECORDS: a creation's full record.
RISKY, WARNED, NAMED, VALUES, CONTEXT, RECORDS = range(6)
#: Changes shown open in a list before the rest of it is folded.
OPEN = 20
#: People named in a cell of the people table; a larger row is named below it.
ROW_NAMES = 30
TIERS = (RISKY, WARNED, NAMED, VALUES, CONTEXT, RECORDS)

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


@functools.cache
def _known_fields(system: str) -> frozenset[str]:
    """The field names a system declares (its capabilities): shown as they are."""
    if system not in REGISTRY:
        return frozenset({"is_active"})
    caps = get(system).capabilities
    return frozenset(
        {caps.key, "is_active", *caps.compared, *caps.settable_on_create, *caps.changeable}
        | caps.write_only
        | set(caps.cannot_change)
    )


def field_label(system: str, name: str, *, cell: bool = False) -> str:
    """A field's name: the system's own as it is, any other (an edited saved plan) as code."""
    return name if name in _known_fields(system) else code(name, cell=cell)


def value(data: object, *, cell: bool = False) -> str:
    """A field value as JSON writes it, in code (a string without its quotes), or *(empty)*."""
    if data is None or data == "":
        return "*(empty)*"
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, default=str)
    return code(text, cell=cell)


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def _more(n: int) -> str:
    return f"… and {n:,} more (see the artifact)"


# -- lists that give up detail in tiers ---------------------------------------------


@dataclass
class _Level:
    """One level of detail of a list's entries."""

    tier: int
    #: Characters an entry adds around its text at this level (", ", "- " and a newline).
    around: int
    #: What the cut notice says of the entries that do not reach it ("the records of 3 …").
    missing: Callable[[int], str]


class _List:
    """Entries of one kind, shown in order; a prefix of them reaches each level.

    `reached[k]` entries are shown at level k + 1 or more: the first entries of
    a list are the ones kept, and the rest are counted ("… and 12 more").
    """

    def __init__(
        self, entries: Sequence[Any], make: Callable[[Any, int], str], *levels: _Level
    ) -> None:
        self.entries = entries
        self._make = make
        self.levels = levels
        self.reached = [0] * len(levels)
        # Each entry's text at a level, made when first needed (a plan may have
        # 100,000 changes; only what is shown, and one more, is ever rendered).
        self._texts: dict[tuple[int, int], str] = {}

    def text(self, i: int, level: int) -> str:
        if (text := self._texts.get((i, level))) is None:
            text = self._texts[i, level] = self._make(self.entries[i], level)
        return text

    def at(self, level: int) -> list[str]:
        """The texts of the entries shown at exactly `level` (1 is the least detail)."""
        start = self.reached[level] if level < len(self.levels) else 0
        return [self.text(i, level) for i in range(start, self.reached[level - 1])]

    @property
    def hidden(self) -> int:
        return len(self.entries) - self.reached[0]

    def _next(self, tier: int) -> int | None:
        for k, level in enumerate(self.levels):
            if level.tier == tier:
                i = self.reached[k]
                below = self.reached[k - 1] if k else len(self.entries)
                return k if i < below else None
        return None

    def cost(self, tier: int) -> int | None:
        """The characters the next entry of `tier` adds, or None when the tier is done."""
        k = self._next(tier)
        if k is None:
            return None
        i = self.reached[k]
        grown = len(self.text(i, k + 1)) + self.levels[k].around
        return grown - (len(self.text(i, k)) + self.levels[k - 1].around if k else 0)

    def take(self, tier: int) -> None:
        k = self._next(tier)
        assert k is not None
        self.reached[k] += 1

    def missing(self, worst: bool = False) -> list[str]:
        """What the cut notice says this list left out (`worst`: as if nothing were shown)."""
        out = []
        for k in reversed(range(len(self.levels))):
            short = len(self.entries) - (0 if worst else self.reached[k])
            if short:
                out.append(self.levels[k].missing(short))
        return out


def _fill(lists: list[_List], room: int, tiers: tuple[int, ...] = TIERS) -> tuple[int, bool]:
    """Show what `room` characters hold, tier by tier: (the characters used, whether all).

    Within a tier the lists take one entry in turn. A tier that does not fit
    whole is the last one anything is shown of: a later (less needed) tier never
    takes room that an earlier one wanted.
    """
    used = 0
    for tier in tiers:
        whole = True
        active = [part for part in lists if part.cost(tier) is not None]
        while active:
            still = []
            for part in active:
                cost = part.cost(tier)
                if cost is None:
                    continue
                if used + cost <= room:
                    used += cost
                    part.take(tier)
                    still.append(part)
                else:
                    whole = False
            active = still
        if not whole:
            return used, False
    return used, True


def _share(groups: list[list[_List]], room: int) -> None:
    """Share `room` among groups (a system's plan, the people table) fairly.

    The users who lose or regain access are named first, in every group. Then
    a group whose whole rest fits in an equal share takes only what it needs,
    and what it leaves goes to the groups that do not fit: a small system is
    shown in full beside a large one, which gives up detail in its own tiers.
    """
    used, _ = _fill([part for group in groups for part in group], room, (RISKY,))
    room -= used
    rest = TIERS[1:]
    pending = list(groups)
    while pending:
        share = max(0, room // len(pending))
        done = []
        for group in pending:
            saved = [list(part.reached) for part in group]
            used, whole = _fill(group, share, rest)
            if whole:
                done.append(group)
                room -= used
            else:
                for part, reached in zip(group, saved, strict=True):
                    part.reached = reached
        if not done:
            for group in pending:
                _fill(group, share, rest)
            return
        pending = [group for group in pending if group not in done]


def _inline(part: _List) -> str:
    """The entries as one run of names, with the count of those left out."""
    names = ", ".join(part.at(1))
    if part.hidden:
        names += (" " if names else "") + _more(part.hidden)
    return names


def _bullets(part: _List) -> list[str]:
    lines = [f"- {text}" for text in part.at(1)]
    if part.hidden:
        lines.append(f"- {_more(part.hidden)}")
    return lines


def _fold(summary: str, lines: list[str]) -> list[str]:
    """Lines behind a <details> (GitHub and GitLab both fold it); `summary` is HTML."""
    return [f"<details><summary>{summary}</summary>", "", *lines, "", "</details>"]


def _whom(topic: str) -> Callable[[int], str]:
    """What a cut comment says of the changes a remark concerns that it does not name."""
    return lambda n: f"whom {topic} concerns ({n:,})"


def _summary_html(headline: str) -> str:
    """A remark's headline in a <summary>: its words escaped, a word in backticks as code."""
    return "".join(
        html_code(part) if i % 2 else html.escape(printable(part), quote=False)
        for i, part in enumerate(headline.split("`"))
    )


def _name_level(tier: int, one: str, many: str) -> _Level:
    return _Level(tier, 2, lambda n: f"the names of {_count(n, one, many)}")


# -- one system's plan --------------------------------------------------------------

# A word that names someone (a login, an email): a repeated warning is the same
# condition whoever it names.
_NAMED = re.compile(r"\S*@\S*")


def _condition(message: str) -> str:
    return _NAMED.sub("…", message)


class _Section:
    """One system's plan, as lists that give up detail in tiers."""

    def __init__(self, plan: Plan, *, multi: bool, limit: int) -> None:
        self.plan = plan
        self.multi = multi
        self.limit = limit
        system = plan.system
        self.system = system
        self._rank = {name: i for i, name in enumerate(_field_order(system))}

        risky = _Level(RISKY, 2, lambda n: _count(n, "login", "logins") + " of the lists above")
        self.leavers = _List(plan.by_action("deactivate"), self._login, risky)
        self.returners = _List(plan.by_action("reactivate"), self._login, risky)
        self.blocked = _List(plan.blocked, self._login, risky)

        groups = grouped(plan.warnings, lambda w: _condition(w.message))
        self.warnings = _List(
            groups,
            self._warning,
            _Level(WARNED, 3, lambda n: _count(n, "warning", "warnings")),
        )
        repeated = [w for group in groups if len(group) > 1 for w in group]
        self.warned = _List(
            repeated,
            lambda w, _: escape(w.message),
            _Level(CONTEXT, 3, lambda n: f"whom {_count(n, 'warning', 'warnings')} concern"),
        )
        notes = note_groups(plan.notes)
        self.notes = _List(
            notes,
            self._note_group,
            _Level(WARNED, 3, lambda n: _count(n, "kind of note", "kinds of note")),
        )
        self.noted = _List(
            [n for group in notes if len(group) > 1 for n in group],
            self._note,
            _Level(CONTEXT, 3, lambda n: f"whom {_count(n, 'note', 'notes')} concern"),
        )
        self.remarks = plan_remarks(plan)
        self.concerned = [
            _List(remark.concerns, self._login, _Level(CONTEXT, 2, _whom(remark.topic)))
            for remark in self.remarks
        ]
        self.creates = _List(
            plan.by_action("create"),
            self._create,
            _name_level(NAMED, "creation", "creations"),
            _Level(RECORDS, 3, lambda n: f"the records of {_count(n, 'creation', 'creations')}"),
        )
        updated = [
            c
            for c in plan.changes
            if c.action == "update" or (c.action != "create" and set(c.fields) - {"is_active"})
        ]
        self.updates = _List(
            updated,
            self._update,
            _name_level(NAMED, "update", "updates"),
            _Level(VALUES, 3, lambda n: f"the values of {_count(n, 'update', 'updates')}"),
        )

    def lists(self) -> list[_List]:
        named = [] if self.multi else [self.leavers, self.returners]
        return [
            self.blocked,
            *named,
            *(self.warnings, self.notes, self.creates, self.updates),
            *(self.warned, self.noted, *self.concerned),
        ]

    # -- entries

    @staticmethod
    def _login(change: Change, level: int) -> str:
        return code(change.key)

    def _order(self, name: str) -> tuple[int, str]:
        return (self._rank.get(name, len(self._rank)), name)

    def _label(self, name: str) -> str:
        return field_label(self.system, name)

    def _warning(self, group: list[Any], level: int) -> str:
        if len(group) == 1:
            return escape(group[0].message)
        # The condition, not an example: an example would name a leaver twice.
        return f"**{len(group):,} warnings:** {escape(_condition(group[0].message))}"

    def _note(self, note: PlanNote, level: int) -> str:
        change = f"{value(note.before)} → {value(note.after)}"
        return f"{code(note.key)} {self._label(note.field)}: {change}"

    def _note_group(self, group: list[Any], level: int) -> str:
        first: PlanNote = group[0]
        reason = f": {escape(first.reason)}" if first.reason else ""
        if len(group) == 1:
            return self._note(first, level) + (f" ({escape(first.reason)})" if reason else "")
        users = _count(len(group), "user", "users")
        return f"**{self._label(first.field)}** of {users}{reason}"

    def _create(self, change: Change, level: int) -> str:
        if level == 1:
            return code(change.key)
        shown = [
            f"{self._label(name)}: {value(fc.after)}"
            for name, fc in sorted(change.fields.items(), key=lambda item: self._order(item[0]))
            # The key is the login already shown; a creation is active unless it says not.
            if fc.after != change.key and not (name == "is_active" and fc.after is True)
        ]
        return f"{code(change.key)} " + " · ".join(shown) if shown else code(change.key)

    def _update(self, change: Change, level: int) -> str:
        names = sorted((n for n in change.fields if n != "is_active"), key=self._order)
        if change.action == "update" and "is_active" in change.fields:
            names.append("is_active")  # an edited saved plan: shown, never hidden
        tag = "" if change.action == "update" else f" *({change.action}d)*"
        if level == 1:
            return f"{code(change.key)}{tag} ({', '.join(self._label(n) for n in names)})"
        values = [
            f"{self._label(n)}: {value(change.fields[n].before)} → {value(change.fields[n].after)}"
            for n in names
        ]
        return f"{code(change.key)}{tag} " + " · ".join(values)

    # -- the section

    def title(self) -> list[str]:
        plan = self.plan
        env = f" · environment **{escape(plan.environment)}**" if plan.environment else ""
        return [
            f"### {title(plan.system)} plan for {escape(plan.target)}{env}",
            "",
            f"**{summary_line(plan.summary())}** {plan.unchanged:,} unchanged.",
        ]

    def notice(self, worst: bool = False) -> str | None:
        missing = [text for part in self.lists() for text in part.missing(worst)]
        if not missing:
            return None
        where = "in the people table above" if self.multi else "above"
        named = ""
        moved = self.leavers.entries or self.returners.entries
        if moved and (self.multi or not (self.leavers.hidden or self.returners.hidden)):
            named = f" Every deactivated and reactivated user is named {where}."
        return (
            f"_Cut to fit the {self.limit:,}-character limit of a comment. "
            f"Not shown here: {'; '.join(missing)}.{named} {FULL_PLAN}_"
        )

    def guards(self) -> list[list[str]]:
        blocks = []
        if self.blocked.entries:
            users = _count(len(self.blocked.entries), "user", "users")
            blocks.append(
                [
                    "> [!WARNING]",
                    f"> **{users} the API cannot take (apply skips them):** "
                    f"{_inline(self.blocked)}. The text plan gives each reason.",
                ]
            )
        for guard in self.plan.guards:
            if guard.overridden:
                blocks.append([f"> **Safety guard overridden:** {escape(guard.message)}"])
            else:
                blocks.append(
                    [
                        "> [!CAUTION]",
                        f"> **Safety guard tripped:** {escape(guard.message)}. "
                        "Apply will refuse this plan unless run with `--allow-mass-deactivation`.",
                    ]
                )
        return blocks

    def access(self) -> list[list[str]]:
        """Who loses and who regains access: named here for one system, counted for several."""
        if self.multi:
            moved = [
                _count(len(part.entries), one, many)
                for part, one, many in (
                    (self.leavers, "deactivation", "deactivations"),
                    (self.returners, "reactivation", "reactivations"),
                )
                if part.entries
            ]
            return [[f"**{and_joined(moved)}:** named in the people table above."]] if moved else []
        blocks = []
        for part, kind, what in (
            (self.leavers, "WARNING", "will lose access (deactivated)"),
            (self.returners, "IMPORTANT", "will regain access (reactivated)"),
        ):
            if part.entries:
                users = _count(len(part.entries), "user", "users")
                blocks.append([f"> [!{kind}]", f"> **{users} {what}:** {_inline(part)}"])
        return blocks

    def lines(self, notice: str | None) -> list[str]:
        plan = self.plan
        blocks = [self.title()]
        if notice:
            blocks.append([notice])
        blocks += self.guards() + self.access()
        cost = cost_line(plan)
        if cost:
            blocks.append([escape(cost)])
        if self.warnings.entries:
            blocks.append([f"**Warnings ({len(plan.warnings):,})**", *_bullets(self.warnings)])
            if self.warned.entries:
                summary = f"Whom the repeated warnings concern ({len(self.warned.entries):,})"
                blocks.append(_fold(summary, _bullets(self.warned)))
        # Updates first: each line is a decision; a creation's record is reference.
        blocks += _change_list(self.updates, "update", "updates", "without their values")
        # A record takes three lines: half as many are shown before the fold.
        blocks += _change_list(
            self.creates, "creation", "creations", "without their records", OPEN // 2
        )
        if self.notes.entries:
            blocks.append(
                [
                    f"**Notes ({len(plan.notes):,})**: differences apply cannot change "
                    "(not changes, nothing is sent for them)",
                    *_bullets(self.notes),
                ]
            )
            if self.noted.entries:
                summary = f"Whom the notes concern ({len(self.noted.entries):,})"
                blocks.append(_fold(summary, _bullets(self.noted)))
        for remark, concerned in zip(self.remarks, self.concerned, strict=True):
            body = [escape(remark.text)]
            if concerned.entries:
                body += ["", f"{escape(remark.concerns_label)}: {_inline(concerned)}"]
            blocks.append(_fold(f"Note: {_summary_html(remark.headline)}", body))
        if not plan.changes:
            blocks.append(["No changes. The tenant matches the desired state."])
        return [line for block in _spaced(blocks) for line in block]


def _spaced(blocks: list[list[str]]) -> list[list[str]]:
    """Blocks with a blank line between them (markdown after </details> needs one)."""
    out: list[list[str]] = []
    for block in blocks:
        if out:
            out.append([""])
        out.append(block)
    return out


def _change_list(
    part: _List, one: str, many: str, without: str, shown: int = OPEN
) -> list[list[str]]:
    """A list of changes: in full while they fit, then by name, then counted.

    Past the first `shown` entries in full, the rest are folded: a long list must
    not push the next system's plan screens down (the characters count the same).
    """
    if not part.entries:
        return []
    head = _count(len(part.entries), one, many)
    rest = ", ".join(part.at(1))
    if part.hidden:
        rest += (" " if rest else "") + _more(part.hidden)
    full = [f"- {text}" for text in part.at(2)]
    if not full:
        return [[f"**{head}:** {rest}"]]
    blocks = [[f"**{head}**", *full[:shown]]]
    if len(full) > shown:
        blocks.append(_fold(_count(len(full) - shown, f"more {one}", f"more {many}"), full[shown:]))
    if rest:
        blocks.append([f"{without[0].upper()}{without[1:]}: {rest}"])
    return blocks


@functools.cache
def _field_order(system: str) -> tuple[str, ...]:
    """The order a system declares its fields in (a record reads name, email, … first)."""
    if system not in REGISTRY:
        return ()
    caps = get(system).capabilities
    return tuple(dict.fromkeys((caps.key, *caps.compared, *sorted(caps.settable_on_create))))


# -- several systems: one table of people ---------------------------------------------

#: How a cell of the people table reads: a change of access stands out.
_CELLS = {done: f"**{done}**" for done in MOVED}


def _person(cell: bool, person: Person, level: int) -> str:
    name = code(person.name, cell=cell)
    return f"{name} ({code(person.email, cell=cell)})" if person.email else name


class _People:
    """The table of people whose access changes, each once, one column per system."""

    def __init__(self, plans: list[Plan], rows: list[Row], limit: int) -> None:
        self.plans = plans
        self.counts = [plan.summary() for plan in plans]
        self.rows = rows
        self.limit = limit
        self.names = [
            _List(
                # A row's names are in its cell, or below the table when there are many.
                row.people,
                functools.partial(_person, len(row.people) <= ROW_NAMES),
                _Level(
                    RISKY if row.kind in (LEAVER, RETURNER) else NAMED,
                    2,
                    lambda n: _count(n, "name", "names") + " of the people table",
                ),
            )
            for row in rows
        ]

    def lines(self) -> list[str]:
        plans = self.plans
        out = ["### reconciler plan", ""] + [f"- {system_summary(p)}" for p in plans]
        for action, kind, what in (
            ("deactivate", "WARNING", "will lose access"),
            ("reactivate", "IMPORTANT", "will regain access"),
        ):
            people = sum(len(r.people) for r in self.rows if f"{action}d" in r.cells)
            where = [
                f"{title(p.system)} ({n:,})"
                for p, counts in zip(plans, self.counts, strict=True)
                if (n := counts[action])
            ]
            if people:
                head = f"**{_count(people, 'person', 'people')} {what}:**"
                out += ["", f"> [!{kind}]", f"> {head} {action}d in {and_joined(where)}."]
        if any(part.hidden for part in self.names):
            out += ["", self.notice()]
        if not self.rows:
            return out
        systems = " | ".join(title(p.system) for p in plans)
        out += [
            "",
            "**People whose access changes**, each once, matched by email (leavers first):",
            "",
            f"| {systems} | people |",
            "|" + " --- |" * (len(plans) + 1),
        ]
        below: list[str] = []
        for row, names in zip(self.rows, self.names, strict=True):
            cells = " | ".join(_CELLS.get(cell, cell) for cell in row.cells)
            if len(names.entries) <= ROW_NAMES:
                out.append(f"| {cells} | {_inline(names)} |")
                continue
            # A cell of hundreds of names would push its row's cells out of sight
            # (a table cell is centred): the row counts them, a paragraph names them.
            out.append(f"| {cells} | {len(names.entries):,}, named below |")
            label = ", ".join(
                f"{cell} in {title(p.system)}" for cell, p in zip(row.cells, plans, strict=True)
            )
            below += ["", f"**{len(names.entries):,} {label}:** {_inline(names)}"]
        return out + below

    def notice(self, worst: bool = False) -> str:
        """What the table left out: the people whose access moves, then those who join."""
        hidden = {RISKY: 0, NAMED: 0}
        for part in self.names:
            hidden[part.levels[0].tier] += len(part.entries) if worst else part.hidden
        missing = [
            f"the names of {_count(n, 'person', 'people')} {what}"
            for tier, what in ((RISKY, "who lose or regain access"), (NAMED, "who join"))
            if (n := hidden[tier])
        ]
        return (
            f"_Cut to fit the {self.limit:,}-character limit of a comment. Not shown here: "
            f"{' and '.join(missing)}. {FULL_PLAN}_"
        )

    def worst(self) -> str:
        return self.notice(worst=True)


class MarkdownRenderer:
    def __init__(self, max_chars: int = MAX_CHARS) -> None:
        self.max_chars = max_chars

    def render(self, plan: Plan) -> str:
        """One system's plan as a comment."""
        return self._render([plan], None)

    def render_many(
        self,
        plans: list[Plan],
        journeys: list[Journey] | None,
        accounts: Mapping[str, Mapping[str, bool]] | None = None,
    ) -> str:
        """One comment for several systems: every summary, the people, then each plan.

        `accounts` (by system, each folded email and whether it is active) tells
        a person unchanged in a system from one not there; see `people_rows`.
        """
        return self._render(plans, _People(plans, people_rows(plans, journeys, accounts), 0))

    def _render(self, plans: list[Plan], people: _People | None) -> str:
        multi = people is not None
        sections = [_Section(p, multi=multi, limit=self.max_chars) for p in plans]
        if people is not None:
            people.limit = self.max_chars
        groups = [section.lists() for section in sections]
        if people is not None:
            groups.insert(0, people.names)

        def compose(notices: bool) -> str:
            lines = people.lines() if people else []
            for section in sections:
                if lines:
                    lines.append("")
                lines += section.lines(section.notice() if notices else None)
            return "\n".join(lines) + "\n"

        reserve = sum(len(s.notice(worst=True) or "") + 2 for s in sections)
        reserve += len(people.worst()) + 2 if people else 0
        base = len(compose(False))
        room = self.max_chars - reserve - base
        for _ in range(5):
            for part in (part for group in groups for part in group):
                part.reached = [0] * len(part.levels)
            _share(groups, room)
            text = compose(True)
            if len(text) <= self.max_chars:
                return text
            # Headings and counts that the estimate left out: take their room and refill.
            room -= len(text) - self.max_chars + 200
        # Only a head larger than the limit itself (a tiny max_chars).
        notice = "\n\n_Cut to fit the comment limit._\n"
        return (text[: max(0, self.max_chars - len(notice))] + notice)[: self.max_chars]


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
