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

from reconciler import __version__
from reconciler.render.markdown import MAX_CHARS, code, escape
from reconciler.review import FLAGS, FORMAT_VERSION, Review, Row, SystemReview, commit_data, iso
from reconciler.textsafe import json_safe, printable
from reconciler.wording import and_joined

FORMATS = ("text", "csv", "json", "markdown", "html")
#: Where the recipes keep the whole review (the markdown points there when it is cut).
ARTIFACT = "reconciler-review"
_COLUMNS = ("admin", "access", "role", "last_login")


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
    """What the system does not report, as one sentence (none when it reports it all)."""
    missing = [system.silent[c] for c in _COLUMNS if c in system.silent]
    if not missing:
        return []
    return [f"{system.title} does not report {and_joined(missing)}."]


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
    return f"{(iso(row.last_login) or '')[:10]} ({_plural(row.days_since_login or 0, 'day')})"


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
        "reconciler_version": __version__,
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

#: Rows listed per flag before the rest are counted (the artifact has them all).
MD_ROWS = 100
#: The flags an issue lists, most urgent first: access nobody listed, then gaps, then seats.
MD_SECTIONS: tuple[tuple[str, str], ...] = (
    ("not listed", "Active, not listed in the files"),
    ("absent", "Listed in the files, absent from the system"),
    ("dormant", "Dormant: seats to reclaim"),
)
_MD_HEADER = (
    "| System | Account | Name | Last login | In the files | Flags | Last commit |\n"
    "|---|---|---|---|---|---|---|"
)


def _md_row(row: Row, system: SystemReview) -> str:
    files: str = row.files
    if row.login and row.login != row.key:
        # Not listed for this system, but a person of the files: say who.
        link = " as" if row.files != "not listed" else " (a person of the files:"
        files += f"{link} {code(row.login, cell=True)}" + (")" if "(" in link else "")
    cells = [
        system.title,
        code(row.key, cell=True),
        escape(row.name or "", cell=True) or " ",
        _login(row, system) or ("—" if not system.reports.last_login else " "),
        files,
        ", ".join(row.flags) or " ",
        _md_commit(row),
    ]
    return "| " + " | ".join(cells) + " |"


def _md_commit(row: Row) -> str:
    if row.commit is None:
        return " "
    return f"{code(row.commit.id[:10], cell=True)} {row.commit.date[:10]}"


def _md_order(rows: list[Row], flag: str) -> list[Row]:
    if flag == "dormant":
        # The longest unused first (never: first of all).
        return sorted(rows, key=lambda r: (r.last_login is not None, r.last_login or r.key))
    return rows


def render_markdown(review: Review, max_chars: int = MAX_CHARS) -> str:
    """For an issue or a PR: the summary first, then each flag's accounts, within GitHub's cap."""
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
        dormant = f"{s.dormant:,}" if s.reports.last_login else "not reported"
        admins = f"{s.admins:,}" if s.reports.admin else "not reported"
        head.append(
            f"| {s.title} | {s.active:,} | {s.active_after_plan:,} | {s.not_listed:,} "
            f"| {dormant} | {admins} | {s.absent:,} |"
        )
    head.append("")
    for s in review.systems:
        for silence in silences(s):
            head.append(f"> **Note:** {escape(silence)}\n")
        said = details_line(s)
        if said:
            kind = "Warning" if s.details and s.details.stopped else "Note"
            head.append(f"> **{kind}:** {s.title}: {escape(said)}\n")
    if review.provenance_note:
        head.append(f"Commits: {escape(review.provenance_note)}\n")
    text = "\n".join(head) + "\n"
    tail = (
        f"\nThe whole review is in the `{ARTIFACT}` artifact of this run "
        "(review.html, review.csv, review.json).\n"
    )
    if not any(set(row.flags) - {"admin"} for row in review.rows):
        text += "No account is flagged.\n"
    for flag, title in MD_SECTIONS:
        rows = _md_order([row for row in review.rows if flag in row.flags], flag)
        if not rows:
            continue
        section = f"### {title} ({len(rows):,})\n\n{_MD_HEADER}\n"
        shown = 0
        for row in rows[:MD_ROWS]:
            line = _md_row(row, systems[row.system]) + "\n"
            if len(text) + len(section) + len(line) + len(tail) + 300 > max_chars:
                break
            section += line
            shown += 1
        if shown < len(rows):
            section += f"\n…and {len(rows) - shown:,} more.\n"
        text += section + "\n"
    privileged = [row for row in review.rows if "admin" in row.flags]
    if privileged:
        names = ", ".join(f"{code(a.key)} ({systems[a.system].title})" for a in privileged[:50])
        more = f" and {len(privileged) - 50:,} more" if len(privileged) > 50 else ""
        said = f"**Admins ({len(privileged):,}):** {names}{more}\n"
        if len(text) + len(said) + len(tail) <= max_chars:
            text += said
    return text + tail


