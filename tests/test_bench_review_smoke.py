"""bench/review.py runs end to end at 200 people, with --details at 20 (correctness of the
harness only, no timings)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
HARNESS = ROOT / "bench" / "review.py"
SIZE, DETAILS_SIZE = 200, 20


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    raw = tmp_path_factory.mktemp("bench-review") / "results.json"
    argv = [sys.executable, str(HARNESS), "--size", str(SIZE), "--runs", "1"]
    argv += ["--details-size", str(DETAILS_SIZE), "--json", str(raw)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(raw.read_text(encoding="utf-8")), done.stdout


def _harness() -> Any:
    spec = importlib.util.spec_from_file_location("bench_review", HARNESS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_review_and_plan_are_both_timed(results: tuple[dict[str, Any], str]) -> None:
    raw, stdout = results
    assert list(raw["samples"]) == ["plan", "review"]
    for (sample,) in raw["samples"].values():
        assert sample["wall"] > 0 and sample["cpu"] > 0 and sample["rss_mb"] > 0
    # Every account of both systems, most of them with the commit that last changed them.
    assert raw["accounts"] > SIZE and 0 < raw["with_commit"] <= raw["accounts"]
    assert "review / plan (wall): " in stdout


def test_details_with_enough_budget_spend_exactly_the_minimum(
    results: tuple[dict[str, Any], str],
) -> None:
    raw, stdout = results
    enough, small = raw["details"]
    assert (enough["label"], small["label"]) == ("enough", "too small")
    assert enough["code"] == 0 and all(enough["checks"].values()), enough["checks"]
    assert enough["minimum"] == 2 + 20 + 20 * enough["active"]
    assert enough["spent"] == enough["minimum"] <= enough["budget"]
    assert enough["kinds"] == {
        "me": 1,
        "list": 1,
        "permissions": enough["active"],
        "roleAssignments": enough["active"],
    }
    assert f"`review --details --system pipedrive` at {DETAILS_SIZE:,} people" in stdout


def test_details_with_too_small_a_budget_stop_before_it_with_a_partial_report(
    results: tuple[dict[str, Any], str],
) -> None:
    raw, _ = results
    _, small = raw["details"]
    assert small["code"] == 1 and all(small["checks"].values()), small["checks"]
    assert small["budget"] < small["minimum"]
    assert small["spent"] <= small["budget"] and small["refused"] == 0
    assert small["details"]["complete"] is False and small["details"]["stopped"]
    assert 0 < small["details"]["read"] < small["details"]["wanted"]


def test_details_checks_fail_on_a_run_that_spends_more_than_the_minimum() -> None:
    bench = _harness()
    reads = Counter({"me": 1, "list": 1, "permissions": 3, "roleAssignments": 3})
    details = {"complete": True, "stopped": None, "read": 3, "wanted": 3, "spent": 60}
    run = bench.DetailsRun("enough", 200, 3, 0, 1.0, reads, 82, 0, details)
    bench.check_enough(run)
    assert all(ok for _, ok in run.checks)
    run.spent = 92  # one more detail read than the minimum
    bench.check_enough(run)
    assert [name for name, ok in run.checks if not ok] == ["tokens spent == minimum"]


def test_details_checks_fail_on_a_partial_run_that_overspends_its_budget() -> None:
    bench = _harness()
    reads = Counter({"me": 1, "list": 1, "permissions": 1, "roleAssignments": 1})
    details = {"complete": False, "stopped": "budget", "read": 1, "wanted": 3, "spent": 20}
    run = bench.DetailsRun("too small", 41, 3, 1, 1.0, reads, 42, 0, details)
    bench.check_too_small(run)
    assert [name for name, ok in run.checks if not ok] == ["tokens spent <= budget"]


def test_request_kinds_are_read_from_logged_paths() -> None:
    bench = _harness()
    assert bench.request_kind("/v1/users/me") == "me"
    assert bench.request_kind("/v1/users") == "list"
    assert bench.request_kind("/v1/users/17/permissions") == "permissions"
    assert bench.request_kind("/v1/users/17/roleAssignments") == "roleAssignments"
    assert bench.request_kind("/v1/roles/3") == "other"
