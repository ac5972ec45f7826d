"""Making text from files and servers inert before anyone sees it.

One rule for every output (terminal, CI log, markdown, JSON, error lines): a
character that is invisible or acts on the reader's screen is shown as an
escape (`\\u200b`), never passed through. That covers control characters
(a forged line, a colour, a GitHub workflow command), format characters (the
zero-width space that makes two logins look identical, the bidirectional
overrides of "Trojan source") and the line and paragraph separators.
"""

from __future__ import annotations

import re
import unicodedata

#: Unicode categories shown escaped: control, format, line/paragraph separators,
#: surrogates, private use and unassigned code points.
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})

# Printable ASCII is by far the common case: only other characters are looked up.
_CANDIDATE = re.compile(r"[^\x20-\x7e]")


def is_invisible(char: str) -> bool:
    """Whether one character is escaped by `printable`."""
    return unicodedata.category(char) in INVISIBLE_CATEGORIES


def escape_char(char: str) -> str:
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def printable(text: str) -> str:
    """`text` with every invisible or controlling character shown as `\\uXXXX`."""
    if text.isascii() and text.isprintable():
        return text
    return _CANDIDATE.sub(
        lambda m: escape_char(m.group()) if is_invisible(m.group()) else m.group(), text
    )


def invisible_chars(text: str) -> list[str]:
    """The escapes of the invisible characters in `text`, in order (empty when none)."""
    if text.isascii() and text.isprintable():
        return []
    return [escape_char(ch) for ch in _CANDIDATE.findall(text) if is_invisible(ch)]


# In JSON text, the characters json.dumps(ensure_ascii=False) leaves as they are.
_JSON_CANDIDATE = re.compile(r"[^\x00-\x7e]")


def _json_escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def json_safe(text: str) -> str:
    """JSON text (from json.dumps with ensure_ascii=False) with invisible characters escaped.

    The result is the same JSON value; only its spelling changes.
    """
    if text.isascii():
        return text.replace("\x7f", "\\u007f")
    return _JSON_CANDIDATE.sub(
        lambda m: _json_escape(m.group()) if is_invisible(m.group()) else m.group(), text
    )
