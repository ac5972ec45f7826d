"""read_yaml: the same data as yaml.safe_load, plus line numbers and safety limits."""

from __future__ import annotations

import datetime
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler import yaml_source
from reconciler.desired import load_desired
from reconciler.yaml_source import Mapping, Sequence, YamlError, read_yaml

# --- generated documents ------------------------------------------------------

keys = st.one_of(
    st.text(max_size=20),
    st.integers(-(2**40), 2**40),
    st.booleans(),
    st.none(),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=40),
    st.dates(),
    st.datetimes(),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(keys, children, max_size=5),
    ),
    max_leaves=25,
)
documents = st.dictionaries(keys, values, max_size=6) | st.lists(values, max_size=6)
styles = st.sampled_from([False, True, None])  # block, flow, mixed


def check_same(text: str) -> Any:
    ours = read_yaml("gen.yaml", text)
    theirs = yaml.safe_load(text)
    assert ours == theirs
    assert type(ours) is type(theirs) or isinstance(ours, (Mapping, Sequence))
    return ours


def assert_located(value: Any) -> None:
    """Every mapping and list carries a line for itself and each key or item."""
    if isinstance(value, dict):
        assert isinstance(value, Mapping)
        assert value.line >= 1
        assert set(value.key_lines) == set(value)
        for child in value.values():
            assert_located(child)
    elif isinstance(value, list):
        assert isinstance(value, Sequence)
        assert len(value.item_lines) == len(value)
        for child in value:
            assert_located(child)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=documents, flow=styles, unicode=st.booleans(), width=st.sampled_from([20, 80, 1000]))
def test_same_as_safe_load(data: Any, flow: bool | None, unicode: bool, width: int) -> None:
    text = yaml.safe_dump(
        data, default_flow_style=flow, allow_unicode=unicode, width=width, sort_keys=False
    )
    assert_located(check_same(text))


shared = st.dictionaries(st.text(max_size=8), scalars, min_size=1, max_size=4)


@settings(max_examples=100, deadline=None)
@given(common=shared, other=st.lists(values, max_size=3), repeat=st.integers(2, 5))
def test_anchors_and_aliases_as_safe_dump_writes_them(
    common: dict[str, Any], other: list[Any], repeat: int
) -> None:
    data = {"common": common, "list": other, "uses": [common] * repeat, "again": other}
    text = yaml.safe_dump(data, sort_keys=False)
    assert "&id001" in text and "*id001" in text
    check_same(text)


def flow(value: Any) -> str:
    """One value in flow style, on one line (to splice into a hand-made document)."""
    return yaml.safe_dump([value], default_flow_style=True, width=10**6).strip()[1:-1]


one_line_text = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=12)
one_line_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), one_line_text
)
small_maps = st.dictionaries(one_line_text, one_line_scalars, max_size=4)


@settings(max_examples=100, deadline=None)
@given(
    base=small_maps,
    second=small_maps,
    entries=st.lists(
        st.tuples(small_maps, st.integers(0, 3)),
        min_size=1,
        max_size=4,
    ),
)
def test_merge_keys_as_safe_load(
    base: dict[str, Any], second: dict[str, Any], entries: list[tuple[dict[str, Any], int]]
) -> None:
    # Where both merged mappings hold a key, PyYAML's answer depends on the key's
    # spelling (test_a_merge_sequence_lets_earlier_mappings_win): compare the rest.
    second = {k: v for k, v in second.items() if k not in base}
    lines = [f"base: &base {flow(base)}", f"second: &second {flow(second)}", "items:"]
    for own, form in entries:
        merge = ["*base", "[*base, *second]", "[*second, *base]", "*second"][form]
        body = [f"{flow(k)}: {flow(v)}" for k, v in own.items()]
        # the merge key first, last or in the middle: explicit keys win wherever it stands
        at = form % (len(body) + 1)
        body.insert(at, f"<<: {merge}")
        lines.append("  - " + "\n    ".join(body))
    text = "\n".join(lines) + "\n"
    result = check_same(text)
    for item, (own, _) in zip(result["items"], entries, strict=True):
        for key, value in own.items():
            assert item[key] == value


