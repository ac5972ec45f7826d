"""Loading the desired state: files and directories in, validated users out.

Every problem found is collected (not only the first) and raised together as
an InputError of `FILE:LINE: message` problems.
"""

from __future__ import annotations

import os
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from reconciler.errors import InputError, Problem, UsageError
from reconciler.providers.dealhub.fields import STRING_FIELDS
from reconciler.schema import (
    defaults_checker,
    document_validator,
    load_schema,
    suggest,
    type_name,
    user_checker,
)
from reconciler.settings import Environment, Settings
from reconciler.textsafe import invisible_chars, printable
from reconciler.yaml_source import Mapping, YamlError, read_yaml, read_yaml_stream
from reconciler.yaml_source import Sequence as YamlSequence

YAML_SUFFIXES = (".yaml", ".yml")
#: How standard input (the input `-`) is named in messages and in DesiredState.files.
STDIN = "<stdin>"


@dataclass(slots=True)
class DesiredUser:
    """One user as the files want it: `fields` are the managed fields (never login)."""

    login: str
    fields: dict[str, Any]
    file: str
    line: int
    key_lines: dict[str, int]
    #: The person's own `systems:` (None: the file's settings.systems).
    systems: tuple[str, ...] | None = None
    #: Per-system blocks after `defaults` (`{"pipedrive": {"access": [...]}}`).
    blocks: dict[str, dict[str, Any]] = field(default_factory=dict)

    def listed_for(self, system: str, default: tuple[str, ...]) -> bool:
        """Whether this person is listed for `system` (their systems, else the file's)."""
        return system in (self.systems if self.systems is not None else default)

    def where(self, name: str | None = None) -> str:
        """`FILE:LINE` of the user, or of one of its fields."""
        line = self.key_lines.get(name, self.line) if name else self.line
        return f"{self.file}:{line}"


@dataclass
class DesiredState:
    users: dict[str, DesiredUser]
    settings: Settings
    files: list[str]
    environment: Environment | None = None
    warnings: list[Problem] = field(default_factory=list)

    @property
    def login_suffix(self) -> str:
        return self.environment.login_suffix if self.environment else ""


def find_files(paths: Iterable[str]) -> tuple[list[str], list[Problem]]:
    """The YAML files named by paths: files as given, directories searched recursively.

    `-` is standard input, listed as STDIN; it may be given once.
    """
    files: list[str] = []
    problems: list[Problem] = []
    for path in paths:
        if path == "-":
            if STDIN in files:
                problems.append(
                    Problem(STDIN, 0, "- (standard input) is given twice; it can be read once")
                )
            else:
                files.append(STDIN)
            continue
        if path == STDIN:
            path = os.path.join(os.curdir, path)  # a file of that name, not standard input
        if os.path.isdir(path):
            found: list[str] = []
            for root, dirs, names in os.walk(path):
                # Hidden directories (.git, .github/workflows/*.yml) hold no users.
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                found.extend(
                    os.path.join(root, name)
                    for name in names
                    if name.endswith(YAML_SUFFIXES) and not name.startswith(".")
                )
            found.sort()
            if not found:
                problems.append(Problem(path, 0, "no *.yaml or *.yml files in this directory"))
            files.extend(found)
        elif os.path.exists(path):
            files.append(path)
        else:
            problems.append(Problem(path, 0, "no such file or directory"))
    seen: set[str] = set()
    unique = []
    for f in files:
        real = f if f == STDIN else os.path.realpath(f)
        if real not in seen:
            seen.add(real)
            unique.append(f)
    return unique, problems


@dataclass
class _Entry:
    raw: Mapping
    file: str
    defaults: Mapping | None
    valid: bool = True

    @property
    def login_line(self) -> int:
        return self.raw.key_lines.get("login", self.raw.line)


_TOP_KEYS = ["version", "settings", "defaults", "users"]


def _line_at(doc: Any, path: Iterable[Any]) -> int:
    """The line of the deepest key or item of `path` found in doc."""
    line = getattr(doc, "line", 1)
    node = doc
    for step in path:
        if isinstance(node, Mapping) and step in node:
            line = node.key_lines.get(step, line)
            node = node[step]
        elif isinstance(node, YamlSequence) and isinstance(step, int) and step < len(node):
            line = node.item_lines[step]
            node = node[step]
        else:
            break
    return line


def _dotted(path: Iterable[Any]) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out


