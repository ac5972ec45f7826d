"""Shared by the renderer tests: the example plan and the golden-file check."""

from __future__ import annotations

import json
import os
from pathlib import Path

from reconciler import guards
from reconciler.desired import load_desired
from reconciler.diff import compute_plan
from reconciler.model import Plan

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden"
TARGET = "https://api.dealhub.io"


def example_plan() -> Plan:
    desired = load_desired([str(REPO / "examples" / "users.yaml")])
    tenant = json.loads((REPO / "examples" / "tenant.json").read_text(encoding="utf-8"))
    plan = compute_plan(desired, tenant, target=TARGET)
    return guards.evaluate(plan, desired.settings.max_deactivations, allow_mass_deactivation=False)


def check_golden(name: str, text: str) -> None:
    """Compare with tests/golden/NAME; UPDATE_GOLDEN=1 rewrites the file instead."""
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="")
        return
    assert path.exists(), f"{path} is missing: run the tests with UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from the golden file"
