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
from functools import cache, cached_property, partial
from typing import Any

from reconciler import providers
from reconciler.errors import InputError, Problem, UsageError
from reconciler.keys import (
    look_alike_message,
    look_alikes,
    protect_look_alike_message,
    protect_look_alikes,
)
from reconciler.providers.base import BlockCheck, PersonCheck, new_open_values
from reconciler.providers.hooks import beside
from reconciler.schema import (
    defaults_checker,
    document_validator,
    explain,
    load_schema,
    user_checker,
)
from reconciler.settings import Environment, Settings, SystemSettings
from reconciler.textsafe import invisible_chars, printable
from reconciler.yaml_source import Mapping, YamlError, paused_gc, read_yaml, read_yaml_stream
from reconciler.yaml_source import Sequence as YamlSequence

YAML_SUFFIXES = (".yaml", ".yml")
#: How standard input (the input `-`) is named in messages and in DesiredState.files.
STDIN = "<stdin>"


def block_systems() -> tuple[str, ...]:
    """The systems a person may have a block of their own for (`NAME: {...}`):
    every registered one but the default, whose fields are the person's own keys."""
    return tuple(name for name in providers.names() if name != providers.DEFAULT)


def person_system_keys() -> tuple[str, ...]:
    """The keys of a person (and of `defaults`) that are not the default system's fields."""
    return ("systems", *block_systems())


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
    #: Per-system blocks after `defaults` (`{NAME: {...}}`): the dicts and lists read,
    #: shared with other users of the same defaults (do not change them).
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

    def listed(self, system: str) -> list[DesiredUser]:
        """The people listed for `system` (their `systems`, else settings.systems)."""
        default = self.settings.systems
        return [user for user in self.users.values() if user.listed_for(system, default)]


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
class _Defaults:
    """A file's valid `defaults`, split once: the default system's fields, and the
    systems keys."""

    raw: Mapping
    file: str
    fields: dict[str, Any]
    #: The raw key lines, plus a block's (`NAME.KEY`).
    key_lines: dict[Any, int]
    systems: tuple[str, ...] | None
    blocks: dict[str, dict[str, Any]]


@dataclass
class _Entry:
    raw: Mapping
    file: str
    defaults: _Defaults | None
    valid: bool = True

    @property
    def login_line(self) -> int:
        return self.raw.key_lines.get("login", self.raw.line)


_TOP_KEYS = ["version", "settings", "defaults", "users"]


def _line_at(doc: Any, path: Iterable[Any], line: int | None = None) -> int:
    """The line of the deepest key or item of `path` found in doc (else `line`, else doc's)."""
    if line is None:
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


def _schema_problems(file: str, doc: Mapping) -> list[Problem]:
    """jsonschema over everything but the user entries and defaults."""
    light = {k: v for k, v in doc.items() if k not in ("users", "defaults")}
    light["users"] = []
    return [
        Problem(file, _line_at(doc, path), message)
        for error in document_validator().iter_errors(light)
        for path, message in explain(error)
    ]


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
        if is_defaults and error.field not in checker.known and error.field in user_checker().known:
            message = f"{error.field} cannot be set in defaults (it is per user)"
        elif not is_defaults and error.field is None and "login" in entry:
            message = f"user {entry['login']!r}: {message}"
        line = _key_line(entry, error.field)
        if error.path and error.field is not None:
            line = _line_at(entry[error.field], error.path, line)
        problems.append(Problem(file, line, message, error.field))
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


@dataclass
class _FileRead:
    entries: list[_Entry] = field(default_factory=list)
    settings: _Settings | None = None
    defaults: _Defaults | None = None


def _read_file(file: str, problems: list[Problem]) -> _FileRead:
    try:
        doc = _read_stdin() if file == STDIN else read_yaml(file)
    except YamlError as exc:
        problems.append(exc.problem)
        return _FileRead()
    if doc is None:
        problems.append(Problem(file, 1, "the file is empty; expected version: 1 and users"))
        return _FileRead()
    if not isinstance(doc, Mapping):
        problems.append(
            Problem(
                file, getattr(doc, "line", 1), "the file must be a mapping with version and users"
            )
        )
        return _FileRead()
    problems.extend(_schema_problems(file, doc))

    defaults = None
    raw_defaults = doc.get("defaults")
    if "defaults" in doc:
        valid = _check_entry(
            file, raw_defaults, doc.key_lines["defaults"], problems, is_defaults=True
        )
        if valid and isinstance(raw_defaults, Mapping):
            defaults = _split_defaults(file, raw_defaults, problems)

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
    return _FileRead(entries, found, defaults)


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


