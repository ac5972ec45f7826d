"""The benchmark harness runs end to end at 1,000 users, and its section 6 (one people file,
both systems) at 200 (correctness only, no timings)."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
HARNESS = ROOT / "bench" / "run.py"


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict, str]:
    tmp = tmp_path_factory.mktemp("bench")
    out, raw = tmp / "RESULTS.md", tmp / "results.json"
    argv = [sys.executable, str(HARNESS), "--sizes", "1000", "--runs", "1", "--out", str(out)]
    argv += ["--json", str(raw), "--apply-size", "1000", "--apply-latency", "0.001"]
    argv += ["--skip-systems"]  # section 6 has a smaller run of its own below
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return out.read_text(encoding="utf-8"), json.loads(raw.read_text(encoding="utf-8")), done.stdout


def _rows(markdown: str, heading: str) -> list[list[str]]:
    """The body rows of the first table under `heading`, as lists of cells."""
    section = markdown.split(heading, 1)[1].split("\n## ", 1)[0]
    rows: list[str] = []
    for line in section.splitlines():
        if line.startswith("|"):
            rows.append(line)
        elif rows:
            break
    return [[c.strip() for c in row.strip("|").split("|")] for row in rows[2:]]


def test_plan_tables_have_every_variant(results: tuple[str, dict, str]) -> None:
    markdown, _, stdout = results
    assert "## 1. `plan` as a whole process" in stdout  # the tables are printed too
    plan_rows = _rows(markdown, "## 1.")
    assert [(r[0], r[1]) for r in plan_rows] == [("1,000", "plan sim:"), ("1,000", "plan http")]
    floor_rows = _rows(markdown, "## 2.")
    assert [r[1] for r in floor_rows] == [
        "python -c pass",
        "import reconciler.cli",
        "floor",
        "floor, gc off",
        "floor, libyaml events",
        "plan sim:",
        "plan http",
    ]
    floor = next(r for r in floor_rows if r[1] == "floor")
    assert floor[5:] == ["1.00×", "1.00×", "1.00×"]
    for row in plan_rows:  # wall, CPU, peak RSS
        assert float(row[2]) > 0 and float(row[4]) >= 0 and float(row[5]) > 0
    for row in floor_rows:
        assert float(row[2]) > 0 and float(row[3]) >= 0 and float(row[4]) > 0


def test_stages_table_names_every_stage(results: tuple[str, dict, str]) -> None:
    markdown, raw, _ = results
    names = [r[0] for r in _rows(markdown, "## 3.")]
    for stage in ("import", "parse", "validate", "connect", "fetch", "diff", "guards", "render"):
        assert stage in names
    assert "pipeline" in names and "other" in names
    assert "Slowest stage: 1,000 users:" in markdown
    assert len(raw["stages"]["1000"]["diff"]) == 1


def test_machine_and_command_are_recorded(results: tuple[str, dict, str]) -> None:
    markdown, raw, _ = results
    assert "## Machine" in markdown and "CPUs (os.cpu_count)" in markdown
    assert "bench/run.py --sizes 1000 --runs 1" in markdown
    assert raw["machine"]["CPUs (os.cpu_count)"]


def test_apply_sends_one_read_batched_writes_and_one_verification(
    results: tuple[str, dict, str],
) -> None:
    markdown, raw, _ = results
    apply = raw["apply"]
    changes = apply["n_changes"]
    assert changes == sum(raw["data"]["1000"]["changes"][k] for k in
                          ("create", "update", "reactivate", "deactivate"))  # fmt: skip
    assert changes > 0
    expected = 1 + math.ceil(changes / 100) + 1
    assert apply["expected_requests"] == expected
    (run,) = apply["runs"]
    assert run["counts"] == {
        "GET /api/v1/users": 2,
        "PUT /api/v2/users": math.ceil(changes / 100),
        "status polls": 0,
        "other": 0,
    }
    assert run["non_2xx"] == 0
    assert run["converged"] is True
    checks = {c["name"]: c["ok"] for c in raw["checks"]}
    assert all(checks.values()) and len(checks) == 2
    counts_row = _rows(markdown, "## 4.")[0]
    assert counts_row[6] == counts_row[7] == str(expected)


def test_issue21_section_times_startup_diff_per_user_and_memory_per_user(
    results: tuple[str, dict, str],
) -> None:
    markdown, raw, _ = results
    found = raw["issue21"]
    assert list(found["startup"]) == [
        "python -c pass",
        'python -c "import yaml, httpx, click, jsonschema"',
        "reconciler --help",
        "reconciler validate examples/users.yaml",
    ]
    for samples in found["startup"].values():
        assert len(samples) == 3 and all(s["wall"] > 0 and s["rss_mb"] > 0 for s in samples)
    startup = _rows(markdown, "### 7a.")
    assert startup[1][5] == "1.00×" and startup[1][6] == "1.00×"  # the import floor itself
    per_user = found["per_user"]["1000"]
    assert list(per_user) == ["dealhub", "pipedrive"]
    for (run,) in per_user.values():
        assert run["users"] >= 1000 and run["diff"] > 0 and run["fetch"] > 0
    diff_rows = _rows(markdown, "### 7b.")
    assert [(r[0], r[1]) for r in diff_rows] == [("1,000", "dealhub"), ("1,000", "pipedrive")]
    assert diff_rows[0][5] == "1.00×" and diff_rows[1][5].endswith("×")
    memory = _rows(markdown, "### 7c.")
    assert [(r[0], r[1]) for r in memory] == [("1,000", "plan sim:"), ("1,000", "plan http")]
    assert found["memory"]["1000"]["input_bytes"] > 1000 * 500


# -- section 6: one people file, both systems ----------------------------------------------

SYSTEMS_SIZE = 200
LATENCY = 0.01


@pytest.fixture(scope="module")
def systems(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict, Path]:
    tmp = tmp_path_factory.mktemp("bench-systems")
    out, raw, keep = tmp / "RESULTS.md", tmp / "results.json", tmp / "data"
    argv = [sys.executable, str(HARNESS), "--only-systems", "--sizes", str(SYSTEMS_SIZE)]
    argv += ["--runs", "1", "--systems-latency", str(LATENCY), "--out", str(out)]
    argv += ["--json", str(raw), "--keep", str(keep)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return out.read_text(encoding="utf-8"), json.loads(raw.read_text(encoding="utf-8")), keep


def test_systems_data_changes_every_kind_in_each_system(
    systems: tuple[str, dict, Path],
) -> None:
    markdown, raw, keep = systems
    result = raw["systems"][str(SYSTEMS_SIZE)]
    dealhub, pipedrive = result["expected"]["dealhub"], result["expected"]["pipedrive"]
    for kind in ("create", "update", "reactivate", "deactivate"):
        assert dealhub[kind] > 0, kind
    for kind in ("create", "reactivate", "deactivate"):
        assert pipedrive[kind] > 0, kind
    assert pipedrive["update"] == 0  # Pipedrive's API cannot update a user
    people = (keep / f"people-{SYSTEMS_SIZE}.yaml").read_text(encoding="utf-8")
    assert "  systems: [dealhub, pipedrive]\n" in people
    assert result["people_listed"] == people.count("\n  - login: ")
    # The same people: every email of the company but the file's strangers is in the file.
    company = json.loads((keep / f"company-{SYSTEMS_SIZE}.json").read_text(encoding="utf-8"))
    tenant = json.loads((keep / f"tenant-{SYSTEMS_SIZE}.json").read_text(encoding="utf-8"))
    emails = {u["email"].casefold() for u in tenant} | {
        line.split('"')[1].casefold() for line in people.splitlines() if "  email: " in line
    }
    strangers = [u for u in company if u["email"].casefold() not in emails]
    assert strangers and all(u["active_flag"] for u in strangers)
    assert sum(1 for u in company if u["is_you"]) == 1
    assert "## 6. One people file, both systems" in markdown


def test_systems_plans_are_checked_and_timed(systems: tuple[str, dict, Path]) -> None:
    markdown, raw, _ = systems
    result = raw["systems"][str(SYSTEMS_SIZE)]
    checks = {c["name"]: c["ok"] for c in result["checks"]}
    assert len(checks) == 4 and all(checks.values()), result["checks"]
    targets = ["`sim:` files", f"loopback, latency {LATENCY:g} s"]
    assert list(result["samples"]) == targets
    for by_variant in result["samples"].values():
        assert list(by_variant) == ["dealhub", "pipedrive", "both"]
        for (sample,) in by_variant.values():
            assert sample["wall"] > 0 and sample["cpu"] > 0 and sample["rss_mb"] > 0
    # The ratio table: the rows after its header line (and the alignment line).
    lines = markdown.split("## 6.", 1)[1].splitlines()
    header = next(i for i, line in enumerate(lines) if "| wall (c) / ((a) + (b)) |" in line)
    body = lines[header + 2 : header + 2 + len(targets)]
    ratios = [[c.strip() for c in line.strip("|").split("|")] for line in body]
    assert [r[1] for r in ratios] == targets
    for row in ratios:
        assert row[2].endswith("×") and row[3].endswith("×")
    # Sections 1-5 are left out by --only-systems; the run says so.
    assert "Skipped (--skip-pipedrive, or --only-systems" in markdown
    assert _rows(markdown, "## 1.") == []


def _harness() -> Any:
    spec = importlib.util.spec_from_file_location("bench_run", HARNESS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_systems_checks_fail_on_counts_the_data_was_not_built_for(
    systems: tuple[str, dict, Path], tmp_path: Path
) -> None:
    _, raw, keep = systems
    bench = _harness()
    ds = bench.Dataset(
        SYSTEMS_SIZE,
        keep / f"tenant-{SYSTEMS_SIZE}.json",
        keep / f"desired-{SYSTEMS_SIZE}.yaml",
        0.0,
        raw["systems"][str(SYSTEMS_SIZE)]["expected"]["dealhub"],
    )
    sd = bench.make_systems_dataset(ds, 1, "5%", tmp_path)
    sd.expected["pipedrive"]["reactivate"] += 1
    checks = {name: ok for name, ok, _ in bench.check_systems_plans(sd)}
    where = f"{SYSTEMS_SIZE:,} people"
    assert checks == {
        f"{where}: dealhub plan counts": True,
        f"{where}: pipedrive plan counts": False,
        f"{where}: dealhub in the two-system plan == planned alone": True,
        f"{where}: pipedrive in the two-system plan == planned alone": True,
    }
