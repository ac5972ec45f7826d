"""Adopting Pipedrive into a people file: `export --system pipedrive --merge FILE`.

The merge is a text edit of the file, never a rewrite: a team's file carries
comments, an order and a layout that a regenerated file would lose. Lines (or,
in a flow-style `{...}` entry, text) are inserted where a person needs a
`systems:` or `pipedrive:` key, `settings.systems` gains pipedrive, and the
Pipedrive users who match no person are appended. The merged text is loaded
back before it is returned: its DealHub people must be exactly the original's,
and its plan against the company it was merged from must change nothing.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import chain, count
from typing import Any

import yaml

from reconciler.desired import YAML_SUFFIXES, DesiredState, DesiredUser, load_desired
from reconciler.diff import compute_plan, tenant_index
from reconciler.errors import InputError
from reconciler.export import scalar
from reconciler.keys import caseless as look_alike_key
from reconciler.providers import get as get_provider
from reconciler.providers.pipedrive import rules as pipedrive
from reconciler.providers.pipedrive.export import NAME_LIMIT, access_text
from reconciler.schema import user_checker
from reconciler.settings import SYSTEMS
from reconciler.textsafe import invisible_chars, printable
from reconciler.yaml_edit import (
    Edits,
    MergeError,
    Tree,
    add_keys,
    end_line,
    extend_list,
    is_alias,
    key_of,
    split_lines,
)
from reconciler.yaml_source import YamlError, read_yaml

SYSTEM = pipedrive.SYSTEM
_BOOL = "tag:yaml.org,2002:bool"
_MERGE = "tag:yaml.org,2002:merge"


UNMATCHED_COMMENT = (
    "# Added by `reconciler export --system pipedrive --merge`: Pipedrive users who match",
    "# no person above by email. Check each: give it the person's DealHub login, or remove it.",
)
SPLIT_COMMENT = (
    "# Active in Pipedrive, but is_active: false above (same email): listed for Pipedrive",
    "# alone so that the merge changes nothing. Remove it to deactivate them in Pipedrive.",
)


@dataclass
class Merged:
    """The merged text, and what the merge did to whom (for the report on stderr)."""

    text: str
    #: Logins listed for Pipedrive after the merge (matched to an active or inactive user alike).
    listed: list[str] = field(default_factory=list)
    #: Logins with no live Pipedrive user: not listed there, so the plan creates nobody.
    absent: list[str] = field(default_factory=list)
    #: Logins active here whose Pipedrive user is inactive: not listed, so never reactivated.
    inactive_there: list[str] = field(default_factory=list)
    #: Logins whose email is another person's, listed for Pipedrive in their place.
    same_email: list[str] = field(default_factory=list)
    #: Logins whose own `systems:` gained pipedrive (they are active in Pipedrive).
    widened: list[str] = field(default_factory=list)
    #: Emails of the Pipedrive users appended because they match no person.
    unmatched: list[str] = field(default_factory=list)
    #: (login, email): is_active: false here, active in Pipedrive: appended on their own.
    split: list[tuple[str, str]] = field(default_factory=list)
    #: Emails whose Pipedrive access no file can state: the plan shows a note for each.
    access_notes: list[str] = field(default_factory=list)
    #: The notes of the merged file's plan against the company (names, mostly).
    notes: int = 0


def _systems_text(systems: Iterable[str]) -> str:
    chosen = set(systems)
    return "systems: [" + ", ".join(name for name in SYSTEMS if name in chosen) + "]"


# --- what the company holds ---------------------------------------------------------


def _company(company: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The live users (deleted ones count as absent) by key, as the plan compares them."""
    try:
        return tenant_index(get_provider(SYSTEM), company)
    except ValueError as exc:
        raise MergeError(f"the Pipedrive company cannot be merged: {exc}") from None


def _access_block(view: dict[str, Any]) -> tuple[str | None, bool]:
    """The `pipedrive:` key a person needs for their access (None: the default's), and
    whether it states that access exactly (else the plan notes the difference)."""
    current = view["access"]
    if pipedrive.same_access([dict(item) for item in pipedrive.DEFAULT_ACCESS], current):
        return None, True
    wanted = pipedrive.stated_access(current)
    exact = bool(wanted) and pipedrive.same_access(wanted, current)
    if not wanted:
        return None, False
    return access_text(wanted), exact


# --- the merge ------------------------------------------------------------------------