def _schema_problems(file: str, doc: Mapping) -> list[Problem]:
    """jsonschema over everything but the user entries and defaults."""
    light = {k: v for k, v in doc.items() if k not in ("users", "defaults")}
    light["users"] = []
    problems = []
    for error in document_validator().iter_errors(light):
        path = list(error.absolute_path)
        if error.validator == "additionalProperties":
            props = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
            instance = error.instance if isinstance(error.instance, dict) else {}
            for key in instance:
                if key not in props:
                    where = _dotted(path)
                    prefix = f"{where}: " if where else ""
                    problems.append(
                        Problem(
                            file,
                            _line_at(doc, [*path, key]),
                            f"{prefix}unknown key {key!r}{suggest(str(key), list(props))}",
                        )
                    )
            continue
        where = _dotted(path) or "document"
        problems.append(Problem(file, _line_at(doc, path), _schema_message(where, error)))
    return problems


_SCHEMA_TYPES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def _schema_message(where: str, error: jsonschema.ValidationError) -> str:
    if error.validator == "type":
        expected = error.validator_value
        types = expected if isinstance(expected, list) else [expected]
        shown = " or ".join(_SCHEMA_TYPES.get(str(t), str(t)) for t in types)
        return f"{where} must be {shown}, not {type_name(error.instance)}"
    return f"{where}: {_schema_detail(error)}"


def _schema_detail(error: jsonschema.ValidationError) -> str:
    if error.validator == "const" and list(error.absolute_path) == ["version"]:
        return f"unsupported version {error.instance!r}; this reconciler reads version 1"
    if error.validator == "oneOf" and list(error.absolute_path)[-1:] == ["max_deactivations"]:
        return f"{error.instance!r} is not a whole number or a percentage such as 25%"
    if error.validator == "required":
        return error.message.replace("is a required property", "is required")
    return error.message


def _check_entry(
    file: str, entry: Any, line: int, problems: list[Problem], *, is_defaults: bool
) -> bool:
    """Check one user (or the defaults) against the schema; True when it is valid."""
    what = "defaults" if is_defaults else "each user"
    if not isinstance(entry, Mapping):
        problems.append(Problem(file, line, f"{what} must be a mapping of fields"))
        return False
    checker = defaults_checker() if is_defaults else user_checker()
    ok = True
    reported: tuple[str | None, ...] = ()  # errors are rare: no set built per user
    for error in checker.errors(entry):
        ok = False
        reported += (error.field,)
        message = error.message
        # Only a key the defaults do not know but a user does is per user; a
        # defaultable field with a bad value keeps the checker's own message.
        if (
            is_defaults
            and error.field not in checker.checks
            and error.field in user_checker().checks
        ):
            message = f"{error.field} cannot be set in defaults (it is per user)"
        elif not is_defaults and error.field is None and "login" in entry:
            message = f"user {entry['login']!r}: {message}"
        problems.append(Problem(file, _key_line(entry, error.field), message, error.field))
    for name in _NAMING_FIELDS:
        value = entry.get(name)
        # Printable ASCII (nearly every value) cannot hold an invisible character.
        if type(value) is str and not (value.isascii() and value.isprintable()):
            hidden = invisible_chars(value)
            if hidden and name not in reported:
                ok = False
                problems.append(
                    Problem(
                        file, _key_line(entry, name), _invisible_message(name, value, hidden), name
                    )
                )
    return ok


#: Fields that name a person or an account: what they hold must be what one sees.
_NAMING_FIELDS = ("login", "email", "user_manager_login")


def _invisible_message(name: str, value: str, hidden: list[str]) -> str:
    unique = list(dict.fromkeys(hidden))
    what = "an invisible or control character" if len(unique) == 1 else "invisible characters"
    # Hidden in what a reviewer reads, so a value can look like another account's.
    return (
        f"{name} '{printable(value)}' contains {what} ({', '.join(unique)}); "
        f"remove {'it' if len(unique) == 1 else 'them'}"
    )


def _key_line(entry: Mapping, name: str | None) -> int:
    """The line of a key that the checker names as str(key) (`1:` is the key 1)."""
    if name is None:
        return entry.line
    line = entry.key_lines.get(name)
    if line is None:
        line = next((v for k, v in entry.key_lines.items() if str(k) == name), entry.line)
    return line


