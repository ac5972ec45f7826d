"""The access review as text, csv, json, markdown and html (SPEC section 8).

Every format carries when the systems were read and the digest of the rows.
Text from the systems and the files is hostile: each format makes it inert
its own way (escapes for the terminal, a leading `'` against spreadsheet
formulas, JSON's escapes, code spans in markdown, HTML escaping), and every
one shows invisible characters as escapes (textsafe.printable).
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Callable, Iterable
from typing import Any

from reconciler.render.markdown import MAX_CHARS, code, escape
from reconciler.review import FLAGS, FORMAT_VERSION, Review, Row, SystemReview, commit_data, iso
from reconciler.textsafe import json_safe, printable

FORMATS = ("text", "csv", "json", "markdown", "html")
#: Where the recipes keep the whole review (the markdown points there when it is cut).
ARTIFACT = "reconciler-review"
_COLUMNS = ("admin", "access", "role", "last_login")
_COLUMN_NAMES = {"admin": "admin", "access": "access", "role": "role", "last_login": "login time"}


def render(review: Review, fmt: str) -> str:
    """The review in one of FORMATS."""
    renderers: dict[str, Callable[[Review], str]] = {
        "text": render_text,
        "csv": render_csv,
        "json": render_json,
        "markdown": render_markdown,
        "html": render_html,
    }
    return renderers[fmt](review)


# -- shared words ----------------------------------------------------------------


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def counts_line(system: SystemReview) -> str:
    """`12 active now, 11 after the pending plan; 2 not listed, 3 dormant, 1 admin, 0 absent`."""
    flags = [
        f"{system.not_listed} not listed",
        f"{system.dormant} dormant" if system.reports.last_login else "dormant: not reported",
        _plural(system.admins, "admin") if system.reports.admin else "admins: not reported",
        f"{system.absent} absent",
    ]
    return (
        f"{system.active} active now, {system.active_after_plan} after the pending plan; "
        + ", ".join(flags)
    )


def silences(system: SystemReview) -> list[str]:
    """What the system does not report, one sentence each (never guessed around)."""
    return [system.silent[c] for c in _COLUMNS if c in system.silent]


def details_line(system: SystemReview) -> str | None:
    details = system.details
    if details is None:
        return None
    head = (
        f"Details: {details.done} of {details.wanted} active users read "
        f"({details.spent} of {details.cost} {details.unit})"
    )
    if details.failed:
        head += f"; {len(details.failed)} could not be read"
    if details.stopped:
        return f"PARTIAL. {head}. {details.stopped}"
    return head


def _yes(value: bool | None) -> str:
    return "" if value is None else "yes" if value else "no"


def _active(row: Row) -> str:
    return "absent" if row.active is None else "yes" if row.active else "no"


def _login(row: Row, system: SystemReview) -> str:
    if not system.reports.last_login or row.active is None:
        return ""
    if row.last_login is None:
        return "never"
    return f"{iso(row.last_login)} ({_plural(row.days_since_login or 0, 'day')})"


def _by_system(review: Review) -> dict[str, SystemReview]:
    return {system.system: system for system in review.systems}


def _details_of(row: Row, system: SystemReview) -> tuple[list[str] | None, list[str] | None]:
    details = system.details
    if details is None:
        return None, None
    return details.permissions.get(row.key), details.roles.get(row.key)


# -- text -----------------------------------------------------------------------


def render_text(review: Review) -> str:
    systems = _by_system(review)
    out = [
        f"Access review, read {iso(review.read_at)}",
        f"Digest: {review.digest}",
        f"Dormant: active, and no login for more than {review.dormant_days} days (or never).",
        "",
    ]
    for system in review.systems:
        out.append(f"{system.title} ({printable(system.target)}): {counts_line(system)}")
        out.extend(f"  note: {line}" for line in silences(system))
        line = details_line(system)
        if line:
            out.append(f"  {line}")
    if review.provenance_note:
        out.append(f"Commits: {printable(review.provenance_note)}")
    header = ("SYSTEM", "ACCOUNT", "NAME", "ACTIVE", "ADMIN", "LAST LOGIN", "FILES", "LOGIN")
    table = [
        (*header, "FLAGS", "COMMIT"),
        *(
            (
                systems[row.system].title,
                printable(row.key),
                printable(row.name or ""),
                _active(row),
                _yes(row.admin),
                _login(row, systems[row.system]),
                row.files,
                printable(row.login or ""),
                ", ".join(row.flags),
                _commit_short(row),
            )
            for row in review.rows
        ),
    ]
    widths = [min(40, max(len(cells[i]) for cells in table)) for i in range(len(header) + 2)]
    out.append("")
    for cells in table:
        padded = (_cut(cell, width).ljust(width) for cell, width in zip(cells, widths, strict=True))
        out.append("  ".join(padded).rstrip())
    out.append("")
    for system in review.systems:
        if system.details is None:
            continue
        for row in review.rows:
            if row.system != system.system:
                continue
            permissions, roles = _details_of(row, system)
            if permissions is None and roles is None:
                continue
            out.append(f"{system.title} {printable(row.key)}:")
            out.append(f"  roles: {printable(', '.join(roles or [])) or '(none)'}")
            out.append(f"  permissions: {printable(', '.join(permissions or [])) or '(none)'}")
        out.append("")
    flagged = sum(1 for row in review.rows if row.flags)
    out.append(
        f"Review: {_plural(len(review.rows), 'row')}, {flagged} flagged "
        f"({', '.join(f'{sum(1 for r in review.rows if f in r.flags)} {f}' for f in FLAGS)})."
    )
    return "\n".join(out) + "\n"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _commit_short(row: Row) -> str:
    if row.commit is None:
        return ""
    return f"{row.commit.id[:10]} {row.commit.date[:10]} {printable(row.commit.subject)}"


# -- csv ------------------------------------------------------------------------

#: What a spreadsheet reads as the start of a formula (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutral(text: str) -> str:
    """A cell a spreadsheet shows as text: a leading `'` before a formula's first character.

    OWASP's guidance: prefix a cell that begins with `=`, `+`, `-`, `@`, tab or
    carriage return with a single quote (and quote every cell, which the
    writer does). Invisible characters are then shown escaped.
    """
    if text.startswith(FORMULA_STARTS):
        text = "'" + text
    return printable(text)


CSV_HEADER = (
    "system",
    "key",
    "email",
    "name",
    "active",
    "admin",
    "access",
    "role",
    "last_login",
    "days_since_login",
    "files",
    "login",
    "flags",
    "commit",
    "commit_date",
    "commit_subject",
    "read_at",
    "digest",
)


def render_csv(review: Review) -> str:
    """One header line, then one line per row; read_at and digest on every line."""
    systems = _by_system(review)
    details = any(s.details is not None for s in review.systems)
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    header = list(CSV_HEADER)
    if details:
        header += ["permissions", "role_assignments"]
    writer.writerow(header)
    read_at = iso(review.read_at) or ""
    for row in review.rows:
        commit = row.commit
        cells: list[Any] = [
            row.system,
            row.key,
            row.email or "",
            row.name or "",
            _csv_bool(row.active, "absent"),
            _csv_bool(row.admin, ""),
            "; ".join(row.access) if row.access is not None else "",
            row.role or "",
            iso(row.last_login) or "",
            "" if row.days_since_login is None else row.days_since_login,
            row.files,
            row.login or "",
            "; ".join(row.flags),
            commit.id if commit else "",
            commit.date if commit else "",
            commit.subject if commit else "",
            read_at,
            review.digest,
        ]
        if details:
            permissions, roles = _details_of(row, systems[row.system])
            cells += ["; ".join(permissions or []), "; ".join(roles or [])]
        writer.writerow([neutral(c) if isinstance(c, str) else c for c in cells])
    return buffer.getvalue()


def _csv_bool(value: bool | None, none: str) -> str:
    return none if value is None else "true" if value else "false"


# -- json -----------------------------------------------------------------------


def review_data(review: Review) -> dict[str, Any]:
    """SPEC section 8's document; `--details` adds its reads (and how far they got)."""
    systems = _by_system(review)
    with_details = any(s.details is not None for s in review.systems)
    accounts = []
    for row in review.rows:
        entry: dict[str, Any] = {
            "system": row.system,
            "key": row.key,
            "email": row.email,
            "name": row.name,
            "active": row.active,
            "admin": row.admin,
            "access": list(row.access) if row.access is not None else None,
            "last_login": iso(row.last_login),
            "days_since_login": row.days_since_login,
            "files": row.files,
            "login": row.login,
            "flags": list(row.flags),
            "commit": commit_data(row.commit),
        }
        if with_details:
            entry["permissions"], entry["role_assignments"] = _details_of(row, systems[row.system])
        accounts.append(entry)
    data: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "read_at": iso(review.read_at),
        "digest": review.digest,
        "systems": [
            {
                "system": s.system,
                "target": s.target,
                "active": s.active,
                "active_after_plan": s.active_after_plan,
            }
            for s in review.systems
        ],
        "accounts": accounts,
    }
    if with_details:
        data["details"] = [
            {
                "system": s.system,
                "complete": s.details.complete,
                "read": s.details.done,
                "wanted": s.details.wanted,
                "cost": s.details.cost,
                "spent": s.details.spent,
                "unit": s.details.unit,
                "stopped": s.details.stopped,
                "failed": dict(s.details.failed),
            }
            for s in review.systems
            if s.details is not None
        ]
    return data