@dataclass
class _Context:
    tree: Tree
    edits: Edits
    state: DesiredState
    merged: Merged
    #: The look-alike keys of every login and manager of the file, and of those added.
    taken: set[str]
    #: is_active of a person who does not set it (the file's defaults may).
    default_active: bool


def check_mergeable(state: DesiredState, file: str) -> None:
    """Refuse a desired state that is not one file, that already manages Pipedrive, or
    that other people files beside it are read with (see people_beside)."""
    if len(state.files) != 1:
        raise MergeError(f"--merge {file}: merge one file, not {len(state.files)}")
    if SYSTEM in state.settings.systems:
        raise MergeError(
            f"{state.files[0]} already manages Pipedrive (settings.systems: "
            f"{', '.join(state.settings.systems)}): plan it against the company instead "
            "(--merge adopts Pipedrive into a file that does not)"
        )
    settings, people = people_beside(file)
    folder = printable(os.path.dirname(file) or os.curdir)
    shown = printable(file)
    if settings:
        # The README's layout: settings.yaml beside users.yaml. The merge must add
        # pipedrive to settings.systems, which only the file holding them can say.
        raise MergeError(
            f"--merge {shown}: the settings of the people files in {folder} are in "
            f"{printable(settings[0])}, and --merge edits one file (`validate {folder}` would "
            f"then find two settings blocks). Move that settings block into {shown}, merge, "
            "then move it back if you like; nothing was written"
        )
    if people:
        names = ", ".join(printable(name) for name in people[:SHOWN])
        raise MergeError(
            f"--merge {shown}: {folder} also lists people in {names}, which --merge does not "
            f"edit: after it, `validate {folder}` and its plan would list them for Pipedrive "
            "unmatched. Combine the people files into one, merge it, then split it again; "
            "nothing was written"
        )


def people_beside(file: str) -> tuple[list[str], list[str]]:
    """The other people files in `file`'s folder, read with it by `validate FOLDER`:
    (those carrying settings, those listing people).

    A YAML file with neither (a CI config, an empty `version: 1`) is not one of
    them, nor one that cannot be read (validating the folder reports it).
    """
    folder = os.path.dirname(file) or os.curdir
    here = os.path.realpath(file)
    settings: list[str] = []
    people: list[str] = []
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return [], []
    for name in names:
        path = os.path.join(folder, name)
        if name.startswith(".") or not name.endswith(YAML_SUFFIXES) or not os.path.isfile(path):
            continue
        if os.path.realpath(path) == here:
            continue
        try:
            doc = read_yaml(path)
        except YamlError:
            continue
        if not isinstance(doc, dict):
            continue
        if "settings" in doc:
            settings.append(path)
        elif isinstance(doc.get("users"), list) and doc["users"]:
            people.append(path)
    return settings, people


def merge_people(
    text: str, state: DesiredState, company: list[dict[str, Any]], *, file: str
) -> Merged:
    """Merge a Pipedrive company into the people file `file` (its `text`, loaded as `state`).

    Raises MergeError when the file cannot be edited safely, a Pipedrive user
    cannot be written in it, or the merged file would not plan to no change.
    """
    check_mergeable(state, file)
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    body = text[len(bom) :]
    lines = split_lines(body)
    tree = Tree(body, lines, file)
    root = tree.root
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    context = _Context(tree, Edits(), state, Merged(""), _taken(state), _default_active(tree, body))
    entries = _entries(tree, root, state)
    views = _company(company)
    appended = _people(context, entries, views)
    _settings(context, root)
    _append(context, root, appended, len(lines))
    merged = context.merged
    merged.text = bom + context.edits.apply(lines, newline)
    _verify(merged, state, company, file)
    return merged


def _taken(state: DesiredState) -> set[str]:
    taken = {look_alike_key(login) for login in state.users}
    for user in state.users.values():
        manager = user.fields.get("user_manager_login")
        if isinstance(manager, str):
            taken.add(look_alike_key(manager))
    return taken


def _default_active(tree: Tree, text: str) -> bool:
    """The is_active of a person who does not set it: the defaults' (true unless they say)."""
    found = key_of(tree.root, "defaults")
    if found is None or not isinstance(found[1], yaml.MappingNode):
        return True
    if any(key.tag == _MERGE for key, _ in found[1].value):
        # `<<: *base` may bring is_active: only the loader's own reading says.
        doc = read_yaml(tree.file, text)
        return doc["defaults"].get("is_active") is not False
    own = key_of(found[1], "is_active")
    if own is None or own[1].tag != _BOOL:
        return True
    return yaml.constructor.SafeConstructor.bool_values.get(own[1].value.lower()) is not False