def _make_user(entry: _Entry, suffix: str, people: _People) -> DesiredUser:
    raw = entry.raw
    problems = people.problems
    fields: dict[str, Any] = {"is_active": True}
    defaults = entry.defaults
    systems = None
    blocks: dict[str, dict[str, Any]] = {}
    if defaults is not None:
        fields.update(defaults.fields)
        key_lines: dict[str, int] = {**defaults.key_lines, **raw.key_lines}
        systems = defaults.systems
        if defaults.blocks:
            blocks = dict(defaults.blocks)
    else:
        key_lines = raw.key_lines  # not copied: 100,000 users make it count
    fields.update(raw)
    for key in people.keys:  # a loop of two or three: no set built per user
        if key in fields:
            break
    else:
        key = ""
    if key:
        for key in people.keys:
            fields.pop(key, None)
        if "systems" in raw:
            systems = tuple(raw["systems"])
        own = [name for name in people.keys[1:] if name in raw]
        if own:
            if key_lines is raw.key_lines:
                key_lines = dict(key_lines)
            for name in own:
                block = raw[name]
                key_lines.update(_block_lines(name, block))
                blocks[name] = {**blocks.get(name, {}), **block}
                problems.extend(_block_problems(entry.file, name, block))
        people.check(entry.file, raw, systems)
    login: str = fields.pop("login")
    if suffix:
        login += suffix
        if fields.get("user_manager_login"):
            fields["user_manager_login"] += suffix
        for name, value in (
            ("login", login),
            ("user_manager_login", fields.get("user_manager_login")),
        ):
            limit = people.limits.get(name)
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
    return DesiredUser(login, fields, entry.file, raw.line, key_lines, systems, blocks)


# --- people and their systems ---------------------------------------------------


def _block_lines(system: str, block: Mapping) -> dict[str, int]:
    """The lines of a block's keys, as key_lines names them (`NAME.KEY`)."""
    return {f"{system}.{key}": line for key, line in block.key_lines.items()}


def _block_problems(file: str, system: str, block: Mapping) -> list[Problem]:
    """What the schema cannot say of a valid block: the system's own `block_problems`."""
    check = _block_check(system, providers.REGISTRY.generation)
    return check(file, block) if check is not None else []


@cache
def _block_check(system: str, generation: int) -> BlockCheck | None:
    """A system's check of a person's block: `block_problems` in its `people` module
    (hooks.beside), looked up once per registry (`generation`)."""
    return getattr(beside(providers.get(system), "people"), "block_problems", None)


def _shown_systems(settings: Settings, found: _Settings | None) -> str:
    default = "" if found is not None and "systems" in found.raw else ", the default"
    return f"settings.systems: {', '.join(settings.systems)}{default}"


def _settings_blocks(found: _Settings, settings: Settings) -> list[Problem]:
    """A settings block of a system that settings.systems does not manage."""
    shown = _shown_systems(settings, found)
    return [
        Problem(
            found.file,
            found.raw.key_lines[name],
            f"settings.{name}: {name} is not managed by this file ({shown}); "
            "add it to settings.systems or remove this block",
            name,
        )
        for name in providers.names()
        if name in found.raw and name not in settings.systems
    ]


def _target_problems(found: _Settings, settings: Settings) -> list[Problem]:
    """Each environment's target that plan would refuse, at its line: the same rule
    (targets.system_target), so validate and the pre-commit hook refuse what CI would."""
    if not settings.environments:
        return []  # and the URL rules (with the HTTP client) need not be imported
    from reconciler.targets import BARE, system_target

    problems = []
    for name, env in settings.environments.items():
        for system in providers.REGISTRY:
            if env.target(system) is None:
                continue
            path = ["environments", name, *(() if system == BARE else (system,)), "api_url"]
            try:
                system_target(providers.get(system), env, None)
            except UsageError as exc:
                problems.append(Problem(found.file, _line_at(found.raw, path), str(exc), "api_url"))
    return problems