# -- html -----------------------------------------------------------------------

_CSS = r"""
:root{--ink:#1f2328;--soft:#59636e;--line:#d1d9e0;--bg:#f6f8fa;--warn:#9a6700;
--warnbg:#fff8c5;--bad:#d1242f;--badbg:#ffebe9;--info:#0969da;--infobg:#ddf4ff}
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
.figures{display:grid;grid-template-columns:repeat(3,1fr);gap:8px}
.figure{background:var(--bg);border-radius:6px;padding:8px 10px}
.figure b{display:block;font-size:22px;font-variant-numeric:tabular-nums}
.figure span{color:var(--soft);font-size:12px}
.figure.warn b{color:var(--warn)}.figure.bad b{color:var(--bad)}.figure.info b{color:var(--info)}
.figure.quiet b{color:#8c959f}
.note{margin:10px 0 0;padding:8px 10px;border-left:3px solid var(--line);color:var(--soft);
font-size:12px}
.note.partial{border-color:var(--bad);color:var(--bad);background:var(--badbg)}
.wrap{padding:8px 32px 32px;overflow-x:auto}
.legend{color:var(--soft);font-size:12px;margin:0 0 8px}
table{border-collapse:separate;border-spacing:0;width:100%;min-width:960px;font-size:12px;
table-layout:fixed}
th{position:sticky;top:0;background:var(--bg);text-align:left;font-weight:600;
padding:7px 8px;border-bottom:1px solid var(--line);white-space:nowrap}
th::after{content:" \2195";color:#8c959f;font-weight:400}
th.sorted::after{content:" \25BE";color:var(--ink)}
td{padding:5px 8px;border-bottom:1px solid #eef1f4;vertical-align:top}
tbody tr:nth-child(even) td{background:#fbfcfd}
tbody tr:hover td{background:#f0f6ff}
tr.flagged td:first-child{box-shadow:inset 3px 0 var(--bad)}
tr.off td{color:var(--soft)}
td.key{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px;
overflow-wrap:anywhere}
td.n{text-align:right;font-variant-numeric:tabular-nums}
td.q,.q{color:#8c959f}
td.when{white-space:nowrap}
.chip{display:inline-block;border-radius:10px;padding:0 8px;font-size:11px;font-weight:600;
margin:1px 2px 1px 0;white-space:nowrap}
.chip.not-listed,.chip.absent{background:var(--badbg);color:var(--bad)}
.chip.dormant{background:var(--warnbg);color:var(--warn)}
.chip.admin{background:var(--infobg);color:var(--info)}
td.commit{color:var(--soft);white-space:nowrap;overflow:hidden}
td.commit code{color:var(--ink)}
.who{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:11px;color:var(--soft);
overflow-wrap:anywhere}
td.commit span{display:inline-block;max-width:100%;overflow:hidden;text-overflow:ellipsis;
vertical-align:bottom}
footer{padding:0 32px 32px;color:var(--soft);font-size:12px}
@media print{th{position:static}.card{break-inside:avoid}.wrap{overflow:visible}}
"""


def _e(text: str) -> str:
    return html.escape(printable(text), quote=True)


