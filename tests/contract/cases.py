"""The contract suite's cases: each system's adapter, drawn tenants and people, one apply."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.desired import DesiredState, DesiredUser
from reconciler.engine import make_plan
from reconciler.errors import InputError
from reconciler.model import Plan

from .conftest import ADAPTERS, Adapter, Raw, Write

# Derandomized: the same examples on every run and machine. The adapter fixture
# holds no state between examples, so its function scope is harmless.
contract = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def systems(**known_bugs: str) -> pytest.MarkDecorator:
    """Run a test once per system; a system named here breaks it (the reason says how)."""
    params = [
        pytest.param(
            name,
            id=name,
            marks=[pytest.mark.xfail(strict=True, reason=known_bugs[name])]
            if name in known_bugs
            else [],
        )
        for name in ADAPTERS
    ]
    return pytest.mark.parametrize("adapter", params, indirect=True)


@st.composite
def cases(draw: st.DrawFn, adapter: Adapter) -> tuple[list[Raw], DesiredState]:
    """A tenant and desired people; a quarter of the time one of the system's own examples.

    Like @example, but per system: a property always meets the cases a system is
    known to get wrong, whatever seed the test's source gives.
    """
    if adapter.examples and draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(adapter.examples))
    return draw(adapter.tenants), draw(adapter.states)


def given_cases(test: Any) -> Any:
    """@given over the adapter's own tenants and desired states."""
    return contract(given(data=st.data())(test))


@dataclass
class Run:
    """One plan and apply against a fresh simulator, and what the simulator saw."""

    before: list[Raw]
    plan: Plan | None  # None: the files were refused (InputError)
    after: list[Raw]
    writes: list[Write]
    log: list[dict[str, Any]]
    records: dict[str, DesiredUser]


def plan_of(adapter: Adapter, state: DesiredState, tenant: list[Raw]) -> Plan | None:
    try:
        return make_plan(
            state, adapter.provider, tenant, f"sim:{adapter.name}", allow_mass_deactivation=True
        )
    except InputError:
        return None