def _split_defaults(file: str, raw: Mapping, problems: list[Problem]) -> _Defaults:
    keys = person_system_keys()
    fields = {key: value for key, value in raw.items() if key not in keys}
    key_lines: dict[Any, int] = dict(raw.key_lines)
    blocks: dict[str, dict[str, Any]] = {}
    for name in keys[1:]:
        block = raw.get(name)
        if isinstance(block, Mapping):
            blocks[name] = dict(block)
            key_lines.update(_block_lines(name, block))
            problems.extend(_block_problems(file, name, block))
    systems = tuple(raw["systems"]) if "systems" in raw else None
    return _Defaults(raw, file, fields, key_lines, systems, blocks)


@dataclass
class _People:
    """The checks of a person's systems against settings.systems, and their findings."""

    #: settings.systems, or None when the settings could not be read (nothing to check against).
    managed: frozenset[str] | None
    #: How messages show settings.systems (`settings.systems: NAME, the default`).
    shown: str = ""
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    #: person_system_keys(), derived once per load: `systems`, then each system's block.
    keys: tuple[str, ...] = field(default_factory=person_system_keys)

    @cached_property
    def limits(self) -> dict[str, int | None]:
        """The longest value of each of a person's own fields (the default system's
        schema), checked again once an environment's login suffix is added."""
        schema = providers.get(providers.DEFAULT).capabilities.people_schema
        fields = schema.fields if schema is not None else {}
        return {name: spec.get("maxLength") for name, spec in fields.items()}

    def check(self, file: str, raw: Mapping, listed: tuple[str, ...] | None) -> None:
        """The `systems` and blocks of one person (`listed`: their systems) or of defaults."""
        managed, shown = self.managed, self.shown
        if managed is None:
            return
        systems = raw.get("systems")
        if isinstance(systems, YamlSequence) and not managed.issuperset(systems):
            for name, line in zip(systems, systems.item_lines, strict=True):
                if name not in managed:
                    self.problems.append(
                        Problem(
                            file,
                            line,
                            f"systems: {name!r} is not managed by this file ({shown})",
                            "systems",
                        )
                    )
        for name in self.keys[1:]:
            if name not in raw:
                continue
            line = raw.key_lines[name]
            if name not in managed:
                self.problems.append(
                    Problem(
                        file,
                        line,
                        f"{name}: {name} is not managed by this file ({shown}); "
                        "add it to settings.systems or remove this block",
                        name,
                    )
                )
            elif listed is not None and name not in listed:
                self.warnings.append(
                    Problem(
                        file,
                        line,
                        f"{name}: this block has no effect: the person is not listed for "
                        f"{name} (systems: {', '.join(listed)})",
                        name,
                    )
                )


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
    """The checks across users: each system's checks of the people listed for it
    (person_checks), managers and their cycles."""
    problems: list[Problem] = []
    warnings: list[Problem] = []
    users = state.users
    systems = state.settings.systems
    checks = person_checks(state)
    for user in users.values():
        for name, check in checks:
            if user.listed_for(name, systems):
                check(user, problems)
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
    warnings.extend(open_set_warnings(state))
    warnings.extend(look_alike_warnings(state))
    return problems, warnings


def protected_problem(
    user: DesiredUser, key: str, settings: SystemSettings, system: str, suffix: str = ""
) -> Problem | None:
    """The protect rule, for every system: a protected key (`suffix`: the environment's,
    for keys it is added to) is never deactivated, so the files cannot set it
    `is_active: false`. None when the person is not such a key."""
    if user.fields.get("is_active") is not False or not settings.is_protected(key, suffix):
        return None
    if system == providers.DEFAULT:  # the shared `protect` names its keys
        where = "(settings.protect)"
    else:
        where = f"in {providers.title(system)} (settings.{system}.protect)"
    return Problem(
        user.file,
        user.key_lines.get("is_active", user.line),
        f"{key} is protected {where} and cannot be set is_active: false",
        "is_active",
    )