def _read_file(file: str, problems: list[Problem]) -> tuple[list[_Entry], _Settings | None]:
    try:
        doc = _read_stdin() if file == STDIN else read_yaml(file)
    except YamlError as exc:
        problems.append(exc.problem)
        return [], None
    if doc is None:
        problems.append(Problem(file, 1, "the file is empty; expected version: 1 and users"))
        return [], None
    if not isinstance(doc, Mapping):
        problems.append(
            Problem(
                file, getattr(doc, "line", 1), "the file must be a mapping with version and users"
            )
        )
        return [], None
    problems.extend(_schema_problems(file, doc))

    defaults = doc.get("defaults")
    if "defaults" in doc and not _check_entry(
        file, defaults, doc.key_lines["defaults"], problems, is_defaults=True
    ):
        defaults = None

    entries = []
    users = doc.get("users", YamlSequence(1))
    if not isinstance(users, YamlSequence):
        hint = " (write users: [] for none)" if users is None else ""
        problems.append(Problem(file, doc.key_lines["users"], f"users must be a list{hint}"))
        users = YamlSequence(1)
    for raw, line in zip(users, users.item_lines, strict=True):
        valid = _check_entry(file, raw, line, problems, is_defaults=False)
        if isinstance(raw, Mapping):
            # Kept even when invalid, so that a login listed twice is still reported.
            entries.append(_Entry(raw, file, defaults, valid))
    settings = doc.get("settings")
    found = None
    if isinstance(settings, Mapping):
        valid = document_validator().is_valid({"version": 1, "settings": settings})
        found = _Settings(settings, file, doc.key_lines["settings"], valid)
    return entries, found


def _read_stdin() -> Any:
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        raise YamlError(Problem(STDIN, 0, "cannot read: standard input is not open"))
    return read_yaml_stream(STDIN, stream)


@dataclass
class _Settings:
    raw: Mapping
    file: str
    line: int
    valid: bool


def _make_user(entry: _Entry, suffix: str, problems: list[Problem]) -> DesiredUser:
    raw = entry.raw
    fields: dict[str, Any] = {"is_active": True}
    if entry.defaults:
        fields.update(entry.defaults)
        key_lines: dict[str, int] = {**entry.defaults.key_lines, **raw.key_lines}
    else:
        key_lines = raw.key_lines  # not copied: 100,000 users make it count
    fields.update(raw)
    login: str = fields.pop("login")
    if suffix:
        login += suffix
        if fields.get("user_manager_login"):
            fields["user_manager_login"] += suffix
        for name, value in (
            ("login", login),
            ("user_manager_login", fields.get("user_manager_login")),
        ):
            limit = STRING_FIELDS[name]
            if isinstance(value, str) and limit is not None and len(value) > limit:
                problems.append(
                    Problem(
                        entry.file,
                        key_lines[name],
                        f"{name} {value!r} is {len(value)} characters with the suffix "
                        f"{suffix!r}; the limit is {limit}",
                        name,
                    )
                )
    return DesiredUser(login, fields, entry.file, raw.line, key_lines)


def _look_alike(
    login: str, where: str, listed: dict[str, str], composed: dict[str, tuple[str, str]]
) -> tuple[str, str] | None:
    """An earlier (login, FILE:LINE) equal to `login` after NFC normalization, but not identical.

    `composed` remembers the non-ASCII logins by their NFC form; an ASCII login
    is its own NFC form (and can be one: the Kelvin sign composes to K).
    """
    if login.isascii():
        twin = composed.get(login)
        return twin if twin is not None and twin[0] != login else None
    form = unicodedata.normalize("NFC", login)
    twin = composed.setdefault(form, (login, where))
    if twin[0] != login:
        return twin
    if form != login and form in listed:
        return form, listed[form]
    return None


def _manager_cycles(users: dict[str, DesiredUser]) -> list[list[str]]:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    cycles = []
    for start in users:
        path: list[str] = []
        login: str | None = start
        while login is not None and login in users and state.get(login) is None:
            state[login] = 1
            path.append(login)
            login = users[login].fields.get("user_manager_login")
        if login is not None and state.get(login) == 1:
            cycles.append(path[path.index(login) :])
        for done in path:
            state[done] = 2
    return cycles


