"""The benchmark harness runs end to end at 1,000 users (correctness only, no timings)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HARNESS = ROOT / "bench" / "run.py"


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict, str]:
    tmp = tmp_path_factory.mktemp("bench")
    out, raw = tmp / "RESULTS.md", tmp / "results.json"
    argv = [sys.executable, str(HARNESS), "--sizes", "1000", "--runs", "1", "--out", str(out)]
    argv += ["--json", str(raw), "--apply-size", "1000", "--apply-latency", "0.001"]
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
