"""bench/compare.py: two revisions side by side (correctness of the harness, no timings)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the package `bench` lives at the repository's root
    sys.path.insert(0, str(ROOT))

from bench import compare  # noqa: E402
from bench.issue21 import Issue21, memory_part  # noqa: E402
from bench.measure import ChildFailed, Sample  # noqa: E402

HARNESS = ROOT / "bench" / "compare.py"


def _samples(*walls: float) -> list[Sample]:
    return [Sample(w, w, 50.0) for w in walls]


def test_a_figure_within_five_percent_is_flagged_yes_and_beyond_it_no() -> None:
    within = compare.row("1,000: `plan sim:`", {"base": _samples(1.0), "new": _samples(1.04)})
    beyond = compare.row("1,000: `plan sim:`", {"base": _samples(1.0), "new": _samples(1.06)})
    assert within[3] == "1.04×" and within[-2:] == ["yes", "yes"]
    assert beyond[3] == "1.06×" and beyond[-2:] == ["**no**", "**no**"]
    # CPU and wall are flagged apart: CPU first, as the one to read on a loaded machine.
    base = [Sample(1.0, 1.0, 50.0)]
    slow_wall = compare.row("x", {"base": base, "new": [Sample(1.3, 1.01, 50.0)]})
    assert slow_wall[-2:] == ["yes", "**no**"]


def test_a_revision_shadowed_by_the_working_directory_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # From the repository's root, `python -c` imports the checkout's reconciler/, not
    # the extracted revision's: measuring it would compare the checkout with itself.
    monkeypatch.chdir(ROOT)
    with pytest.raises(ChildFailed, match="reconciler imported from"):
        compare.extract("base", "HEAD", tmp_path)


def test_an_extracted_revision_is_what_its_children_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    revision = compare.extract("base", "HEAD", tmp_path)
    assert (revision.tree / "reconciler" / "__init__.py").is_file()
    assert revision.env()["PYTHONPATH"] == str(revision.tree)
    assert len(revision.commit) == 40


def test_memory_per_user_gives_the_marginal_cost_between_sizes() -> None:
    mb = 2**20
    data = Issue21()
    for size, peak in ((1_000, 40.0), (11_000, 60.0)):
        samples = {v: [Sample(1.0, 1.0, peak)] for v in ("plan sim:", "plan http")}
        samples["import reconciler.cli"] = [Sample(0.1, 0.1, 30.0)]
        data.memory[size] = (750 * size, samples)
    rows = [
        line.split("|")[1:-1]
        for line in memory_part(data).splitlines()
        if "| plan " in line and "users" not in line
    ]
    cells = [[c.strip() for c in row] for row in rows]
    assert [c[:2] for c in cells] == [
        ["1,000", "plan sim:"],
        ["1,000", "plan http"],
        ["11,000", "plan sim:"],
        ["11,000", "plan http"],
    ]
    assert cells[0][4] == f"{40 * mb / 1_000:,.0f}"  # peak bytes per user
    assert cells[0][5] == f"{10 * mb / 1_000:,.0f}"  # above the import's RSS
    assert cells[0][6] == ""  # no smaller size to grow from
    assert cells[2][6] == f"{20 * mb / 10_000:,.0f}"  # 20 MB more for 10,000 more users
    assert cells[2][2] == "750"


def test_compare_runs_a_revision_against_itself_and_checks_the_plans(tmp_path: Path) -> None:
    out = tmp_path / "side.md"
    argv = [sys.executable, str(HARNESS), "HEAD", "--against", "HEAD", "--sizes", "200"]
    argv += ["--runs", "1", "--apply-size", "200", "--apply-latency", "0.001"]
    argv += ["--out", str(out)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    markdown = out.read_text(encoding="utf-8")
    rows = [line for line in markdown.splitlines() if line.startswith("| 200: ")]
    assert [r.split("|")[1].strip() for r in rows] == [
        "200: `plan sim:`",
        "200: `plan http`",
        "200: `apply` (latency 0.001 s)",
    ]
    assert "plan --format json the same under both revisions | ok" in markdown
    assert "apply under new: 3 requests each run, then no change left | ok" in markdown
    assert "**FAILED**" not in markdown


def test_a_revision_that_is_not_a_commit_is_refused_in_one_line(tmp_path: Path) -> None:
    argv = [sys.executable, str(HARNESS), "no-such-revision", "--out", str(tmp_path / "x.md")]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 2
    assert done.stderr.startswith("bench/compare.py: git rev-parse --verify 'no-such-revision")
    assert "Traceback" not in done.stderr and not (tmp_path / "x.md").exists()
