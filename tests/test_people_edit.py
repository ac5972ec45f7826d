"""The comment-keeping edit that records a departure: `is_active: false` on one person."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.desired import load_desired
from reconciler.people_edit import EditError, deactivate_in_file, set_inactive

HEAD = "version: 1\nusers:\n"


def edited(tmp_path: Path, text: str, login: str, name: str = "people.yaml") -> str:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    state = load_desired([str(path)])
    after = set_inactive(text, state.users[login])
    path.write_bytes(after.encode("utf-8"))
    again = load_desired([str(path)])
    assert again.users[login].fields["is_active"] is False
    for other, user in state.users.items():
        if other != login:
            assert again.users[other].fields == user.fields  # nobody else changed
    return after


def test_a_block_entry_without_is_active_gains_one_line_and_keeps_its_comments(
    tmp_path: Path,
) -> None:
    text = "version: 1\nsettings: {systems: [dealhub, pipedrive]}\nusers:\n" + (
        "  # the sales team\n"
        "  - login: ann@x   # Ann\n"
        "    email: 'ann@x.com'\n"
        '    name: "Ann A"\n'
        "    pipedrive:\n"
        "      access: [{app: sales}]\n"
        "\n"
        "  - login: bob@x\n"
        "    email: bob@x.com\n"
        "    name: Bob\n"
    )
    after = edited(tmp_path, text, "ann@x")
    assert after == text.replace(
        "      access: [{app: sales}]\n", "      access: [{app: sales}]\n    is_active: false\n"
    )


def test_an_is_active_true_is_replaced_in_place_with_its_comment_kept(tmp_path: Path) -> None:
    text = (
        HEAD
        + "  - login: ann@x\n    is_active: true   # until May\n    email: a@x.com\n    name: A\n"
    )
    after = edited(tmp_path, text, "ann@x")
    assert after == text.replace("is_active: true", "is_active: false")


def test_a_flow_style_entry_is_edited_in_its_own_style(tmp_path: Path) -> None:
    text = (
        HEAD
        + "  - {login: ann@x, email: a@x.com, name: A}  # flow\n"
        + "  - {login: bob@x, email: b@x.com, name: B}\n"
    )
    after = edited(tmp_path, text, "bob@x")
    assert after == text.replace("name: B}", "name: B, is_active: false}")


def test_crlf_line_breaks_are_kept_on_the_added_line(tmp_path: Path) -> None:
    text = (
        HEAD
        + "  - login: ann@x\n    email: a@x.com\n    name: A\n"
        + "  - login: bob@x\n    email: b@x.com\n    name: B\n"
    ).replace("\n", "\r\n")
    after = edited(tmp_path, text, "ann@x")
    assert after == text.replace("name: A\r\n", "name: A\r\n    is_active: false\r\n")
    assert "\n" not in after.replace("\r\n", "")


def test_the_last_line_without_a_line_break_gets_one_before_the_new_key(tmp_path: Path) -> None:
    text = HEAD + "  - login: ann@x\n    email: a@x.com\n    name: A"
    after = edited(tmp_path, text, "ann@x")
    assert after == text + "\n    is_active: false\n"


def test_a_byte_order_mark_is_kept(tmp_path: Path) -> None:
    text = "\ufeff" + HEAD + "  - login: ann@x\n    email: a@x.com\n    name: A\n"
    after = edited(tmp_path, text, "ann@x")
    assert after == text + "    is_active: false\n"


def test_a_person_inactive_in_their_entry_is_left_alone(tmp_path: Path) -> None:
    text = HEAD + "  - login: ann@x\n    email: a@x.com\n    name: A\n    is_active: no\n"
    path = tmp_path / "people.yaml"
    path.write_text(text)
    user = load_desired([str(path)]).users["ann@x"]
    assert set_inactive(text, user) == text


def test_an_entry_that_an_alias_repeats_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    text = HEAD + "  - &ann {login: ann@x, email: a@x.com, name: A}\n"
    path = tmp_path / "people.yaml"
    path.write_text(text)
    state = load_desired([str(path)])
    user = state.users["ann@x"]
    # The same entry repeated elsewhere (an alias) would be edited twice at once.
    shared = text + "defaults: {}\nx: [*ann]\n"
    with pytest.raises(EditError):
        set_inactive(shared, user)


def test_the_edit_names_its_file_in_the_diff_and_is_written_atomically(tmp_path: Path) -> None:
    path = tmp_path / "team" / "sales.yaml"
    path.parent.mkdir()
    text = HEAD + "  - login: ann@x\n    email: a@x.com\n    name: A\n"
    path.write_text(text)
    state = load_desired([str(path)])
    edit = deactivate_in_file(state, state.users["ann@x"])
    assert edit.changed
    assert edit.diff.splitlines()[:2] == [f"--- a/{path}", f"+++ b/{path}"]
    assert "+    is_active: false" in edit.diff.splitlines()
    assert path.read_text() == text  # not written until asked
    edit.write()
    assert path.read_text() == text + "    is_active: false\n"


PEOPLE = [
    f"  - login: p{n}@x   # person {n}\n    email: p{n}@x.com\n    name: P{n}\n" for n in range(6)
]


@pytest.mark.parametrize("name", ["P3", "Procter & Gamble"])
def test_an_entry_among_many_is_edited_alone_or_over_the_whole_file_alike(
    tmp_path: Path, name: str
) -> None:
    # A name with "&" could be an anchor: that entry is edited over the whole file.
    people = list(PEOPLE)
    people[3] = people[3].replace("name: P3", f"name: {name}")
    text = HEAD + "".join(people)
    path = tmp_path / "people.yaml"
    path.write_text(text)
    state = load_desired([str(path)])
    edit = deactivate_in_file(state, state.users["p3@x"])
    assert edit.after == text.replace(f"name: {name}\n", f"name: {name}\n    is_active: false\n")
    hunk = [line for line in edit.diff.splitlines() if line.startswith("@@")]
    assert hunk == ["@@ -12,6 +12,7 @@"]


def test_the_diff_of_a_large_file_is_numbered_as_the_file(tmp_path: Path) -> None:
    people = [f"  - {{login: p{n}@x, email: p{n}@x.com, name: P{n}}}\n" for n in range(5000)]
    text = HEAD + "".join(people)
    path = tmp_path / "people.yaml"
    path.write_text(text)
    state = load_desired([str(path)])
    edit = deactivate_in_file(state, state.users["p4000@x"])
    assert edit.diff.splitlines()[2:] == [
        "@@ -4000,7 +4000,7 @@",
        *(f"   - {{login: p{n}@x, email: p{n}@x.com, name: P{n}}}" for n in range(3997, 4000)),
        "-  - {login: p4000@x, email: p4000@x.com, name: P4000}",
        "+  - {login: p4000@x, email: p4000@x.com, name: P4000, is_active: false}",
        *(f"   - {{login: p{n}@x, email: p{n}@x.com, name: P{n}}}" for n in range(4001, 4004)),
    ]