def _entries(
    tree: Tree, root: yaml.MappingNode, state: DesiredState
) -> list[tuple[DesiredUser, yaml.MappingNode]]:
    """Each person with their entry's node: the loader kept every entry, in file order."""
    found = key_of(root, "users")
    nodes = found[1].value if found and isinstance(found[1], yaml.SequenceNode) else []
    users = list(state.users.values())
    if len(nodes) != len(users):
        raise MergeError(f"{tree.file} changed while it was read; nothing was written")
    for user, node in zip(users, nodes, strict=True):
        if not isinstance(node, yaml.MappingNode) or node.start_mark.line + 1 != user.line:
            raise MergeError(f"{tree.file} changed while it was read; nothing was written")
    return list(zip(users, nodes, strict=True))


def _active(user: DesiredUser) -> bool:
    return user.fields.get("is_active") is not False


def _people(
    context: _Context,
    entries: list[tuple[DesiredUser, yaml.MappingNode]],
    views: dict[str, dict[str, Any]],
) -> list[tuple[dict[str, Any], str]]:
    """Decide each person's listing and edit their entry; return the users to append
    (view, why: "unmatched" or "split")."""
    groups: dict[str, list[tuple[DesiredUser, yaml.MappingNode]]] = {}
    for user, node in entries:
        groups.setdefault(pipedrive.key_fold(user.fields["email"]), []).append((user, node))
    merged = context.merged
    appended: list[tuple[dict[str, Any], str]] = []
    for key, group in groups.items():
        view = views.get(key)
        # The person whose active state is the Pipedrive user's is listed there: the
        # plan then leaves the user as is. Pipedrive keys users by email: one person.
        chosen = None
        if view is not None:
            chosen = next((p for p in group if _active(p[0]) == view["is_active"]), None)
        for user, node in group:
            if chosen is not None and user is chosen[0]:
                assert view is not None
                _list_person(context, user, node, view)
                continue
            _unlist_person(context, user, node)
            if view is None:
                merged.absent.append(user.login)
            elif chosen is not None:
                merged.same_email.append(user.login)
            elif view["is_active"]:
                merged.split.append((user.login, view["email"]))
            else:
                merged.inactive_there.append(user.login)
        if view is not None and chosen is None and view["is_active"]:
            appended.append((view, "split"))
    for key, view in sorted(views.items()):
        if key not in groups:
            appended.append((view, "unmatched"))
            merged.unmatched.append(view["email"])
    return appended


def _systems_after(context: _Context, user: DesiredUser) -> tuple[str, ...]:
    """The systems a person would be listed for after the merge, were nothing added to them."""
    if user.systems is not None:
        return user.systems
    return (*context.state.settings.systems, SYSTEM)


def _list_person(
    context: _Context, user: DesiredUser, node: yaml.MappingNode, view: dict[str, Any]
) -> None:
    keys = []
    own = key_of(node, "systems")
    if own is not None:
        if SYSTEM not in (user.systems or ()):
            extend_list(context.tree, context.edits, own[0], own[1], SYSTEM)
            context.merged.widened.append(user.login)
    elif SYSTEM not in _systems_after(context, user):
        keys.append(_systems_text((*(user.systems or ()), SYSTEM)))
    access, exact = _access_block(view)
    if access is not None:
        keys.append(access)
    if not exact:
        context.merged.access_notes.append(view["email"])
    if keys:
        add_keys(context.tree, context.edits, node, keys)
    context.merged.listed.append(user.login)


def _unlist_person(context: _Context, user: DesiredUser, node: yaml.MappingNode) -> None:
    after = _systems_after(context, user)
    if SYSTEM in after:
        # Listed through settings.systems, which gains pipedrive: a list of their own
        # keeps them out.
        add_keys(
            context.tree,
            context.edits,
            node,
            [_systems_text(name for name in after if name != SYSTEM)],
        )