def test_a_merge_sequence_lets_earlier_mappings_win() -> None:
    # The merge-key spec: "keys in mapping nodes earlier in the sequence override
    # keys specified in later mapping nodes". PyYAML 6 gives 2 for 'ab' and 1 for x.
    for key in ("'ab'", "'00'", "x"):
        text = f"a: &a {{{key}: 1}}\nb: &b {{{key}: 2}}\nitems:\n  - <<: [*a, *b]\n"
        assert list(read_yaml("gen.yaml", text)["items"][0].values()) == [1]


# --- hand-written examples ----------------------------------------------------

EXAMPLE = textwrap.dedent(
    """\
    # a comment
    version: 1

    defaults: &d
      company: Acme   # trailing comment
      country: Israel
    users:
      - login: a@acme
        email: a@acme.com
        note: |
          two
          lines
        name: A
      - {login: b@acme, email: b@acme.com,
         name: B}

      - <<: *d
        login: c@acme
      - plain
    tags: [x,
      y, z]
    """
)


def test_line_numbers() -> None:
    doc = read_yaml("example.yaml", EXAMPLE)
    assert isinstance(doc, Mapping)
    assert doc.line == 2
    assert doc.key_lines == {"version": 2, "defaults": 4, "users": 7, "tags": 20}
    defaults = doc["defaults"]
    assert isinstance(defaults, Mapping)
    # a mapping starts at its anchor
    assert (defaults.line, defaults.key_lines) == (4, {"company": 5, "country": 6})
    users = doc["users"]
    assert isinstance(users, Sequence)
    assert users.line == 8
    assert users.item_lines == [8, 14, 17, 19]
    a, b, c, plain = users
    assert a.key_lines == {"login": 8, "email": 9, "note": 10, "name": 13}
    assert a["note"] == "two\nlines\n"
    assert (b.line, b.key_lines) == (14, {"login": 14, "email": 14, "name": 15})
    # merged keys take the line of the merge key
    assert c.key_lines == {"company": 17, "country": 17, "login": 18}
    assert c == {"company": "Acme", "country": "Israel", "login": "c@acme"}
    assert plain == "plain"
    assert doc["tags"].item_lines == [20, 21, 21]


