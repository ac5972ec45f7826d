from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.textsafe import invisible_chars, is_invisible, printable


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("daniel@acme", "daniel@acme"),
        ("dan\u200biel@acme", "dan\\u200biel@acme"),  # zero-width space
        ("a\nb", "a\\u000ab"),
        ("\x1b[31mred", "\\u001b[31mred"),
        ("evil\u202eexe.txt", "evil\\u202eexe.txt"),  # right-to-left override
        ("x\u2028y", "x\\u2028y"),  # line separator
        ("\ufeffbom", "\\ufeffbom"),
        ("tag\U000e0041", "tag\\U000e0041"),  # a tag character (format)
        ("José Müller 山田", "José Müller 山田"),  # visible non-ASCII stays
        ("e\u0301", "e\u0301"),  # a combining accent is visible
    ],
)
def test_printable(raw: str, shown: str) -> None:
    assert printable(raw) == shown


def test_invisible_chars_lists_escapes() -> None:
    assert invisible_chars("a\u200bb\u2060c") == ["\\u200b", "\\u2060"]
    assert invisible_chars("plain") == []


@given(st.text())
def test_printable_leaves_no_invisible_character(text: str) -> None:
    shown = printable(text)
    assert not any(is_invisible(ch) for ch in shown)
    assert invisible_chars(shown) == []


@given(
    st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn")))
)
def test_visible_text_is_unchanged(text: str) -> None:
    assert printable(text) == text