def _settings(context: _Context, root: yaml.MappingNode) -> None:
    """settings.systems gains pipedrive: in its list, as a new key, or in a new block."""
    tree, edits = context.tree, context.edits
    wanted = _systems_text((*context.state.settings.systems, SYSTEM))
    found = key_of(root, "settings")
    if found is not None:
        key, settings = found
        if not isinstance(settings, yaml.MappingNode) or is_alias(key, settings):
            raise tree.refuse(key, "settings is not a mapping written here")
        systems = key_of(settings, "systems")
        if systems is not None:
            extend_list(tree, edits, systems[0], systems[1], SYSTEM)
        elif settings.flow_style:
            add_keys(tree, edits, settings, [wanted])
        else:
            tree.own(settings, "settings")
            indent = " " * settings.start_mark.column
            edits.add_lines(key.end_mark.line, [indent + wanted])
        return
    indent = " " * root.start_mark.column
    version = key_of(root, "version")
    after = end_line(tree, version[1]) if version else root.start_mark.line - 1
    edits.add_lines(after, [f"{indent}settings:", f"{indent}  {wanted}"])


def _append(
    context: _Context, root: yaml.MappingNode, appended: list[tuple[dict[str, Any], str]], end: int
) -> None:
    """Append the Pipedrive users who are no person here, each group under its comment."""
    if not appended:
        return
    entries = [(why, _entry_keys(context, view)) for view, why in appended]
    tree, edits = context.tree, context.edits
    found = key_of(root, "users")
    if found is not None and isinstance(found[1], yaml.SequenceNode) and found[1].flow_style:
        seq = found[1]
        tree.own(seq, "the users list")
        texts = ["{" + ", ".join(keys) + "}" for _, keys in entries]
        if seq.value:
            last = seq.value[-1]
            edits.add_text(last.end_mark.line, last.end_mark.column, ", " + ", ".join(texts))
        else:
            edits.add_text(seq.start_mark.line, seq.start_mark.column + 1, ", ".join(texts))
        return
    if found is None:
        # No users key: the file lists no one yet.
        dash = " " * (root.start_mark.column + 2)
        edits.add_lines(end - 1, [" " * root.start_mark.column + "users:"])
        after = end - 1
    else:
        if not isinstance(found[1], yaml.SequenceNode):
            raise tree.refuse(found[0], "users is not a list")
        tree.own(found[1], "the users list")
        dash = " " * found[1].start_mark.column
        after = end_line(tree, found[1])
    lines: list[str] = []
    for why, comment in (("unmatched", UNMATCHED_COMMENT), ("split", SPLIT_COMMENT)):
        group = [keys for reason, keys in entries if reason == why]
        if group:
            lines += [dash + text for text in comment]
        for keys in group:
            lines += [dash + "- " + keys[0]] + [dash + "  " + text for text in keys[1:]]
    edits.add_lines(after, lines)


def _entry_keys(context: _Context, view: dict[str, Any]) -> list[str]:
    """The `key: value` texts of a person for a Pipedrive user, listed for Pipedrive alone."""
    email: str = view["email"]
    problem = user_checker().checks["email"](email)
    if problem is None and invisible_chars(email):
        problem = f"email {email!r} holds invisible characters"
    if problem is not None:
        raise MergeError(
            f"Pipedrive user {view['id']} cannot be written in a people file: {problem}"
        )
    name = view["name"] or email
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from the server's JSON: no file can hold it
        name = email
    keys = [
        f"login: {scalar(_free_login(context, email, view['id']))}",
        f"email: {scalar(email)}",
        f"name: {scalar(name[:NAME_LIMIT])}",
        _systems_text([SYSTEM]),
    ]
    if view["is_active"] != context.default_active:
        keys.append(f"is_active: {scalar(view['is_active'])}")
    access, exact = _access_block(view)
    if access is not None:
        keys.append(access)
    if not exact:
        context.merged.access_notes.append(email)
    return keys


def _free_login(context: _Context, email: str, user_id: int) -> str:
    """A login for an added person: their email, unless a login or manager of the file
    looks like it (or it cannot be a login); then `pipedrive-ID`."""
    check = user_checker().checks["login"]
    numbered = (f"pipedrive-{user_id}-{n}" for n in count(2))
    for candidate in chain((email, f"pipedrive-{user_id}"), numbered):
        key = look_alike_key(candidate)
        if key in context.taken or check(candidate) is not None or invisible_chars(candidate):
            continue
        context.taken.add(key)
        return candidate
    raise AssertionError("unreachable: count() never ends")  # pragma: no cover


# --- the check of the result -----------------------------------------------------------


