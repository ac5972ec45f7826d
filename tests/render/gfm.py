"""Reading a markdown comment as GitHub shows it: cmark-gfm, then the HTML a reader sees.

GitHub renders comments with cmark-gfm (tables, autolinks, strikethrough) and
then runs filters over the HTML text: mentions (`@name`), which skip text inside
<code>, <pre> and <a>. The checks here look at that HTML, not at the source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import cmarkgfm
from cmarkgfm.cmark import Options

# GitHub keeps raw HTML (then sanitizes it to a list of tags, <details> and
# <code> among them); "unsafe" keeps it here so that it can be checked.
_OPTIONS = Options.CMARK_OPT_UNSAFE
# GitHub's mention filter: an @ at the start or after a non-word character,
# followed by a user or team name.
MENTION = re.compile(r"(?:^|\W)@[A-Za-z0-9]")
# Text in these elements is not read for mentions (nor linked again).
QUIET = {"code", "pre", "a"}
VOID = {"br", "hr", "img", "input", "wbr"}
# What lets a browser break a word where its author did not.
BREAKS = ("\u200b", "\u00ad", "<wbr", "&#8203;", "&#x200b;", "&#173;", "&shy;")


def to_html(markdown: str) -> str:
    html: str = cmarkgfm.github_flavored_markdown_to_html(markdown, options=_OPTIONS)
    return html


@dataclass
class Element:
    tag: str
    text: str = ""
    parents: tuple[str, ...] = ()


@dataclass
class Page:
    """What a reader sees: elements with their text, and text by its enclosing tags."""

    elements: list[Element] = field(default_factory=list)
    texts: list[tuple[tuple[str, ...], str]] = field(default_factory=list)

    def all(self, tag: str) -> list[str]:
        return [e.text for e in self.elements if e.tag == tag]

    def loud_text(self) -> str:
        """The text outside code, pre and links: where GitHub reads mentions."""
        return " ".join(t for tags, t in self.texts if not QUIET & set(tags))

    def mentions(self) -> list[str]:
        return MENTION.findall(self.loud_text())


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self.open: list[Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, parents=tuple(e.tag for e in self.open))
        self.page.elements.append(element)
        if tag not in VOID:
            self.open.append(element)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.open) - 1, -1, -1):
            if self.open[i].tag == tag:
                del self.open[i:]
                break

    def handle_data(self, data: str) -> None:
        for element in self.open:
            element.text += data
        self.page.texts.append((tuple(e.tag for e in self.open), data))


def read(markdown: str) -> Page:
    reader = _Reader()
    reader.feed(to_html(markdown))
    reader.close()
    return reader.page


def table_rows(page: Page) -> list[list[str]]:
    """The cells of every body row of every table, as text."""
    rows: list[list[str]] = []
    for element in page.elements:
        if element.tag == "tr" and "tbody" in element.parents:
            rows.append([])
        elif element.tag == "td" and rows:
            rows[-1].append(element.text)
    return rows