def render_json(review: Review) -> str:
    return json_safe(json.dumps(review_data(review), indent=2, ensure_ascii=False)) + "\n"


# -- markdown -------------------------------------------------------------------

#: Flagged rows listed in full before the rest are counted.
MD_ROWS = 200


def _md_row(row: Row, system: SystemReview) -> str:
    cells = [
        system.title,
        code(row.key, cell=True),
        escape(row.name or "", cell=True) or " ",
        _active(row),
        _yes(row.admin) or " ",
        _login(row, system) or " ",
        row.files,
        code(row.login, cell=True) if row.login else " ",
        ", ".join(f"**{flag}**" for flag in row.flags) or " ",
        _md_commit(row),
    ]
    return "| " + " | ".join(cells) + " |"


def _md_commit(row: Row) -> str:
    if row.commit is None:
        return " "
    return f"{code(row.commit.id[:10], cell=True)} {row.commit.date[:10]} " + escape(
        row.commit.subject, cell=True
    )


_MD_HEADER = (
    "| System | Account | Name | Active | Admin | Last login | Files | Login | Flags | Commit |\n"
    "|---|---|---|---|---|---|---|---|---|---|"
)


def render_markdown(review: Review, max_chars: int = MAX_CHARS) -> str:
    """For an issue or a PR: the summary first, then the flagged accounts, within GitHub's cap."""
    systems = _by_system(review)
    head = [
        "## Access review",
        "",
        f"Read {iso(review.read_at)} · digest `{review.digest}` · dormant: no login for more "
        f"than {review.dormant_days} days (or never)",
        "",
        "| System | Active now | After the plan | Not listed | Dormant | Admins | Absent |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in review.systems:
        dormant = str(s.dormant) if s.reports.last_login else "not reported"
        admins = str(s.admins) if s.reports.admin else "not reported"
        head.append(
            f"| {s.title} | {s.active} | {s.active_after_plan} | {s.not_listed} | {dormant} "
            f"| {admins} | {s.absent} |"
        )
    head.append("")
    for s in review.systems:
        for silence in silences(s):
            head.append(f"> [!NOTE]\n> {escape(silence)}\n")
        said = details_line(s)
        if said:
            kind = "WARNING" if s.details and s.details.stopped else "NOTE"
            head.append(f"> [!{kind}]\n> {s.title}: {escape(said)}\n")
    if review.provenance_note:
        head.append(f"Commits: {escape(review.provenance_note)}\n")
    flagged = [row for row in review.rows if row.flags]
    text = "\n".join(head) + "\n"
    if not flagged:
        text += "No account is flagged.\n"
    else:
        text += f"### Flagged accounts ({len(flagged)})\n\n{_MD_HEADER}\n"
        shown = 0
        tail = (
            f"\nThe full review is in the `{ARTIFACT}` artifact of this run "
            "(review.html, review.csv, review.json).\n"
        )
        for row in flagged[:MD_ROWS]:
            line = _md_row(row, systems[row.system]) + "\n"
            if len(text) + len(line) + len(tail) + 200 > max_chars:
                break
            text += line
            shown += 1
        if shown < len(flagged):
            text += f"\n…and {len(flagged) - shown} more flagged accounts.\n"
        text += tail
    quiet = [row for row in review.rows if not row.flags]
    if quiet:
        block = (
            f"\n<details><summary>The other {_plural(len(quiet), 'account')}</summary>\n\n"
            f"{_MD_HEADER}\n" + "".join(_md_row(r, systems[r.system]) + "\n" for r in quiet)
        )
        block += "\n</details>\n"
        if len(text) + len(block) <= max_chars:
            text += block
        else:
            text += (
                f"\nThe other {_plural(len(quiet), 'account')} (none flagged) are in the "
                "artifact.\n"
            )
    return text


# -- html -----------------------------------------------------------------------

_CSS = """
:root{--ink:#1f2328;--soft:#59636e;--line:#d1d9e0;--bg:#f6f8fa;--warn:#9a6700;
--warnbg:#fff8c5;--bad:#d1242f;--badbg:#ffebe9;--info:#0969da;--infobg:#ddf4ff;--ok:#1a7f37}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:var(--ink);background:#fff}
header{padding:24px 32px 8px}
h1{font-size:24px;margin:0 0 4px}
.meta{color:var(--soft);font-size:13px}
.meta code{font-size:12px;word-break:break-all}
.cards{display:flex;flex-wrap:wrap;gap:16px;padding:16px 32px}
.card{flex:1 1 320px;max-width:560px;border:1px solid var(--line);border-radius:8px;padding:16px}
.card h2{font-size:16px;margin:0 0 2px}
.card .target{color:var(--soft);font-size:12px;word-break:break-all;margin-bottom:12px}
.nums{display:grid;grid-template-columns:repeat(3,1fr);gap:8px}
.num{background:var(--bg);border-radius:6px;padding:8px 10px}
.num b{display:block;font-size:22px;font-variant-numeric:tabular-nums}
.num span{color:var(--soft);font-size:12px}
.num.warn b{color:var(--warn)}.num.bad b{color:var(--bad)}.num.info b{color:var(--info)}
.note{margin:10px 0 0;padding:8px 10px;border-left:3px solid var(--line);color:var(--soft);
font-size:12px}
.note.partial{border-color:var(--bad);color:var(--bad);background:var(--badbg)}
.wrap{padding:8px 32px 32px}
.legend{color:var(--soft);font-size:12px;margin:0 0 8px}
table{border-collapse:separate;border-spacing:0;width:100%;font-size:13px}
th{position:sticky;top:0;background:var(--bg);text-align:left;font-weight:600;
padding:8px 10px;border-bottom:1px solid var(--line);white-space:nowrap;
color:var(--ink)}
th::after{content:" \\2195";color:#8c959f;font-weight:400}
th.sorted::after{content:" \\25BE";color:var(--ink)}
td{padding:6px 10px;border-bottom:1px solid #eef1f4;vertical-align:top}
tbody tr:nth-child(even) td{background:#fbfcfd}
tbody tr:hover td{background:#f0f6ff}
tr.flagged td:first-child{box-shadow:inset 3px 0 var(--bad)}
td.key{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px;
word-break:break-all}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.muted,.muted{color:var(--soft)}
.chip{display:inline-block;border-radius:10px;padding:0 8px;font-size:11px;font-weight:600;
margin:1px 2px 1px 0;white-space:nowrap}
.chip.not-listed,.chip.absent{background:var(--badbg);color:var(--bad)}
.chip.dormant{background:var(--warnbg);color:var(--warn)}
.chip.admin{background:var(--infobg);color:var(--info)}
.commit{font-size:12px;color:var(--soft)}
.commit code{color:var(--ink)}
footer{padding:0 32px 32px;color:var(--soft);font-size:12px}
@media print{th{position:static}.card{break-inside:avoid}}
"""


def _e(text: str) -> str:
    return html.escape(printable(text), quote=True)


def _card(system: SystemReview) -> str:
    def num(value: int | str, label: str, kind: str = "") -> str:
        return f'<div class="num {kind}"><b>{value}</b><span>{label}</span></div>'

    dormant: int | str = system.dormant if system.reports.last_login else "–"
    admins: int | str = system.admins if system.reports.admin else "–"
    parts = [
        '<section class="card">',
        f"<h2>{_e(system.title)}</h2>",
        f'<div class="target">{_e(system.target)}</div>',
        '<div class="nums">',
        num(system.active, "active now"),
        num(system.active_after_plan, "after the pending plan"),
        num(system.not_listed, "not listed", "bad" if system.not_listed else ""),
        num(dormant, "dormant", "warn" if system.dormant else ""),
        num(admins, "admins", "info" if system.admins else ""),
        num(system.absent, "absent", "bad" if system.absent else ""),
        "</div>",
    ]
    parts.extend(f'<p class="note">{_e(line)}</p>' for line in silences(system))
    line = details_line(system)
    if line:
        partial = " partial" if system.details and system.details.stopped else ""
        parts.append(f'<p class="note{partial}">{_e(line)}</p>')
    parts.append("</section>")
    return "".join(parts)


def _html_row(row: Row, system: SystemReview) -> str:
    chips = "".join(
        f'<span class="chip {flag.replace(" ", "-")}">{flag}</span>' for flag in row.flags
    )
    access = ", ".join(row.access) if row.access else ""
    role = row.role or ""
    permissions, roles = _details_of(row, system)
    extra = ""
    if roles:
        extra += f'<div class="muted">roles: {_e(", ".join(roles))}</div>'
    if permissions:
        extra += f'<div class="muted">{_plural(len(permissions), "permission")}</div>'
    if not system.reports.last_login:
        login = '<td class="muted">not reported</td>'
    elif row.active is None:
        login = "<td></td>"
    elif row.last_login is None:
        login = '<td class="muted">never</td>'
    else:
        stamp = iso(row.last_login) or ""
        login = f'<td title="{stamp}">{stamp[:10]}</td>'
    days = "" if row.days_since_login is None else str(row.days_since_login)
    commit = ""
    if row.commit is not None:
        commit = (
            f'<span class="commit"><code>{_e(row.commit.id[:10])}</code> '
            f"{_e(row.commit.date[:10])}<br>{_e(row.commit.subject)}</span>"
        )
    cls = ' class="flagged"' if set(row.flags) - {"admin"} else ""
    return (
        f'<tr{cls}><td>{_e(system.title)}</td><td class="key">{_e(row.key)}</td>'
        f"<td>{_e(row.name or '')}</td><td>{_active(row)}</td><td>{_yes(row.admin)}</td>"
        f"<td>{_e(access)}{' · ' + _e(role) if role and access else _e(role)}{extra}</td>"
        f'{login}<td class="num">{days}</td><td>{row.files}</td>'
        f'<td class="key">{_e(row.login or "")}</td><td>{chips}</td><td>{commit}</td></tr>'
    )


def _html_order(rows: Iterable[Row]) -> list[Row]:
    """Flagged first (what a reviewer acts on), then by system and account, as shown."""
    return sorted(
        rows,
        key=lambda r: (
            0 if set(r.flags) - {"admin"} else 1 if r.flags else 2,
            r.system,
            r.key.casefold(),
        ),
    )


def render_html(review: Review) -> str:
    """One self-contained page: no script, nothing fetched (a CSP says so to the browser)."""
    systems = _by_system(review)
    read_at = iso(review.read_at) or ""
    headers = [
        ("System", ""),
        ("Account", ""),
        ("Name", ""),
        ("Active", ""),
        ("Admin", ""),
        ("Access · role", ""),
        ("Last login", ""),
        ("Days", ""),
        ("Files", ""),
        ("Login", ""),
        ("Flags", "sorted"),
        ("Last commit", ""),
    ]
    head = "".join(
        f'<th scope="col"{f" class={chr(34)}{cls}{chr(34)}" if cls else ""}>{name}</th>'
        for name, cls in headers
    )
    flagged = sum(1 for row in review.rows if set(row.flags) - {"admin"})
    notes = ""
    if review.provenance_note:
        notes = f'<p class="legend">Commits: {_e(review.provenance_note)}</p>'
    body = "\n".join(_html_row(row, systems[row.system]) for row in _html_order(review.rows))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">\n'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src 'none'; form-action 'none'\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>Access review {read_at}</title>\n<style>{_CSS}</style></head>\n<body>\n"
        "<header><h1>Access review</h1>"
        f'<div class="meta">Read {read_at} · {_plural(len(review.rows), "account")}, '
        f"{flagged} flagged · dormant: no login for more than {review.dormant_days} days "
        f"(or never)<br>Digest <code>{review.digest}</code></div></header>\n"
        f'<div class="cards">{"".join(_card(s) for s in review.systems)}</div>\n'
        '<div class="wrap"><p class="legend">Flagged rows first (not listed, dormant, '
        "absent), then admins, then the rest; each by system and account.</p>"
        f"{notes}\n<table><thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody></table>"
        "</div>\n"
        f"<footer>reconciler review · {read_at} · {review.digest}</footer>\n"
        "</body></html>\n"
    )
