"""Saved plans: untrusted input, sealed, bound to the files, and applied user by user.

A saved plan travels as a CI artifact from the pull-request run to the merge
run, so anyone who can touch the artifact can edit it. `apply --plan` therefore
never sends anything taken from the file: it plans the files afresh against
the live system and writes, user by user, only the changes that the saved plan
and the fresh plan hold identically (the same action, fields, `before` values
and payload). Every other change of the fresh plan is *held*: not written, and
reported with why. What is written is always the fresh plan's payload.

Refused whole, with no write, so a reader knows what happened:

- the plan was altered: it contradicts itself (a payload that does not follow
  from `before` and `fields`, an `is_active` change hidden in an update), or
  its seal does not match its content. The seal is an HMAC keyed by the
  system's API token: someone who can edit the artifact but does not hold the
  token cannot add a change to what was reviewed;
- the plan was made for another target, environment, login suffix or set of
  systems (checked before the token is sent anywhere).

Held, not refused: a change nobody reviewed (a leaver deactivated by hand
whom the files still list as active), a user that changed since the plan, the
changes of files merged after the plan was made.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from typing import Any

from reconciler import __version__, providers
from reconciler.desired import DesiredState
from reconciler.diff import as_compared
from reconciler.errors import StalePlanError, UsageError
from reconciler.files import read_regular_file
from reconciler.model import Change, Held, Plan
from reconciler.plan import (
    FORMAT_VERSION,
    from_json_data,
    json_text,
    multi_plan_parts,
    to_json_data,
)
from reconciler.providers.base import Provider

#: How many differing users a refusal names before it says "and N more".
MAX_SHOWN = 20

ALTERED = "the saved plan was altered"
MISMATCH = "the saved plan does not match a fresh plan of the files"


def desired_digest(desired: DesiredState) -> str:
    """A digest of what the files ask for: users, settings, environment and suffix.

    Taken over the parsed state, not the bytes, so a comment or a reordering of
    keys does not make a reviewed plan stale, while any change of meaning does.
    """
    canonical = {
        "users": {login: user.fields for login, user in desired.users.items()},
        "settings": dataclasses.asdict(desired.settings),
        "environment": desired.environment.name if desired.environment else None,
        "login_suffix": desired.login_suffix,
    }
    text = json.dumps(
        canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    )
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- reading ------------------------------------------------------------------------

#: A saved plan of 100,000 changes is about 100 MB.
MAX_SAVED_PLAN_BYTES = 512 * 1024 * 1024
#: The deepest a plan's JSON ever nests (plans, changes, before, access, an item) is 7.
MAX_DEPTH = 16


def load(path: str) -> list[tuple[Plan, dict[str, Any]]]:
    """A saved plan (one system's, or several under `plans`), read as the untrusted input
    it is: each system's Plan and its JSON data, each checked against itself."""
    try:
        raw = read_regular_file(path, MAX_SAVED_PLAN_BYTES)
        data = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicate_keys)
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read the saved plan {path}: {exc}") from None
    except RecursionError:
        data = _TOO_DEEP
    if data is _TOO_DEEP or _deeper_than(data, MAX_DEPTH):
        raise UsageError(
            f"the saved plan {path} is not a reconciler plan: it nests deeper than a plan does"
        )
    loaded = []
    for part in multi_plan_parts(data):
        plan = from_json_data(part)
        check_consistent(plan)
        loaded.append((plan, part))
    if len({plan.system for plan, _ in loaded}) != len(loaded):
        raise UsageError("the saved plan is not a reconciler plan: a system planned twice")
    return loaded


_TOO_DEEP = object()


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Two values for one key: another JSON reader might take the other one.
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("a key appears twice in one object")
    return dict(pairs)


