"""The review's five formats, read back the way their readers read them.

CSV through Python's csv module (as a spreadsheet imports it), the HTML through
an HTML parser (structure, no script, nothing fetched), the markdown through
cmark-gfm (tests/render/gfm.py), the JSON against SPEC section 8's shape.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from html.parser import HTMLParser

import gfm
import html5lib
import pytest

from reconciler.provenance import Commit
from reconciler.providers.review_hooks import Reports
from reconciler.render.review_formats import FORMULA_STARTS, render, render_markdown
from reconciler.review import Review, Row, SystemReview, digest

READ_AT = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
HOSTILE_NAMES = [
    '=HYPERLINK("http://evil","x")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "\tcmd",
    "\rcmd",
    "<script>alert(1)</script>",
    '<img src="http://evil/x.png">',
    "@everyone look | here",
    "Bidi \u202e gnp.exe",
]


def row(key: str, name: str, **kw: object) -> Row:
    values: dict[str, object] = {
        "system": "pipedrive",
        "key": key,
        "email": key,
        "name": name,
        "active": True,
        "admin": False,
        "access": ("sales",),
        "role": "role 1",
        "last_login": datetime(2026, 11, 30, 8, 0, tzinfo=timezone.utc),
        "days_since_login": 1,
        "files": "not listed",
        "login": None,
        "flags": ("not listed",),
        "commit": None,
    }
    values.update(kw)
    return Row(**values)  # type: ignore[arg-type]


def system(name: str = "pipedrive", **kw: object) -> SystemReview:
    values: dict[str, object] = {
        "system": name,
        "title": name.title(),
        "target": f"sim:{name}.json",
        "active": 3,
        "active_after_plan": 2,
        "not_listed": 1,
        "dormant": 0,
        "admins": 0,
        "absent": 0,
        "reports": Reports(admin=True, access=True, role=True, last_login=True),
        "silent": {},
    }
    values.update(kw)
    return SystemReview(**values)  # type: ignore[arg-type]


def make(rows: list[Row], systems: list[SystemReview] | None = None) -> Review:
    return Review(READ_AT, 90, systems or [system()], rows, digest(rows))


def hostile() -> Review:
    commit = Commit("0123456789abcdef", "2026-11-01T10:00:00+02:00", "=cmd| '/C calc'!A0")
    rows = [
        row(f"u{n}@x.com", name, commit=commit if n == 0 else None)
        for n, name in enumerate(HOSTILE_NAMES)
    ]
    rows.append(row("absent@x.com", "Absent", active=None, flags=("absent",), files="listed"))
    return make(rows)


# -- csv --------------------------------------------------------------------------


@pytest.mark.parametrize("first", FORMULA_STARTS)
def test_a_csv_cell_that_starts_a_formula_is_neutralised(first: str) -> None:
    name = f"{first}HYPERLINK(1)"
    text = render(make([row("a@x.com", name, login=f"{first}login")]), "csv")
    header, data = list(csv.reader(io.StringIO(text, newline="")))
    cells = dict(zip(header, data, strict=True))
    for column in ("name", "login"):
        assert cells[column].startswith("'"), cells[column]
        assert not cells[column].startswith(FORMULA_STARTS)
    if first in "=+-@":
        assert cells["name"] == "'" + name


def test_no_csv_cell_of_a_hostile_review_starts_a_formula() -> None:
    review = hostile()
    rows = list(csv.reader(io.StringIO(render(review, "csv"), newline="")))
    assert len(rows) == 1 + len(review.rows)
    for cells in rows:
        assert len(cells) == len(rows[0])
        for cell in cells:
            assert not cell.startswith(FORMULA_STARTS), cell
    assert {cells[-1] for cells in rows[1:]} == {review.digest}
    assert {cells[-2] for cells in rows[1:]} == {"2026-12-01T12:00:00Z"}


# -- html -------------------------------------------------------------------------


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.open: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(review: Review) -> Page:
    page = Page()
    page.feed(render(review, "html"))
    page.close()
    return page


def test_the_html_runs_no_script_and_fetches_nothing() -> None:
    page = parsed(hostile())
    names = [tag for tag, _ in page.tags]
    assert "script" not in names and "img" not in names and "link" not in names
    assert "iframe" not in names and "object" not in names
    for _, attrs in page.tags:
        assert "src" not in attrs
        assert "href" not in attrs
        assert not any(name.startswith("on") for name in attrs)
    policy = [a["content"] for t, a in page.tags if t == "meta" and "http-equiv" in a]
    assert policy and "default-src 'none'" in (policy[0] or "")
    assert "<script>alert(1)</script>" in "".join(page.text)  # shown, as text


def test_the_html_has_a_card_per_system_then_one_row_per_account() -> None:
    review = make(
        [row("a@x.com", "A"), row("b", "B", system="dealhub", flags=())],
        [system("dealhub", reports=Reports(), silent={"last_login": "login times"}), system()],
    )
    page = parsed(review)
    cards = [a for t, a in page.tags if t == "section" and a.get("class") == "card"]
    assert len(cards) == 2
    assert sum(1 for t, _ in page.tags if t == "tr") == 1 + 2
    text = "".join(page.text)
    assert "Dealhub does not report login times." in text
    assert review.digest in text and "2026-12-01T12:00:00Z" in text


# -- json -------------------------------------------------------------------------


def test_the_json_is_spec_section_8s_shape() -> None:
    commit = Commit("abc", "2026-11-01T10:00:00+00:00", "Add a")
    review = make(
        [
            row("a@x.com", "A", commit=commit, login="a@x", files="listed", flags=()),
            row("b@x.com", "B", active=None, flags=("absent",), files="listed", last_login=None),
        ]
    )
    data = json.loads(render(review, "json"))
    assert list(data) == [
        "format_version",
        "reconciler_version",
        "read_at",
        "digest",
        "systems",
        "accounts",
    ]
    assert data["format_version"] == 1 and data["read_at"] == "2026-12-01T12:00:00Z"
    assert data["digest"] == review.digest
    assert data["systems"] == [
        {"system": "pipedrive", "target": "sim:pipedrive.json", "active": 3, "active_after_plan": 2}
    ]
    first, absent = data["accounts"]
    assert list(first) == [
        "system",
        "key",
        "email",
        "name",
        "active",
        "admin",
        "access",
        "last_login",
        "days_since_login",
        "files",
        "login",
        "flags",
        "commit",
    ]
    assert first["commit"] == {"id": "abc", "date": "2026-11-01T10:00:00+00:00", "subject": "Add a"}
    assert first["last_login"] == "2026-11-30T08:00:00Z" and first["access"] == ["sales"]
    assert absent["active"] is None and absent["flags"] == ["absent"]


# -- markdown ---------------------------------------------------------------------


def test_the_markdown_pings_no_one_and_keeps_one_row_per_account() -> None:
    review = hostile()
    page = gfm.read(render_markdown(review))
    assert page.mentions() == []
    assert "script" not in [e.tag for e in page.elements]
    assert "img" not in [e.tag for e in page.elements]
    rows = gfm.table_rows(page)
    assert len(rows) == 1 + len(review.rows)  # the summary's row, then every account
    assert all(len(cells) == 7 for cells in rows[1:])


def test_the_markdown_stays_under_githubs_cap_and_says_where_the_rest_is() -> None:
    rows = [row(f"user{n:05}@x.com", f"Person {n} " + "x" * 200) for n in range(5000)]
    text = render_markdown(make(rows))
    assert len(text) <= 65_000
    assert "more.\n" in text and "reconciler-review" in text
    assert "Active, not listed in the files (5,000)" in text


def test_the_html_is_well_formed_html5_and_hostile_text_stays_text() -> None:
    # html5lib implements the WHATWG parsing algorithm browsers use; strict mode
    # raises on any parse error, so the page is read exactly as a browser reads it.
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    document = parser.parse(render(hostile(), "html"))
    assert document.findall(".//script") == []
    for element in document.iter():
        assert "src" not in element.attrib and "href" not in element.attrib
        assert not any(name.startswith("on") for name in element.attrib)
    assert "<script>alert(1)</script>" in "".join(document.itertext())
