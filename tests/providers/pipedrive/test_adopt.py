"""Adopting Pipedrive: `export --system pipedrive --merge PEOPLE.yaml` (issue 15, item 4).

The merged file plans to no change against the company it was merged from and
to the original's plan against DealHub, and keeps every line of the original.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.desired import load_desired
from reconciler.diff import compute_plan
from reconciler.providers import get as get_provider
from reconciler.providers.pipedrive.adopt import (
    Merged,
    MergeError,
    merge_people,
    report_lines,
    split_lines,
)
from reconciler.providers.pipedrive.export import export_pipedrive_yaml
from reconciler.providers.pipedrive.rules import APPS

TOKEN = "pd-token-do-not-print-0123"
DEALHUB_TOKEN = "dh-token-do-not-print-0123"

PEOPLE = """\
# yaml-language-server: $schema=../schemas/users.schema.json
# Who works at Acme.  Keep this comment!
version: 1

settings:
  unlisted: deactivate   # the tenant's others are deactivated
  protect: ["admin@acme*"]

defaults:
  company: Acme

users:
  - login: admin@acme
    email: Admin@Acme.com
    name: Admin   # the admin

  # Roy runs sales
  - login: roy@acme
    email: roy@acme.com
    name: Roy
    position: |
      VP
      Sales

  - {login: gone@acme, email: gone@acme.com, name: Gone, is_active: false}
  - login: nopd@acme
    email: nopd@acme.com
    name: No PD
    systems: [dealhub]
  - login: dana@acme
    email: dana@acme.com
    name: Dana
