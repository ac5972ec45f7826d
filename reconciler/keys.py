"""How a system tells its users apart, and which keys a reader could mistake for others.

Two rules, each in one place:

- **The key rule** (`caseless`, `exact`): when two keys name the same user. A
  system declares which it follows (`Capabilities.key_ignores_case`) and every
  step asks it through `Capabilities.key_fold`: the loader's duplicate checks,
  the diff's index of the tenant, apply's verification, saved plans, export and
  adoption. A caseless key (an email, say) is compared after Unicode's
  canonical caseless matching: `josé` written as one character or as `e` and a
  combining accent is one key, and so are `straße` and `STRASSE`.
- **Look-alikes** (`skeleton`): keys that are different users but that a
  reviewer cannot tell apart on screen (`аdmin`, with a Cyrillic `а`, beside
  `admin`). The skeleton is UTS #39's: every character mapped to the prototype
  of its confusable class, from Unicode's confusables data as shipped by the
  `confusable-homoglyphs` package.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Iterable
from functools import cache
from importlib import resources


def exact(key: str) -> str:
    """A key compared exactly as written (a login the vendor matches as given)."""
    return key


def caseless(key: str) -> str:
    """A key compared without regard to letter case or Unicode encoding.

    Unicode's canonical caseless match (NFD, case folding, then composed again
    with NFC so the folded key stays readable): `ß` folds to `ss`, and a
    precomposed `é` equals `e` with a combining acute.
    """
    if key.isascii():
        return key.lower()  # the same as the full rule for ASCII, and the common case
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", key).casefold())


def encoding_note(first: str, second: str) -> str:
    """For a message about two keys equal under `caseless`: how they differ when it is
    more than letter case (shown escaped: on screen they look the same), else ''."""
    if first.lower() == second.lower():
        return ""
    return f" ({first!a} and {second!a} are the same after Unicode normalisation)"


# -- look-alikes (UTS #39) --------------------------------------------------------------

#: The left-to-right marks the package wraps right-to-left glyphs in, for display only.
_DISPLAY_MARKS = str.maketrans("", "", "\u200e\u200f")


@cache
def _prototypes() -> dict[int, str]:
    """Each confusable character's prototype, as a `str.translate` table.

    The package lists, for each character, the characters it is confusable
    with, in both directions of Unicode's confusables.txt (a source lists its
    prototype; a prototype lists its sources). A source has exactly one
    prototype, and only a prototype can be a sequence (`m` looks like `rn`), so:
    a character that lists several is a prototype itself; one that lists a
    sequence maps to it; a pair that only list each other is one class, kept
    apart from every other by its smaller member.
    """
    text = resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8")
    raw: dict[str, list[dict[str, str]]] = json.loads(text)
    listed = {
        char: [entry["c"].translate(_DISPLAY_MARKS) for entry in entries]
        for char, entries in raw.items()
        if len(char.translate(_DISPLAY_MARKS)) == 1
    }
    table: dict[int, str] = {}
    for char, others in listed.items():
        char = char.translate(_DISPLAY_MARKS)
        if len(others) != 1:
            continue  # a prototype: it maps to itself
        (other,) = others
        if len(other) != 1 or len(listed.get(other, ())) > 1:
            table[ord(char)] = other  # a source, and its prototype
        elif other < char:
            table[ord(char)] = other  # a pair: the smaller member stands for both
    return table


def skeleton(text: str) -> str:
    """UTS #39's skeleton: texts a reader may confuse share it (`аdmin` and `admin`).

    Case is kept (`I` and `l` are confusable, `a` and `A` are not): fold a key
    with its system's key rule first.
    """
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFD", decomposed.translate(_prototypes()))


def literal_prefix(pattern: str) -> str:
    """The text of a glob before its first wildcard (`admin@acme` of `admin@acme*`)."""
    for index, char in enumerate(pattern):
        if char in "*?[":
            return pattern[:index]
    return pattern


def has_wildcard(pattern: str) -> bool:
    """Whether a glob matches more than its own text."""
    return literal_prefix(pattern) != pattern


def look_alikes(keys: Iterable[str], *, among: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(key, other): a key a reader may take for another (the same skeleton, letter case
    and Unicode encoding aside, but different text), each pair once.

    `among` are keys to compare with that are not themselves checked (a tenant's
    users). Only a pair with a character beyond ASCII is named: `аdmin` (Cyrillic
    `а`) beside `admin`, not `rn` beside `m`, which every reviewer reads apart.
    """
    checked = list(dict.fromkeys(keys))
    seen = set(checked)  # once: a set per key made this quadratic (2.8 s of 6.1 at 10,000)
    others = [key for key in dict.fromkeys(among) if key not in seen]
    if all(key.isascii() for key in checked) and all(key.isascii() for key in others):
        return []  # the common case: nothing to skeletonise
    groups: dict[str, dict[str, str]] = {}  # skeleton -> {fold: the first key of that fold}
    for key in [*checked, *others]:
        folded = caseless(key)
        groups.setdefault(skeleton(folded), {}).setdefault(folded, key)
    found: list[tuple[str, str]] = []
    # The key with letters beyond ASCII is the one named as looking like the other.
    for key in sorted(checked, key=str.isascii):
        folded = caseless(key)
        group = groups[skeleton(folded)]
        twin = next(
            (
                other
                for fold, other in group.items()
                if fold != folded and not (key.isascii() and other.isascii())
            ),
            None,
        )
        if twin is not None and (twin, key) not in found:
            found.append((key, twin))
    return found


def protect_look_alikes(
    keys: Iterable[str], patterns: Iterable[str], protected: Callable[[str], bool]
) -> list[tuple[str, str]]:
    """(key, glob): a key not protected that a reader may take for a protected one: its
    skeleton begins as the glob's literal text does (is it, for a glob without
    wildcards). As look_alikes, only pairs with a character beyond ASCII count."""
    globs = list(patterns)
    checked = list(dict.fromkeys(keys))
    ascii_globs = all(pattern.isascii() for pattern in globs)
    if ascii_globs and all(key.isascii() for key in checked):
        return []  # the common case: nothing to skeletonise
    starts: dict[str, str] = {}  # skeleton of a glob's folded literal text -> glob
    whole: dict[str, str] = {}  # the same, for globs without wildcards
    for pattern in globs:
        text = literal_prefix(pattern)
        if text:
            (starts if has_wildcard(pattern) else whole).setdefault(
                skeleton(caseless(text)), pattern
            )
    found: list[tuple[str, str]] = []
    for key in checked:
        if ascii_globs and key.isascii():
            continue
        shape = skeleton(caseless(key))
        glob = whole.get(shape) or next(
            (starts[shape[:end]] for end in range(len(shape), 0, -1) if shape[:end] in starts),
            None,
        )
        if glob is not None and not (key.isascii() and glob.isascii()) and not protected(key):
            found.append((key, glob))
    return found


def look_alike_message(title: str, key: str, other: str, where: str = "") -> str:
    """The warning for a key a reader may take for another (both shown escaped)."""
    return (
        f"{title}: {key!a} looks like {other!a}{where} but is different text (letters of "
        "another script): check that it is the person meant, not an impersonation"
    )


def protect_look_alike_message(title: str, key: str, glob: str) -> str:
    """The warning for a key a reader may take for a protected one."""
    return (
        f"{title}: {key!a} looks like the protected {glob!a} but is not protected (letters "
        "of another script): check that it is not an impersonation"
    )