def _deeper_than(data: Any, limit: int) -> bool:
    """Whether JSON data nests deeper than `limit` (iterative: no recursion to exhaust)."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth >= limit:
                return True
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return False


# -- the plan against itself -------------------------------------------------------


def _inconsistency(change: Change, provider: Provider) -> str | None:
    """Why a saved change contradicts itself, or None when it does not."""
    caps = provider.capabilities
    unknown = sorted(set(change.fields) - set(caps.compared))
    if unknown:
        return f"fields names {', '.join(unknown)}, which a plan never changes"
    if change.action == "create":
        for name, fc in change.fields.items():
            if fc.before is not None:
                return f"a create with a before value for {name}"
        wanted: dict[str, Any] = {name: fc.after for name, fc in change.fields.items()}
        current = None
    else:
        assert change.before is not None
        current = as_compared(change.before)
        for name, fc in change.fields.items():
            if fc.before != current.get(name):
                return (
                    f"fields.{name}.before is {fc.before!r}, "
                    f"but before.{name} is {current.get(name)!r}"
                )
        wanted = {name: fc.after for name, fc in change.fields.items()}
        was_active = current.get("is_active") is not False
        will_be_active = wanted.get("is_active", was_active) is not False
        expected_action = (
            "reactivate"
            if will_be_active and not was_active
            else "deactivate"
            if was_active and not will_be_active
            else "update"
        )
        if change.action != expected_action:
            return (
                f"its action is {change.action}, but its fields make it {expected_action}"
                " (an is_active change must be a reactivate or deactivate)"
            )
    for name in caps.write_only:
        if name in change.send:
            wanted[name] = change.send[name]
    expected = provider.payload(change.key, wanted, current, list(change.fields))
    if change.send != expected:
        names = sorted(
            name
            for name in set(change.send) | set(expected)
            if change.send.get(name, ...) != expected.get(name, ...)
        )
        return f"its payload does not follow from before and fields ({', '.join(names)})"
    return None


def check_consistent(saved: Plan) -> None:
    """Refuse a saved plan that contradicts itself: someone edited it by hand."""
    provider = providers.get(saved.system)
    problems = []
    for change in saved.changes:
        try:
            reason = _inconsistency(change, provider)
        except (TypeError, ValueError, KeyError, AttributeError, IndexError):
            # The system's rules met values of kinds no plan of theirs holds (an access
            # list that is a number): the file was not written by reconciler as it is.
            reason = "its values are not of the kinds this system's plans hold"
        if reason:
            problems.append(f"{change.key} ({change.action}): {reason}")
    if problems:
        raise StalePlanError(
            f"{ALTERED}; nothing was written. Make a new plan from the reviewed files.",
            details=_capped(problems),
        )


# -- the plan against where it is applied ------------------------------------------


def check_target(saved: Plan, target: str, desired: DesiredState) -> None:
    """Refuse, before the token is sent anywhere, a plan made for another target."""
    environment = desired.environment.name if desired.environment else None
    wrong = []
    if saved.target != target:
        wrong.append(f"it targets {saved.target}, not {target}")
    if saved.environment != environment:
        wrong.append(
            f"it was made for environment {saved.environment or '(none)'}, "
            f"not {environment or '(none)'}"
        )
    if saved.login_suffix != desired.login_suffix:
        wrong.append(
            f"it was made with login suffix {saved.login_suffix!r}, not {desired.login_suffix!r}"
        )
    if wrong:
        raise StalePlanError(
            f"{MISMATCH}: {'; '.join(wrong)}. Nothing was sent; choose the same target "
            "(--api-url or --env) as the plan, or make a new plan."
        )


# -- the seal -----------------------------------------------------------------------

#: What the seal key is derived for, so the key serves this purpose alone.
_SEAL_CONTEXT = b"reconciler saved plan seal v1"
_SEAL_PREFIX = "hmac-sha256:"


def seal_key(token: str | None) -> bytes:
    """The key that seals one system's saved plan, derived from its API token.

    The seal reveals nothing of the token (HMAC-SHA256 is a one-way keyed
    function), yet nobody without the token can seal an edited plan. A system
    reached without a token (the `sim:` simulator) seals with an empty key:
    such a plan binds to its files and tenant, not to a secret.
    """
    return hmac.new((token or "").encode("utf-8"), _SEAL_CONTEXT, hashlib.sha256).digest()


def _canonical(part: dict[str, Any]) -> bytes:
    unsealed = {key: value for key, value in part.items() if key != "seal"}
    # ASCII escapes: a lone surrogate in a value still has one byte form.
    return json.dumps(unsealed, sort_keys=True, ensure_ascii=True, separators=(",", ":")).encode()


def seal(part: dict[str, Any], key: bytes) -> str:
    """The seal of one system's plan (its JSON data, any `seal` key left out)."""
    return _SEAL_PREFIX + hmac.new(key, _canonical(part), hashlib.sha256).hexdigest()