def _verify(merged: Merged, state: DesiredState, company: list[dict[str, Any]], file: str) -> None:
    """Load the merged text back: the same DealHub people and settings, and a plan
    against the company that changes nothing (MergeError otherwise)."""
    after, path = _load_text(merged.text, file)
    dealhub = get_provider("dealhub")
    before_people = {login: user.fields for login, user in dealhub.project(state).items()}
    after_people = {login: user.fields for login, user in dealhub.project(after).items()}
    same_settings = dataclasses.replace(after.settings, systems=state.settings.systems)
    if before_people != after_people or same_settings != state.settings:
        raise MergeError(
            f"the merge would change {file}'s DealHub people or settings (did the file change "
            "while it was read?); nothing was written"
        )
    try:
        plan = compute_plan(after, company, target="merge", provider=get_provider(SYSTEM))
    except InputError as exc:
        raise _invalid(exc, file, path) from None
    noted = set(merged.access_notes)
    unexpected = [f"{change.action} {change.key}" for change in plan.changes] + [
        f"access note for {note.key}"
        for note in plan.notes
        if note.field == "access" and note.key not in noted
    ]
    if unexpected:
        raise MergeError(
            "the merged file would not plan to no change against the company (a bug in "
            "reconciler: please report it); nothing was written",
            unexpected,
        )
    merged.notes = len(plan.notes)


#: How many logins or emails a report line names before it says "and N more".
SHOWN = 10


def _names(items: list[str]) -> str:
    shown = ", ".join(printable(item) for item in items[:SHOWN])
    more = len(items) - SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def report_lines(merged: Merged, file: str) -> list[str]:
    """What the merge did, for stderr: one line per kind of person it treated apart."""
    shown = printable(file)
    listed = len(merged.listed) + len(merged.unmatched) + len(merged.split)
    lines = [
        f"Merged: {_count(listed, 'person', 'people')} listed for Pipedrive "
        f"({len(merged.listed)} matched by email)."
    ]
    # (who, what one of them is, what several are, what the merge did)
    groups = [
        (merged.unmatched, f"Pipedrive user matches no person in {shown}",
         f"Pipedrive users match no person in {shown}",
         "added with systems: [pipedrive]; give each the person's DealHub login or remove them"),
        ([f"{login} ({email})" for login, email in merged.split],
         "person is is_active: false here but active in Pipedrive",
         "people are is_active: false here but active in Pipedrive",
         "their Pipedrive user is added on its own with systems: [pipedrive]; remove it to "
         "deactivate them there"),
        (merged.absent, "person has no Pipedrive user", "people have no Pipedrive user",
         "given systems without pipedrive, so the plan does not create them"),
        (merged.inactive_there, "person is inactive in Pipedrive",
         "people are inactive in Pipedrive",
         "given systems without pipedrive, so the plan does not reactivate them"),
        (merged.same_email, "person shares their email with another listed for Pipedrive",
         "people share their email with another listed for Pipedrive",
         "given systems without pipedrive: Pipedrive keys users by email"),
        (merged.widened, "person had systems of their own and is in Pipedrive",
         "people had systems of their own and are in Pipedrive",
         "pipedrive added to their systems"),
        (merged.access_notes, "Pipedrive user has access no people file can state",
         "Pipedrive users have access no people file can state", "the plan shows it as a note"),
    ]  # fmt: skip
    for items, one, several, done in groups:
        if items:
            what = one if len(items) == 1 else several
            lines.append(f"{len(items)} {what}: {_names(items)} ({done}).")
    if not listed:
        lines.append(
            "No one is listed for Pipedrive: its plan stops on the empty-desired-state guard."
        )
    notes = ""
    if merged.notes:
        notes = f" ({_count(merged.notes, 'note', 'notes')}: what Pipedrive's API cannot change)"
    lines.append(f"Its plan against this company shows no changes{notes}.")
    return lines


def _count(n: int, one: str, several: str) -> str:
    return f"{n} {one if n == 1 else several}"


def _load_text(text: str, file: str) -> tuple[DesiredState, str]:
    """The desired state of `text`, loaded from a private copy named as `file` is."""
    with tempfile.TemporaryDirectory(prefix="reconciler-merge-") as folder:
        path = os.path.join(folder, os.path.basename(file) or "people.yaml")
        with open(path, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        try:
            state = load_desired([path])
        except InputError as exc:
            raise _invalid(exc, file, path) from None
    return state, path


def _invalid(error: InputError, file: str, path: str) -> MergeError:
    # The problems name the private copy: show them as the merged file's.
    shown = f"{file} (merged)"
    details = [
        str(dataclasses.replace(p, file=shown, message=p.message.replace(path, shown)))
        for p in error.problems
    ]
    return MergeError("the merged file would not be valid; nothing was written", details)