def person_checks(state: DesiredState) -> list[tuple[str, PersonCheck]]:
    """Each system's checks of the people listed for it, made for this load.

    A system brings them as `person_check(state)` in its `people` module
    (hooks.beside: a system without one checks nobody here). Every system a
    person is listed for is checked, the file's own or not (that a person names a
    system the file does not manage is a problem of its own): every problem is
    found in one run. The default system's run last, so that two problems on one
    line keep their order.
    """
    named = set(state.settings.systems)
    for user in state.users.values():
        named.update(user.systems or ())
    managed = [name for name in providers.names() if name in named]
    checks: list[tuple[str, PersonCheck]] = []
    for name in sorted(managed, key=lambda name: name == providers.DEFAULT):
        make = getattr(beside(providers.get(name), "people"), "person_check", None)
        check = make(state) if make is not None else None
        if check is not None:
            checks.append((name, check))
    return checks


def look_alike_warnings(state: DesiredState) -> list[Problem]:
    """Keys of one system a reviewer may take for another's, or for a protected one
    (UTS #39 skeletons, keys.look_alikes): a warning, never an error."""
    found: list[Problem] = []
    suffix = state.login_suffix
    for name in state.settings.systems:
        provider = providers.get(name)
        title = provider.capabilities.title
        records = provider.project(state)
        settings = state.settings.for_system(name)
        for key, other in look_alikes(records):
            record = records[key]
            where = f" (at {records[other].where('login')})"
            message = look_alike_message(title, key, other, where)
            found.append(Problem(record.file, record.key_lines["login"], message, "login"))

        for key, glob in protect_look_alikes(
            records, settings.protect, partial(settings.is_protected, suffix=suffix)
        ):
            record = records[key]
            message = protect_look_alike_message(title, key, glob)
            found.append(Problem(record.file, record.key_lines["login"], message, "login"))
    return found


def open_set_warnings(state: DesiredState) -> list[Problem]:
    """A value of a system's open set (an app a vendor added) that this release does not
    know: accepted, with one warning at its first place (SPEC section 7)."""
    found: list[Problem] = []
    for name in block_systems():
        if name not in state.settings.systems:
            continue
        caps = providers.get(name).capabilities
        listed = state.listed(name)
        people = ((user.login, user.blocks.get(name)) for user in listed)
        by_login = {user.login: user for user in listed}
        for values, value, who in new_open_values(caps, people):
            first = by_login[who[0]]
            path = next(p for p, v in caps.open_sets.items() if v is values)
            line = first.key_lines.get(f"{name}.{path.split('.')[0]}", first.line)
            message = f"{name}.{path}: " + values.new_value_warning(value, len(who))
            found.append(Problem(first.file, line, message, name))
    return found


def load_desired(paths: Sequence[str], environment: str | None = None) -> DesiredState:
    """Read, validate and merge the desired-state files (`-` is standard input).

    Raises InputError with every problem found, or UsageError for an unknown
    environment name.
    """
    # As while reading: every container built here survives the call, so the
    # collector's passes over the files' data (a few per 10,000 users) are wasted.
    with paused_gc():
        return _load_desired(paths, environment)


def _load_desired(paths: Sequence[str], environment: str | None) -> DesiredState:
    files, problems = find_files(paths)
    entries: list[_Entry] = []
    settings_found: list[_Settings] = []
    all_defaults: list[_Defaults] = []
    for file in files:
        read = _read_file(file, problems)
        entries.extend(read.entries)
        if read.settings is not None:
            settings_found.append(read.settings)
        if read.defaults is not None:
            all_defaults.append(read.defaults)

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
    people = _People(
        None if settings_found else frozenset(settings.systems), _shown_systems(settings, None)
    )
    if first is not None and first.valid and len(settings_found) == 1:
        settings = Settings.from_mapping(first.raw)
        people = _People(frozenset(settings.systems), _shown_systems(settings, first))
        problems.extend(_settings_blocks(first, settings))
        problems.extend(_target_problems(first, settings))
    for defaults in all_defaults:
        people.check(defaults.file, defaults.raw, None)

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
            user = _make_user(entry, suffix, people)
            users[user.login] = user
    problems.extend(people.problems)

    state = DesiredState(users, settings, files, env)
    semantic_problems, warnings = check_semantics(state)
    problems.extend(semantic_problems)
    state.warnings = sorted(people.warnings + warnings, key=lambda p: (files.index(p.file), p.line))
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