def sealed(part: dict[str, Any], key: bytes) -> dict[str, Any]:
    """The plan's JSON data with its seal, as `plan --out` writes it."""
    return {**part, "seal": seal(part, key)}


def dumps_sealed(plans: list[Plan], keys: dict[str, bytes]) -> str:
    """The saved plan `plan --out` writes: each system's plan sealed with its own key."""
    parts = [
        sealed({**to_json_data(plan), "reconciler_version": __version__}, keys[plan.system])
        for plan in plans
    ]
    if len(parts) == 1:
        return json_text(parts[0])
    return json_text({"format_version": FORMAT_VERSION, "plans": parts})


def seal_problem(part: dict[str, Any], key: bytes) -> str | None:
    """Why the seal does not vouch for this plan, or None when it does."""
    found = part.get("seal")
    if found is None:
        return "it has no seal (save a plan with plan --out, not --format json)"
    if not isinstance(found, str) or not hmac.compare_digest(found, seal(part, key)):
        return (
            "its seal does not match its content (it was edited after plan --out, or sealed "
            "with another API token)"
        )
    return None


# -- the plan against a fresh plan -------------------------------------------------


def _changes_by_login(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {change["login"]: change for change in data["changes"]}


def _differing(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    return sorted(k for k in set(a) | set(b) if a.get(k, ...) != b.get(k, ...))


def _why(login: str, saved_change: dict[str, Any] | None, tenant: dict[str, Any] | None) -> str:
    """Whether the tenant moved under this user since the plan was made."""
    if saved_change is None:
        return ""
    before = saved_change.get("before")
    if before is None:
        return "it exists in the tenant now" if tenant is not None else ""
    if tenant is None:
        return "it is no longer in the tenant"
    moved = _differing(before, tenant)
    return f"the tenant changed since the plan ({', '.join(moved)})" if moved else ""


def _user_difference(
    login: str,
    saved: dict[str, Any] | None,
    fresh: dict[str, Any] | None,
    tenant: dict[str, Any] | None,
) -> str | None:
    if saved == fresh:
        return None
    if saved is None:
        assert fresh is not None
        what = f"a fresh plan would {fresh['action']} it"
        if fresh["fields"]:
            what += f" ({', '.join(sorted(fresh['fields']))})"
        return f"{login}: {what}; the saved plan does not"
    if fresh is None:
        what = f"the saved plan would {saved['action']} it; a fresh plan leaves it unchanged"
    else:
        parts = []
        if saved["action"] != fresh["action"]:
            parts.append(f"action {saved['action']} -> {fresh['action']}")
        for key in ("fields", "before", "send"):
            names = _differing(saved.get(key) or {}, fresh.get(key) or {})
            if names:
                parts.append(f"{key}: {', '.join(names)}")
        what = "; ".join(parts) or "differs"
    why = _why(login, saved, tenant)
    return f"{login}: {what}" + (f" ({why})" if why else "")


#: Compared on their own, with messages of their own; `cost` holds the budget left at
#: planning, which the vendor's other clients spend in the meantime.
_CHECKED_APART = frozenset({"changes", "desired_digest", "cost", "seal", "reconciler_version"})


def differences(
    saved: dict[str, Any],
    fresh: dict[str, Any],
    index: dict[str, dict[str, Any]],
    provider: Provider,
) -> list[str]:
    """Every way a saved plan (JSON data) differs from a fresh one, for a person to read.

    Empty when they are the same plan. `index` is the fresh read (tenant_index),
    to tell a tenant that moved from a plan that was edited.
    """
    fold = provider.capabilities.key_fold
    saved_changes, fresh_changes = _changes_by_login(saved), _changes_by_login(fresh)
    found: list[str] = []
    for login in sorted(set(saved_changes) | set(fresh_changes)):
        difference = _user_difference(
            login, saved_changes.get(login), fresh_changes.get(login), index.get(fold(login))
        )
        if difference:
            found.append(difference)
    if [c["login"] for c in saved["changes"]] != [c["login"] for c in fresh["changes"]] and (
        set(saved_changes) == set(fresh_changes)
    ):
        found.append("the changes are in another order than a fresh plan puts them")
    for key in sorted((set(saved) | set(fresh)) - _CHECKED_APART):
        if saved.get(key, ...) != fresh.get(key, ...):
            found.append(f"{key}: saved {_short(saved.get(key))}, fresh {_short(fresh.get(key))}")
    if saved.get("desired_digest") != fresh.get("desired_digest"):
        found.insert(
            0,
            "the files are not the ones planned (their digest differs: a later change "
            "merged, or other files were given)",
        )
    return found


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."


# -- the per-user rule ---------------------------------------------------------------


@dataclasses.dataclass
class Review:
    """What `apply --plan` does with each change: written, held, or no longer needed."""

    #: The keys of the fresh plan's changes that the reviewed plan holds identically.
    approved: set[str]
    #: The fresh plan's other changes, not written, each with why.
    held: list[Held]
    #: Reviewed changes a fresh plan no longer holds (already made, or no longer wanted).
    no_longer_needed: list[Held]


def _field_names(change: dict[str, Any]) -> tuple[str, ...]:
    return tuple(sorted(change.get("fields") or {}))


def _held_reason(
    saved: dict[str, Any] | None, fresh: dict[str, Any], same_files: bool, system: str
) -> str:
    """Why a change of the fresh plan is not the reviewed one (saved is its saved twin)."""
    if saved is None:
        if same_files:
            # Same files, so only the system can have moved: by hand, or by another tool.
            fields = ", ".join(_field_names(fresh)) or fresh["action"]
            return (
                f"not in the reviewed plan: the user changed in {system} since the plan ({fields})"
            )
        return (
            "not in the reviewed plan: the files are not the ones planned (a later change "
            "merged, or other files were given)"
        )
    if saved["action"] == "create" and fresh["action"] != "create":
        return "the user changed since the plan (it exists now)"
    if saved["action"] != "create" and fresh["action"] == "create":
        return "the user changed since the plan (it is no longer there)"
    moved = _differing(saved.get("before") or {}, fresh.get("before") or {})
    if moved:
        return f"the user changed since the plan ({', '.join(moved)})"
    parts = [
        f"{key}: {', '.join(names)}"
        for key in ("fields", "send")
        if (names := _differing(saved.get(key) or {}, fresh.get(key) or {}))
    ]
    if saved["action"] != fresh["action"]:
        parts.insert(0, f"action {saved['action']} -> {fresh['action']}")
    what = "; ".join(parts) or "it differs"
    if same_files:
        return f"the reviewed change differs from a fresh plan ({what})"
    return f"the files are not the ones planned ({what})"


def _gone_reason(
    saved: dict[str, Any], current: dict[str, Any] | None, provider: Provider, same_files: bool
) -> str:
    """Why a reviewed change is no longer in the fresh plan."""
    if current is not None and all(
        provider.same(name, fc.get("after"), current.get(name))
        for name, fc in (saved.get("fields") or {}).items()
        if name not in provider.capabilities.write_only
    ):
        return "already made: the user is as the reviewed plan wanted"
    if not same_files:
        return "no longer wanted: the files changed since the plan"
    moved = _differing(saved.get("before") or {}, current or {}) if saved.get("before") else []
    if moved:
        return f"no longer needed: the user changed since the plan ({', '.join(moved)})"
    return "no longer needed"


def review(
    saved: dict[str, Any],
    fresh: Plan,
    index: dict[str, dict[str, Any]],
    provider: Provider,
    *,
    files_digest: str,
) -> Review:
    """Which changes of the fresh plan the reviewed plan holds, user by user (pure).

    A change is approved when the saved plan holds it identically (action,
    fields, `before`, payload, blocked). A reviewed change that needs a held one
    (a user whose new manager's creation is held: Provider.depends_on) is held too.
    """
    fold = provider.capabilities.key_fold
    same_files = saved.get("desired_digest") == files_digest
    fresh_data = to_json_data(fresh)
    saved_changes = {fold(c["login"]): c for c in saved["changes"]}
    fresh_changes = {fold(c["login"]): c for c in fresh_data["changes"]}
    title = providers.title(fresh.system)
    approved: set[str] = set()
    held: dict[str, Held] = {}
    for key, change in fresh_changes.items():
        twin = saved_changes.get(key)
        if twin == change:
            approved.add(change["login"])
        else:
            held[change["login"]] = Held(
                change["login"],
                change["action"],
                _field_names(change),
                _held_reason(twin, change, same_files, title),
            )
    # A change whose dependency is held would fail, or land half-made: hold it too.
    by_login = {c.key: c for c in fresh.changes}
    settled = False
    while not settled:
        settled = True
        for login in sorted(approved):
            needed = provider.depends_on(by_login[login])
            if needed is not None and needed in held and held[needed].action == "create":
                approved.discard(login)
                change = fresh_changes[fold(login)]
                held[login] = Held(
                    login,
                    change["action"],
                    _field_names(change),
                    f"it needs {needed}, whose {held[needed].action} is held",
                )
                settled = False
    gone = [
        Held(
            change["login"],
            change["action"],
            _field_names(change),
            _gone_reason(change, index.get(key), provider, same_files),
        )
        for key, change in saved_changes.items()
        if key not in fresh_changes
    ]
    order = {c.key: i for i, c in enumerate(fresh.changes)}
    return Review(
        approved,
        sorted(held.values(), key=lambda h: order[h.key]),
        sorted(gone, key=lambda h: h.key),
    )


def bind(
    saved: dict[str, Any],
    fresh: Plan,
    index: dict[str, dict[str, Any]],
    provider: Provider,
    *,
    files_digest: str,
    key: bytes,
) -> Review:
    """Check the saved plan's seal, then apply the per-user rule to the fresh plan.

    `index` is the fresh read, viewed and indexed (diff.tenant_index), as planned.

    Raises StalePlanError, naming how the plan differs from a fresh one, when
    the seal does not vouch for the saved plan: nothing of it is then written.
    """
    fresh.desired_digest = files_digest
    problem = seal_problem(saved, key)
    if problem is not None:
        found = differences(saved, to_json_data(fresh), index, provider)
        details = [f"{MISMATCH}: {line}" for line in found] or [
            "its changes are those of a fresh plan, but nobody can vouch for what else it says"
        ]
        raise StalePlanError(
            f"{ALTERED}: {problem}; nothing was written. "
            "Review a new plan (reconciler plan ... --out PLAN.json).",
            details=_capped(details),
        )
    return review(saved, fresh, index, provider, files_digest=files_digest)


def _capped(lines: list[str]) -> list[str]:
    if len(lines) <= MAX_SHOWN:
        return lines
    return [*lines[:MAX_SHOWN], f"... and {len(lines) - MAX_SHOWN} more"]