def check_semantics(state: DesiredState) -> tuple[list[Problem], list[Problem]]:
    """The checks across users: external ids, protection, managers and their cycles."""
    problems: list[Problem] = []
    warnings: list[Problem] = []
    users = state.users
    suffix = state.login_suffix
    require_external_id = state.settings.require_external_id
    for user in users.values():
        if require_external_id and not user.fields.get("external_user_id"):
            problems.append(
                Problem(
                    user.file,
                    user.line,
                    f"{user.login} has no external_user_id (settings.require_external_id); "
                    "the vendor's v2 schema requires it",
                    "external_user_id",
                )
            )
        if user.fields.get("is_active") is False and state.settings.is_protected(
            user.login, suffix
        ):
            problems.append(
                Problem(
                    user.file,
                    user.key_lines.get("is_active", user.line),
                    f"{user.login} is protected (settings.protect) and cannot be set "
                    "is_active: false",
                    "is_active",
                )
            )
        manager = user.fields.get("user_manager_login")
        if manager and manager not in users:
            warnings.append(
                Problem(
                    user.file,
                    user.key_lines.get("user_manager_login", user.line),
                    f"{user.login}: manager {manager!r} is not in the files "
                    "(plan checks that the tenant has it)",
                    "user_manager_login",
                )
            )
    for cycle in _manager_cycles(users):
        first = users[cycle[0]]
        chain = " -> ".join([*cycle, cycle[0]])
        problems.append(
            Problem(
                first.file,
                first.key_lines.get("user_manager_login", first.line),
                f"managers form a cycle: {chain}",
                "user_manager_login",
            )
        )
    return problems, warnings


def load_desired(paths: Sequence[str], environment: str | None = None) -> DesiredState:
    """Read, validate and merge the desired-state files (`-` is standard input).

    Raises InputError with every problem found, or UsageError for an unknown
    environment name.
    """
    files, problems = find_files(paths)
    entries: list[_Entry] = []
    settings_found: list[_Settings] = []
    for file in files:
        file_entries, found = _read_file(file, problems)
        entries.extend(file_entries)
        if found is not None:
            settings_found.append(found)

    settings = Settings()
    first = settings_found[0] if settings_found else None
    for other in settings_found[1:]:
        assert first is not None
        problems.append(
            Problem(
                other.file,
                other.line,
                f"settings appear in more than one file (also in {first.file}:{first.line}); "
                "keep them in one",
            )
        )
    if first is not None and first.valid and len(settings_found) == 1:
        settings = Settings.from_mapping(first.raw)

    env: Environment | None = None
    if environment is not None:
        env = settings.environments.get(environment)
        if env is None and not problems:
            known = ", ".join(sorted(settings.environments)) or "none are defined"
            raise UsageError(
                f"--env {environment}: no such environment in settings.environments ({known})"
            )
    suffix = env.login_suffix if env else ""

    users: dict[str, DesiredUser] = {}
    listed: dict[str, str] = {}  # login -> FILE:LINE of its first entry
    # NFC form -> (login, FILE:LINE), for the logins written with non-ASCII letters
    composed: dict[str, tuple[str, str]] = {}
    for entry in entries:
        raw_login = entry.raw.get("login")
        if not isinstance(raw_login, str):
            continue  # already reported
        where = f"{entry.file}:{entry.login_line}"
        earlier = listed.setdefault(raw_login, where)
        if earlier != where:
            problems.append(
                Problem(
                    entry.file,
                    entry.login_line,
                    f"login {raw_login!r} is listed twice: here and at {earlier}",
                    "login",
                )
            )
            continue
        if composed or not raw_login.isascii():
            twin = _look_alike(raw_login, where, listed, composed)
            if twin is not None:
                problems.append(
                    Problem(
                        entry.file,
                        entry.login_line,
                        f"logins {raw_login!a} here and {twin[0]!a} at {twin[1]} "
                        "look identical but are different text (Unicode NFC); write both "
                        "the same way",
                        "login",
                    )
                )
                continue
        if entry.valid:
            user = _make_user(entry, suffix, problems)
            users[user.login] = user

    state = DesiredState(users, settings, files, env)
    semantic_problems, warnings = check_semantics(state)
    problems.extend(semantic_problems)
    state.warnings = warnings
    if problems:
        problems.sort(key=lambda p: (files.index(p.file) if p.file in files else -1, p.line))
        raise InputError(problems)
    return state


__all__ = [
    "STDIN",
    "DesiredState",
    "DesiredUser",
    "find_files",
    "load_desired",
    "load_schema",
]
