"""`python -m reconciler.render PLAN.json`: a saved plan shown in another format."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from golden import example_plan

from reconciler.plan import dumps
from reconciler.render import render_plan
from reconciler.render.__main__ import main


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_a_saved_plan_shows_as_the_plan_itself(tmp_path: Path, fmt: str) -> None:
    plan = example_plan()
    saved = tmp_path / "plan.json"
    saved.write_text(dumps(plan), encoding="utf-8")
    result = CliRunner().invoke(main, [str(saved), "--format", fmt])
    assert result.exit_code == 0, result.output
    assert result.output == render_plan(plan, fmt)


def test_text_is_the_default_and_runs_as_a_module(tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    saved.write_text(dumps(example_plan()), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "reconciler.render", str(saved)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == render_plan(example_plan(), "text")


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "cannot read"),
        ("{", "Expecting property name"),
        ('{"format_version": 1, "changes": "x\\u001b[2J"}', "not a reconciler plan"),
    ],
)
def test_a_bad_file_is_one_clear_error(tmp_path: Path, content: str | None, says: str) -> None:
    saved = tmp_path / "plan.json"
    if content is not None:
        saved.write_text(content, encoding="utf-8")
    result = CliRunner().invoke(main, [str(saved)])
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and str(saved) in result.output
    assert says in result.output and result.output.count("\n") == 1
    assert "Traceback" not in result.output and "\x1b" not in result.output