# the end
"""


def _dealhub_user(login: str, email: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"login": login, "id": login, "email": email, "name": name, "company": "Acme",
            "is_active": True, **extra}  # fmt: skip


TENANT = [
    _dealhub_user("admin@acme", "Admin@Acme.com", "Admin"),
    _dealhub_user("roy@acme", "roy@acme.com", "Roy", position="VP\nSales\n"),
    _dealhub_user("gone@acme", "gone@acme.com", "Gone", is_active=False),
    _dealhub_user("nopd@acme", "nopd@acme.com", "No PD"),
    _dealhub_user("dana@acme", "dana@acme.com", "Dana"),
]


def _pd(user_id: int, email: str, active: bool = True, **extra: Any) -> dict[str, Any]:
    return {"id": user_id, "email": email, "name": email.split("@")[0].title(),
            "active_flag": active, "is_you": False, "is_deleted": False,
            "access": [{"app": "sales", "admin": False}], **extra}  # fmt: skip


COMPANY = [
    _pd(1, "admin@acme.com", is_you=True,
        access=[{"app": "global", "admin": True}, {"app": "sales", "admin": False}]),
    _pd(2, "ROY@acme.com", active=False),
    _pd(3, "gone@acme.com"),
    _pd(4, "nopd@acme.com"),
    _pd(5, "new@acme.com", access=[{"app": "sales", "admin": True}]),
    _pd(6, "dana@acme.com", is_deleted=True),
    _pd(7, "Old@Acme.com", active=False),
]  # fmt: skip


@pytest.fixture
def acme(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    monkeypatch.setenv("PIPEDRIVE_API_TOKEN", TOKEN)
    monkeypatch.setenv("DEALHUB_TOKEN", DEALHUB_TOKEN)
    monkeypatch.delenv("PIPEDRIVE_API_URL", raising=False)
    paths = {
        "people": tmp_path / "people.yaml",
        "tenant": tmp_path / "tenant.json",
        "company": tmp_path / "company.json",
        # Not beside the people file: a merged copy there is another people file of its
        # folder, which a later merge of the original refuses (people_beside).
        "merged": tmp_path / "out" / "merged.yaml",
    }
    paths["merged"].parent.mkdir()
    paths["people"].write_text(PEOPLE, encoding="utf-8")
    paths["tenant"].write_text(json.dumps(TENANT))
    paths["company"].write_text(json.dumps(COMPANY))
    return paths


def _merge(run: Any, acme: dict[str, Path], *extra: str) -> Any:
    return run(
        "export", "--system", "pipedrive", "--merge", str(acme["people"]),
        "--api-url", f"pipedrive=sim:{acme['company']}", *extra,
    )  # fmt: skip


def _targets(acme: dict[str, Path]) -> list[str]:
    return ["--api-url", f"sim:{acme['tenant']}", "--api-url", f"pipedrive=sim:{acme['company']}"]


# --- through the command line ------------------------------------------------------


def test_merged_file_plans_to_no_change_in_both_systems(run: Any, acme: dict[str, Path]) -> None:
    people, merged = str(acme["people"]), str(acme["merged"])
    original = run("plan", people, "--api-url", f"sim:{acme['tenant']}", "--detailed-exitcode")
    assert original.code == 0, original.all
    result = _merge(run, acme, "-o", merged)
    assert result.code == 0, result.all
    assert result.out == ""
    assert TOKEN not in result.all
    for systems in ([], ["--system", "dealhub"], ["--system", "pipedrive"]):
        planned = run("plan", merged, *_targets(acme), "--detailed-exitcode", *systems)
        assert planned.code == 0, planned.all
    both = run("plan", merged, *_targets(acme), "--format", "json")
    plans = json.loads(both.out)["plans"]
    assert [p["system"] for p in plans] == ["dealhub", "pipedrive"]
    assert all(p["changes"] == [] for p in plans)
    assert run("validate", merged).code == 0


def test_merged_file_keeps_the_original_and_adds_what_is_needed(
    run: Any, acme: dict[str, Path]
) -> None:
    assert _merge(run, acme, "-o", str(acme["merged"])).code == 0
    text = acme["merged"].read_text(encoding="utf-8")
    assert "  systems: [dealhub, pipedrive]\n  unlisted: deactivate   # the tenant" in text
    assert "    name: Admin   # the admin\n    pipedrive: {access: [{app: global, admin: true}, " \
        "{app: sales}]}\n" in text  # fmt: skip
    # Roy is inactive in Pipedrive, Dana deleted there: neither is listed for it.
    assert "      Sales\n    systems: [dealhub]\n\n  - {login: gone@acme" in text
    assert "    name: Dana\n    systems: [dealhub]\n" in text
    # Gone is inactive here but active there: the Pipedrive user is added on its own.
    assert "name: Gone, is_active: false, systems: [dealhub]}" in text
    assert "    systems: [dealhub, pipedrive]\n  - login: dana@acme" in text
    doc = yaml.safe_load(text)
    added = {u["login"]: u for u in doc["users"][5:]}
    assert added == {
        "new@acme.com": {"login": "new@acme.com", "email": "new@acme.com", "name": "New",
                         "systems": ["pipedrive"],
                         "pipedrive": {"access": [{"app": "sales", "admin": True}]}},
        "Old@Acme.com": {"login": "Old@Acme.com", "email": "Old@Acme.com", "name": "Old",
                         "systems": ["pipedrive"], "is_active": False},
        "gone@acme.com": {"login": "gone@acme.com", "email": "gone@acme.com", "name": "Gone",
                          "systems": ["pipedrive"]},
    }  # fmt: skip
    assert text.endswith("    systems: [pipedrive]\n# the end\n")
    assert_only_insertions(PEOPLE, text)


def test_the_report_names_who_was_treated_apart(run: Any, acme: dict[str, Path]) -> None:
    result = _merge(run, acme, "-o", str(acme["merged"]))
    people = str(acme["people"])
    assert (
        f"2 Pipedrive users match no person in {people}: new@acme.com, Old@Acme.com (added "
        "with systems: [pipedrive]; give each the person's DealHub login or remove them)."
    ) in result.err
    assert "1 person has no Pipedrive user: dana@acme" in result.err
    assert "1 person is inactive in Pipedrive: roy@acme" in result.err
    assert "1 person is is_active: false here but active in Pipedrive: gone@acme" in result.err
    assert "1 person had systems of their own and is in Pipedrive: nopd@acme" in result.err
    assert "Its plan against this company shows no changes" in result.err
    assert f"Wrote the merged people file to {acme['merged']}" in result.err


def test_the_report_is_short_and_inert() -> None:
    many = Merged("", unmatched=[f"u{i}@x.com" for i in range(12)] + ["evil\x1b[31m@x.com"])
    lines = report_lines(many, "people\n.yaml")
    assert lines[0] == "Merged: 13 people listed for Pipedrive (0 matched by email)."
    assert lines[1].startswith("13 Pipedrive users match no person in people\\u000a.yaml: u0@x")
    assert "u9@x.com and 3 more (added" in lines[1]
    nobody = report_lines(Merged("", absent=["a"], notes=1), "p.yaml")
    assert "1 person has no Pipedrive user: a (given" in nobody[1]
    assert "empty-desired-state guard" in nobody[2]
    assert nobody[3] == "Its plan against this company shows no changes (1 note: what " \
        "Pipedrive's API cannot change)."  # fmt: skip
    shown = report_lines(Merged("", absent=["evil\x1b[31m"]), "p.yaml")[1]
    assert "\x1b" not in shown and "evil\\u001b[31m" in shown


def test_dash_writes_the_merged_file_to_stdout(run: Any, acme: dict[str, Path]) -> None:
    to_file = _merge(run, acme, "-o", str(acme["merged"]))
    to_stdout = _merge(run, acme, "-o", "-")
    default = _merge(run, acme)
    assert to_file.code == to_stdout.code == default.code == 0
    assert to_stdout.out == default.out == acme["merged"].read_text(encoding="utf-8")
    assert "Wrote" not in to_stdout.err
    assert acme["people"].read_text(encoding="utf-8") == PEOPLE


def test_the_people_file_can_be_merged_in_place(run: Any, acme: dict[str, Path]) -> None:
    assert _merge(run, acme, "-o", str(acme["people"])).code == 0
    planned = run("plan", str(acme["people"]), *_targets(acme), "--detailed-exitcode")
    assert planned.code == 0, planned.all


def test_a_bad_people_file_is_an_error_and_nothing_is_written(
    run: Any, acme: dict[str, Path]
) -> None:
    acme["people"].write_text(PEOPLE.replace("    name: Dana\n", "    nmae: Dana\n"))
    # The file is read first: the company (here, a refused URL) is never reached.
    result = run(
        "export", "--system", "pipedrive", "--merge", str(acme["people"]),
        "--api-url", "pipedrive=http://acme.pipedrive.com", "-o", str(acme["merged"]),
    )  # fmt: skip
    assert result.code == 1
    assert f"{acme['people']}:32: unknown key 'nmae'" in result.err
    assert "http://" not in result.err
    assert not acme["merged"].exists()


def test_nothing_is_written_when_the_company_cannot_be_read(
    run: Any, acme: dict[str, Path]
) -> None:
    acme["merged"].write_text("kept\n")
    acme["company"].write_text("{not json")
    result = _merge(run, acme, "-o", str(acme["merged"]))
    assert result.code == 1 and "error:" in result.err
    assert acme["merged"].read_text() == "kept\n"
    result = run(
        "export", "--system", "pipedrive", "--merge", str(acme["people"]),
        "--api-url", "pipedrive=http://acme.pipedrive.com", "-o", str(acme["merged"]),
    )  # fmt: skip
    assert result.code == 1 and "http://" in result.err
    assert acme["merged"].read_text() == "kept\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--merge", "PEOPLE"], "add --system pipedrive"),
        (["--system", "dealhub", "--merge", "PEOPLE"], "add --system pipedrive"),
        (["--system", "pipedrive", "--merge", "DIR"], "give one people file"),
        (["--system", "pipedrive", "--merge", "-"], "give one people file"),
        (["--system", "pipedrive", "--merge", "MANAGED"], "already manages Pipedrive"),
    ],
)
def test_what_cannot_be_merged_is_refused(
    run: Any, acme: dict[str, Path], args: list[str], message: str
) -> None:
    managed = acme["people"].parent / "managed.yaml"
    both = "settings:\n  systems: [dealhub, pipedrive]\n"
    managed.write_text(PEOPLE.replace("settings:\n", both))
    names = {"PEOPLE": str(acme["people"]), "DIR": str(acme["people"].parent),
             "MANAGED": str(managed)}  # fmt: skip
    result = run(
        "export", *[names.get(a, a) for a in args], "--api-url",
        f"pipedrive=sim:{acme['company']}", "-o", str(acme["merged"]),
    )  # fmt: skip
    assert result.code == 1, result.all
    assert message in result.err
    assert not acme["merged"].exists()


def test_export_without_merge_is_unchanged(run: Any, acme: dict[str, Path]) -> None:
    result = run("export", "--system", "pipedrive", "--api-url", f"pipedrive=sim:{acme['company']}")
    assert result.code == 0
    assert result.out == export_pipedrive_yaml(COMPANY, source=f"sim:{acme['company']}")


# --- the text edit -----------------------------------------------------------------


def assert_only_insertions(original: str, merged: str) -> None:
    """`merged` is `original` with text inserted (lines, or keys and items inside `[...]`
    and `{...}`): every line of the original is in it, in order, with all its bytes."""
    old = split_lines(original)
    if old and not old[-1].endswith(("\n", "\r")):
        old[-1] += "\r\n" if "\r\n" in original else "\n"
    new = iter(split_lines(merged))
    for line in old:
        assert any(_inserted_into(line, candidate) for candidate in new), (line, merged)


def _inserted_into(old: str, new: str) -> bool:
    """Whether `new` is `old` with characters inserted (and its line break the same)."""
    rest = iter(new)
    return old[-1:] == new[-1:] and all(char in rest for char in old)


def _merged(text: str, company: list[dict[str, Any]], tmp_path: Path) -> tuple[Any, Any, str]:
    path = tmp_path / "people.yaml"
    path.write_bytes(text.encode("utf-8"))
    state = load_desired([str(path)])
    merged = merge_people(text, state, company, file=str(path))
    path.write_bytes(merged.text.encode("utf-8"))
    return state, load_desired([str(path)]), merged.text


def _pipedrive_plan(state: Any, company: list[dict[str, Any]]) -> Any:
    return compute_plan(state, company, target="t", provider=get_provider("pipedrive"))


@pytest.mark.parametrize(
    ("settings_text", "expected"),
    [
        ("", "version: 1\nsettings:\n  systems: [dealhub, pipedrive]\n# people\nusers:"),
        ("settings:\n  systems: [dealhub]\n", "settings:\n  systems: [dealhub, pipedrive]\n"),
        ("settings:\n  systems:\n  - dealhub  # one\n",
         "  systems:\n  - dealhub  # one\n  - pipedrive\n"),
        ("settings: {unlisted: ignore}\n",
         "settings: {unlisted: ignore, systems: [dealhub, pipedrive]}\n"),
        ("settings: {systems: [dealhub], unlisted: ignore}\n",
         "settings: {systems: [dealhub, pipedrive], unlisted: ignore}\n"),
    ],
)  # fmt: skip
def test_settings_systems_gains_pipedrive(
    tmp_path: Path, settings_text: str, expected: str
) -> None:
    person = "  - login: a\n    email: a@x.com\n    name: A\n"
    text = f"version: 1\n{settings_text}# people\nusers:\n{person}"
    company = [_pd(1, "a@x.com")]
    _, after, merged = _merged(text, company, tmp_path)
    assert expected in merged
    assert after.settings.systems == ("dealhub", "pipedrive")
    assert _pipedrive_plan(after, company).changes == []
    assert_only_insertions(text, merged)


@pytest.mark.parametrize(
    "users",
    ["users: []\n", "", "users: [{login: a, email: a@x.com, name: A}]\n"],
)
def test_users_are_appended_to_an_empty_flow_or_missing_list(tmp_path: Path, users: str) -> None:
    text = "version: 1\n" + users
    company = [_pd(1, "b@x.com"), _pd(2, "C@x.com", active=False)]
    _, after, merged = _merged(text, company, tmp_path)
    assert {u.login: u.systems for u in after.users.values() if u.login != "a"} == {
        "b@x.com": ("pipedrive",),
        "C@x.com": ("pipedrive",),
    }
    assert after.users["C@x.com"].fields["is_active"] is False
    assert _pipedrive_plan(after, company).changes == []
    assert_only_insertions(text, merged)


def test_crlf_bom_and_a_missing_last_line_break_are_kept(tmp_path: Path) -> None:
    text = "\ufeffversion: 1\r\nusers:\r\n- login: a\r\n  email: a@x.com\r\n  name: A"
    _, after, merged = _merged(text, [_pd(1, "b@x.com")], tmp_path)
    assert merged.startswith("\ufeffversion: 1\r\nsettings:\r\n  systems: [dealhub, pipedrive]\r\n")
    assert "  name: A\r\n  systems: [dealhub]\r\n" in merged
    assert "\n" not in merged.replace("\r\n", "")
    assert "b@x.com" in after.users


def test_a_kept_block_scalar_keeps_its_trailing_lines(tmp_path: Path) -> None:
    text = "version: 1\nusers:\n  - login: a\n    email: a@x.com\n    name: A\n" \
        "    position: |+\n      VP\n\n\n" \
        "  - login: b\n    email: b@x.com\n    name: B\n"  # fmt: skip
    state, after, merged = _merged(text, [], tmp_path)
    assert "      VP\n\n\n    systems: [dealhub]\n  - login: b" in merged
    assert after.users["a"].fields == state.users["a"].fields


def test_defaults_decide_who_needs_a_systems_key(tmp_path: Path) -> None:
    text = "version: 1\ndefaults:\n  systems: [dealhub]\n  is_active: false\nusers:\n" \
        "  - login: a\n    email: a@x.com\n    name: A\n" \
        "  - login: b\n    email: b@x.com\n    name: B\n    is_active: true\n"  # fmt: skip
    company = [_pd(1, "a@x.com", active=False), _pd(2, "b@x.com"), _pd(3, "c@x.com")]
    _, after, merged = _merged(text, company, tmp_path)
    assert {u.login: u.systems for u in after.users.values()} == {
        "a": ("dealhub", "pipedrive"),
        "b": ("dealhub", "pipedrive"),
        "c@x.com": ("pipedrive",),
    }
    # The defaults make people inactive: the added active user says it is not.
    assert "    systems: [pipedrive]\n    is_active: true\n" in merged
    assert _pipedrive_plan(after, company).changes == []


def test_defaults_merged_from_a_mapping_are_read_as_the_loader_reads_them(
    tmp_path: Path,
) -> None:
    text = "version: 1\ndefaults:\n  <<: {is_active: false}\nusers: []\n"
    _, after, _ = _merged(text, [_pd(1, "b@x.com")], tmp_path)
    assert after.users["b@x.com"].fields["is_active"] is True


def test_an_added_login_never_looks_like_a_login_or_manager_of_the_file(tmp_path: Path) -> None:
    text = "version: 1\nusers:\n  - login: B@x.com\n    email: someone@x.com\n    name: S\n" \
        "    user_manager_login: c@x.com\n"  # fmt: skip
    company = [_pd(41, "b@x.com"), _pd(42, "C@X.com"), _pd(43, "x" * 85 + "@x.com")]
    _, after, _ = _merged(text, company, tmp_path)
    assert set(after.users) == {"B@x.com", "pipedrive-41", "pipedrive-42", "pipedrive-43"}


def test_one_person_per_email_is_listed_for_pipedrive(tmp_path: Path) -> None:
    text = "version: 1\nusers:\n" + "".join(
        f"  - login: {login}\n    email: {email}\n    name: N\n    is_active: {active}\n"
        for login, email, active in
        [("a1", "a@x.com", "false"), ("a2", "A@x.com", "true"), ("a3", "a@X.com", "true")]
    )  # fmt: skip
    _, after, _ = _merged(text, [_pd(1, "a@x.com")], tmp_path)
    listed = [u.login for u in after.listed("pipedrive")]
    assert listed == ["a2"]


def test_an_email_no_people_file_can_hold_is_refused(tmp_path: Path) -> None:
    text = "version: 1\nusers: []\n"
    with pytest.raises(MergeError, match="Pipedrive user 9 cannot be written"):
        _merged(text, [_pd(9, "not an email")], tmp_path)
    with pytest.raises(MergeError, match="invisible"):
        _merged(text, [_pd(9, "a\u200b@x.com")], tmp_path)


def test_hostile_names_are_quoted(tmp_path: Path) -> None:
    names = ["yes", "a: b", "x #y", "- dash", "line\u2028sep", "{brace}", "\ud800", ""]
    company = [_pd(i + 1, f"u{i}@x.com", name=name) for i, name in enumerate(names)]
    _, after, _ = _merged("version: 1\nusers: []\n", company, tmp_path)
    got = {u.login: u.fields["name"] for u in after.users.values()}
    want = {f"u{i}@x.com": name for i, name in enumerate(names)}
    want.update({"u6@x.com": "u6@x.com", "u7@x.com": "u7@x.com"})  # no name a file can hold
    assert got == want


def test_an_alias_that_other_people_share_is_not_edited(tmp_path: Path) -> None:
    text = "version: 1\nusers:\n  - login: a\n    email: a@x.com\n    name: A\n" \
        "    systems: &only [dealhub]\n" \
        "  - login: b\n    email: b@x.com\n    name: B\n    systems: *only\n"  # fmt: skip
    with pytest.raises(MergeError, match=r"people.yaml:6: this systems list is repeated"):
        _merged(text, [_pd(1, "a@x.com")], tmp_path)
    # Nothing to edit in the shared list: the merge goes ahead.
    _, after, _ = _merged(text, [], tmp_path)
    assert after.settings.systems == ("dealhub", "pipedrive")


@pytest.mark.parametrize(
    "access",
    [
        [],
        [{"app": "future app"}],
        [{"app": "\U0001f600"}],
        [{"app": "sales"}, {"app": "sales", "admin": True}],
    ],
)
def test_access_no_file_can_state_is_noted_not_changed(
    tmp_path: Path, access: list[dict[str, Any]]
) -> None:
    text = "version: 1\nusers:\n  - login: a\n    email: a@x.com\n    name: A\n"
    company = [_pd(1, "a@x.com", access=access)]
    path = tmp_path / "people.yaml"
    path.write_text(text)
    merged = merge_people(text, load_desired([str(path)]), company, file=str(path))
    assert merged.access_notes == ["a@x.com"]
    path.write_text(merged.text)
    planned = _pipedrive_plan(load_desired([str(path)]), company)
    assert planned.changes == [] and [n.field for n in planned.notes] == ["access"]


def test_an_app_the_vendor_added_since_is_merged_as_it_is_with_a_warning(
    tmp_path: Path,
) -> None:
    # SPEC 7, open vendor sets: an app this release does not know is stated, not dropped.
    text = "version: 1\nusers:\n  - login: a\n    email: a@x.com\n    name: A\n"
    company = [_pd(1, "a@x.com", access=[{"app": "orbit"}, {"app": "nova", "admin": True}])]
    path = tmp_path / "people.yaml"
    path.write_text(text)
    merged = merge_people(text, load_desired([str(path)]), company, file=str(path))
    assert merged.access_notes == []
    assert "pipedrive: {access: [{app: nova, admin: true}, {app: orbit}]}" in merged.text
    path.write_text(merged.text)
    state = load_desired([str(path)])
    assert [w.message.split(" is not")[0] for w in state.warnings] == [
        "pipedrive.access.app: Pipedrive access app 'orbit'"
    ]
    planned = _pipedrive_plan(state, company)
    assert planned.changes == [] and planned.notes == []
    assert any("'orbit'" in w.message for w in planned.warnings)


# --- the property ------------------------------------------------------------------

NAMES = st.sampled_from(["Ann", "Bo Li", "yes", "a: b", "Zoë", "x #y", "null", "-d"])


@st.composite
def people_files(draw: st.DrawFn) -> tuple[str, list[dict[str, Any]]]:
    """A people file in one of many layouts, and its people as (login, email, name, active)."""
    out = [draw(st.sampled_from(["", "# people\n", "# a\n\n# b\n"])), "version: 1\n"]
    out.append(draw(st.sampled_from([
        "", "\nsettings:\n  unlisted: ignore   # keep\n", "settings:\n  systems: [dealhub]\n",
        "settings:\n  systems:\n    - dealhub\n  unlisted: deactivate\n",
        "settings: {max_deactivations: 100%}\n", "settings: {systems: [dealhub]}\n",
    ])))  # fmt: skip
    defaults_active = draw(st.booleans())
    defaults_systems = draw(st.booleans())
    if not defaults_active or defaults_systems:
        out.append("defaults:\n  company: Acme\n")
        out.append("" if defaults_active else "  is_active: false\n")
        out.append("  systems: [dealhub]\n" if defaults_systems else "")
    n = draw(st.integers(0, 6))
    dash = draw(st.sampled_from(["  - ", "- "]))
    if n == 0:
        out.append(draw(st.sampled_from(["users: []\n", "", "users: []  # none\n"])))
    else:
        out.append("users:\n")
    pad = " " * len(dash)
    people = []
    for i in range(n):
        login = draw(st.sampled_from([f"u{i}@acme", f"p{i}@ext.com"]))
        email = draw(st.sampled_from([f"p{i}@acme.com", f"P{i}@Acme.com", "p0@acme.com"]))
        name = draw(NAMES)
        active = draw(st.sampled_from([None, True, False]))
        own = draw(st.sampled_from([None, "[dealhub]", "\n" + pad + "  - dealhub"]))
        keys = [f"login: {login}", f"email: {email}", f"name: {json.dumps(name)}"]
        if active is not None:
            keys.append(f"is_active: {str(active).lower()}")
        if own is not None and (draw(st.booleans()) or own.startswith("[")):
            keys.append(f"systems: {own}")
        position = draw(st.sampled_from([None, "VP", "|\n" + pad + "  V\n" + pad + "  P\n"]))
        if position is not None:
            keys.append(f"position: {position}".rstrip("\n"))
        out.append(draw(st.sampled_from(["", "\n", f"{dash[:-2]}  # person {i}\n"])))
        if draw(st.booleans()) and "\n" not in "".join(keys):
            out.append(dash + "{" + ", ".join(keys) + "}\n")
        else:
            comment = draw(st.sampled_from(["", "  # note"]))
            out.append(dash + keys[0] + comment + "\n")
            out.extend(pad + key + "\n" for key in keys[1:])
        people.append({"login": login, "email": email, "name": name,
                       "active": defaults_active if active is None else active,
                       "position": None if position is None else "VP" if position == "VP"
                       else "V\nP\n"})  # fmt: skip
    out.append(draw(st.sampled_from(["", "# end\n", "\n"])))
    return "".join(out), people


def _access(draw: st.DrawFn) -> list[dict[str, Any]]:
    apps = draw(st.lists(st.sampled_from(APPS), min_size=1, max_size=3, unique=True))
    return [{"app": app, "admin": draw(st.booleans()), "permission_set_id": f"set-{app}"}
            for app in apps]  # fmt: skip


@st.composite
def companies(draw: st.DrawFn, emails: list[str]) -> list[dict[str, Any]]:
    """A company whose users are some of `emails` (in any letter case), and others."""
    users: list[dict[str, Any]] = []
    for email in sorted({e.lower() for e in emails}):
        kind = draw(st.sampled_from(["absent", "active", "inactive", "deleted", "deleted+active"]))
        if kind == "absent":
            continue
        shown = draw(st.sampled_from([email, email.upper(), email.capitalize()]))
        if kind.startswith("deleted"):
            users.append(_pd(len(users) + 1, shown, is_deleted=True, access=_access(draw)))
        if kind != "deleted":
            users.append(
                _pd(len(users) + 1, shown, active=kind != "inactive", access=_access(draw),
                    name=draw(NAMES))
            )  # fmt: skip
    for j in range(draw(st.integers(0, 3))):
        email = draw(st.sampled_from([f"x{j}@other.com", f"p{j}@ext.com", f"U{j}@acme"]))
        if email.lower() in {u["email"].lower() for u in users if not u["is_deleted"]}:
            continue
        users.append(_pd(len(users) + 1, email, active=draw(st.booleans()),
                         access=_access(draw), name=draw(NAMES)))  # fmt: skip
    return users


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_merged_plans_are_empty_and_dealhub_is_untouched(
    tmp_path: Path, data: st.DataObject
) -> None:
    text, people = data.draw(people_files())
    path = tmp_path / "people.yaml"
    path.write_text(text, encoding="utf-8")
    state = load_desired([str(path)])
    tenant = [
        _dealhub_user(login, user.fields["email"], user.fields["name"],
                      is_active=user.fields["is_active"], position=user.fields.get("position"))
        for login, user in state.users.items()
    ]  # fmt: skip
    tenant += data.draw(st.lists(st.sampled_from([
        _dealhub_user("extra@acme", "extra@acme.com", "X"),
        _dealhub_user("u1@acme", "u1@acme.com", "Other"),
    ]), unique_by=lambda u: u["login"], max_size=2))  # fmt: skip
    tenant = list({u["login"]: u for u in reversed(tenant)}.values())
    company = data.draw(companies([p["email"] for p in people]))

    merged = merge_people(text, state, company, file=str(path))
    path.write_text(merged.text, encoding="utf-8")
    after = load_desired([str(path)])

    pipedrive = _pipedrive_plan(after, company)
    assert pipedrive.changes == [], [(c.action, c.login) for c in pipedrive.changes]
    assert [n for n in pipedrive.notes if n.field != "name"] == []
    before_dealhub = compute_plan(state, tenant, target="t")
    after_dealhub = compute_plan(after, tenant, target="t")
    assert after_dealhub == before_dealhub
    assert {login: u.fields for login, u in state.users.items()} == {
        login: u.fields for login, u in after.users.items() if login in state.users
    }
    assert_only_insertions(text, merged.text)