def _card(system: SystemReview) -> str:
    def figure(value: int | None, label: str, kind: str) -> str:
        shown = f"{value:,}" if value is not None else "–"
        style = kind if value else "quiet" if value is None else ""
        return f'<div class="figure {style}"><b>{shown}</b><span>{label}</span></div>'

    parts = [
        '<section class="card">',
        f"<h2>{_e(system.title)}</h2>",
        f'<div class="target">{_e(system.target)}</div>',
        '<div class="figures">',
        figure(system.active, "active now", ""),
        figure(system.active_after_plan, "after the pending plan", ""),
        figure(system.not_listed, "not listed", "bad"),
        figure(system.dormant if system.reports.last_login else None, "dormant", "warn"),
        figure(system.admins if system.reports.admin else None, "admins", "info"),
        figure(system.absent, "absent", "bad"),
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
    permissions, roles = _details_of(row, system)
    what = [_e(", ".join(row.access))] if row.access else []
    if row.role:
        what.append(_e(row.role))
    if roles:
        what.append("roles: " + _e(", ".join(roles)))
    if permissions:
        what.append(_plural(len(permissions), "permission"))
    if not system.reports.last_login:
        login = '<td class="q" title="not reported by the system">—</td>'
    elif row.active is None:
        login = "<td></td>"
    elif row.last_login is None:
        login = '<td class="when">never</td>'
    else:
        stamp = iso(row.last_login) or ""
        days = f"{row.days_since_login or 0:,} d"
        login = f'<td class="when" title="{stamp}">{stamp[:10]} <span class="q">{days}</span></td>'
    if row.admin:
        what.insert(0, "<b>admin</b>")
    commit = ""
    if row.commit is not None:
        commit = (
            f"<code>{_e(row.commit.id[:8])}</code> {_e(row.commit.date[:10])}<br>"
            f'<span title="{_e(row.commit.subject)}">{_e(row.commit.subject)}</span>'
        )
    # The person's login in the files, where it is not the account's own key.
    person = ""
    if row.login is not None and row.login != row.key:
        link = "as" if row.files != "not listed" else "person"
        person = f'<div class="who">{link} {_e(row.login)}</div>'

    classes = []
    if set(row.flags) - {"admin"}:
        classes.append("flagged")
    if row.active is False:
        classes.append("off")
    cls = f' class="{" ".join(classes)}"' if classes else ""
    access = " · ".join(what) if what else ('<span class="q">—</span>' if row.active else "")
    return (
        f'<tr{cls}><td>{_e(system.title)}</td><td class="key">{_e(row.key)}</td>'
        f"<td>{_e(row.name or '')}</td><td>{_active(row)}</td>"
        f"<td>{access}</td>{login}<td>{row.files}{person}</td>"
        f'<td>{chips}</td><td class="commit">{commit}</td></tr>'
    )


def _html_order(rows: Iterable[Row]) -> list[Row]:
    """Flagged first (what a reviewer acts on), then admins, then the rest; by system, account."""
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
    # (title, class, share of the width): a fixed layout keeps 5,000 rows to the page's width.
    headers = [
        ("System", "", 7),
        ("Account", "", 17),
        ("Name", "", 12),
        ("Active", "", 6),
        ("Admin · access · role", "", 15),
        ("Last login", "", 10),
        ("In the files", "", 11),
        ("Flags", "sorted", 9),
        ("Last commit", "", 13),
    ]
    columns = "".join(f'<col style="width:{share}%">' for _, _, share in headers)
    head = "".join(
        f'<th scope="col"{f" class={chr(34)}{cls}{chr(34)}" if cls else ""}>{name}</th>'
        for name, cls, _ in headers
    )
    flagged = sum(1 for row in review.rows if set(row.flags) - {"admin"})
    counts = ", ".join(
        f"{sum(1 for r in review.rows if flag in r.flags):,} {flag}" for flag in FLAGS
    )
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
        f'<div class="meta">Read {read_at} · {_plural(len(review.rows), "account")} '
        f"({flagged:,} to act on: {counts}) · dormant: no login for more than "
        f"{review.dormant_days} days (or never)<br>Digest <code>{review.digest}</code>"
        "</div></header>\n"
        f'<div class="cards">{"".join(_card(s) for s in review.systems)}</div>\n'
        '<div class="wrap"><p class="legend">Accounts to act on first (not listed, dormant, '
        "absent: red edge), then admins, then the rest; each by system and account. "
        "Inactive accounts are grey.</p>"
        f"{notes}\n<table><colgroup>{columns}</colgroup><thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody></table>"
        "</div>\n"
        f"<footer>reconciler {__version__} review · {read_at} · {review.digest}</footer>\n"
        "</body></html>\n"
    )
