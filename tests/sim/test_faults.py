"""Fault settings: validation and seeded determinism."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.sim.faults import Faults


@pytest.mark.parametrize(
    "settings",
    [
        {"failure_rate": 1.5},
        {"throttle_rate": -0.1},
        {"lost_rate": 2.0},
        {"latency": -1.0},
        {"retry_after": -1},
        {"max_batch": 0},
    ],
)
def test_impossible_settings_are_refused(settings: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Faults(**settings)


def test_the_same_seed_draws_the_same_decisions() -> None:
    def draws(seed: int) -> list[object]:
        faults = Faults(seed=seed)
        return [faults.chance(0.5) for _ in range(50)] + [faults.request_id() for _ in range(3)]

    assert draws(1) == draws(1)
    assert draws(1) != draws(2)


def test_rates_of_zero_and_one_are_certain() -> None:
    faults = Faults()
    assert not any(faults.chance(0.0) for _ in range(100))
    assert all(faults.chance(1.0) for _ in range(100))
    assert 300 < sum(faults.chance(0.5) for _ in range(1000)) < 700


def test_taken_logins_accept_any_set() -> None:
    assert Faults(taken_logins={"a"}).taken_logins == frozenset({"a"})