def test_defaults_anchor_merged_into_many_users_is_accepted(tmp_path: Path) -> None:
    fields = {
        "company": "Acme",
        "country": "Israel",
        "position": "Sales",
        "business_title": "Account Executive",
        "street": "1 Main St",
        "city": "Tel Aviv",
        "state": "Center",
        "postal_code": "12345",
        "phone": "+972-3-555-0000",
        "mobile": "+972-50-555-0000",
        "fax": None,
        "is_active": True,
        "user_manager_login": "boss@acme",
    }
    lines = ["version: 1", f"defaults: &common {flow(fields)}", "users:"]
    lines.append(
        "  - {login: boss@acme, email: boss@acme.com, name: Boss, user_manager_login: null}"
    )
    lines += [
        f"  - {{<<: *common, login: u{i}@acme, email: u{i}@acme.com, name: U{i}, city: C{i}}}"
        for i in range(3000)
    ]
    text = "\n".join(lines) + "\n"
    assert check_same(text)["users"][3000]["company"] == "Acme"
    path = tmp_path / "many.yaml"
    path.write_text(text, encoding="utf-8")
    state = load_desired([str(path)])
    assert len(state.users) == 3001
    assert state.users["u2999@acme"].fields["city"] == "C2999"  # explicit beats merged
    assert state.users["u2999@acme"].fields["street"] == "1 Main St"
    assert state.users["u2999@acme"].fields["user_manager_login"] == "boss@acme"
    assert state.users["boss@acme"].fields["user_manager_login"] is None


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("a: 1\nb: 2\na: 3\n", 3, "duplicate key 'a' (first on line 1)"),
        ("a: 1\n1: 2\n0x1: 3\n", 3, "duplicate key 1 (first on line 2)"),
        ("? [a, b]\n: 1\n", 1, "a mapping key must be a plain value"),
        ("a: &x [1]\nb:\n  <<: *x\n", 3, "a merge key (<<) must name a mapping"),
        ("a: *nothing\n", 1, "unknown alias *nothing"),
        ("a: &x\n  b: *x\n", 2, "alias *x refers to itself"),
        ("a: 1\n---\nb: 2\n", 2, "more than one YAML document"),
        ("a: !!binary aGk=\n", 1, "unsupported YAML tag"),
        ("a: !!set {x}\n", 1, "unsupported YAML tag"),
        ("a: !local x\n", 1, "unsupported YAML tag '!local'"),
        ("a: !!bool perhaps\n", 1, "'perhaps' cannot be read as !!bool"),
        ("a: !!float x\n", 1, "'x' cannot be read as !!float"),
        ("a: !!timestamp x\n", 1, "'x' cannot be read as !!timestamp"),
        ("- <<\n", 1, "a merge key (<<) can only be a mapping key"),
        ("<<\n", 1, "a merge key (<<) can only be a mapping key"),
        ("a: [1,\nb: 2\n", 3, "malformed YAML"),
        ("a: b\nc: d\x00\n", 2, "unacceptable character #x0000"),
        ("a: é\nc: éé\x07\n", 2, "unacceptable character #x0007"),
    ],
)
def test_bad_yaml(text: str, line: int, fragment: str) -> None:
    with pytest.raises(YamlError) as info:
        read_yaml("bad.yaml", text)
    problem = info.value.problem
    assert (problem.file, problem.line) == ("bad.yaml", line)
    assert fragment in problem.message


def test_explicit_tags_as_safe_load() -> None:
    text = "a: !!str 12\nb: !!int '12'\nc: !!bool 'yes'\nd: !!null x\ne: ! 12\nf: !!float 1\n"
    assert check_same(text) == {"a": "12", "b": 12, "c": True, "d": None, "e": 12, "f": 1.0}
    assert check_same("d: !!timestamp 2024-01-02\n") == {"d": datetime.date(2024, 1, 2)}


def test_depth_limit() -> None:
    depth = yaml_source.MAX_DEPTH
    assert read_yaml("ok.yaml", "[" * depth + "]" * depth) is not None
    with pytest.raises(YamlError, match=f"nested deeper than {depth} levels"):
        read_yaml("deep.yaml", "[" * (depth + 1) + "]" * (depth + 1))
    # far deeper than Python's recursion limit: refused, not a RecursionError
    with pytest.raises(YamlError, match="nest"):
        read_yaml("deeper.yaml", "[" * 100_000)
    with pytest.raises(YamlError, match=f"nested deeper than {depth} levels"):
        read_yaml("deeper.yaml", "- " * 100_000 + "x\n")
    with pytest.raises(YamlError, match=f"nested deeper than {depth} levels"):
        read_yaml("deeper.yaml", "".join(f"{' ' * i}k:\n" for i in range(1000)))


def test_reads_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfa: 1\n")
    assert read_yaml(str(path)) == {"a": 1}
    with pytest.raises(YamlError, match="cannot read"):
        read_yaml(str(tmp_path / "missing.yaml"))
    monkeypatch.setattr(yaml_source, "MAX_FILE_BYTES", 4)
    with pytest.raises(YamlError, match="more than 4 bytes, the limit"):
        read_yaml(str(path))
    # given text, the size limit is not the file's business
    assert read_yaml(str(path), "a: 1\n") == {"a": 1}


def test_bad_utf8_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("a: 1\nb: 2\nc: café\n".encode("latin-1"))
    with pytest.raises(YamlError) as info:
        read_yaml(str(path))
    assert info.value.problem.line == 3
    assert "not valid UTF-8" in info.value.problem.message
