"""`reconciler show PLAN.json`: a saved plan shown in another format."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from golden import example_plan

from reconciler.plan import dumps
from reconciler.render import render_plan


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_a_saved_plan_shows_as_the_plan_itself(run: Any, tmp_path: Path, fmt: str) -> None:
    plan = example_plan()
    saved = tmp_path / "plan.json"
    saved.write_text(dumps(plan), encoding="utf-8")
    result = run("show", str(saved), "--format", fmt)
    assert result.code == 0, result.all
    assert result.out == render_plan(plan, fmt)


def test_text_is_the_default(tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    saved.write_text(dumps(example_plan()), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "show", str(saved)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == render_plan(example_plan(), "text")


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "cannot read the saved plan"),
        ("{", "Expecting property name"),
        ('{"format_version": 1, "changes": "x\\u001b[2J"}', "not a reconciler plan"),
    ],
)
def test_a_bad_file_is_one_clear_error(
    run: Any, tmp_path: Path, content: str | None, says: str
) -> None:
    saved = tmp_path / "plan.json"
    if content is not None:
        saved.write_text(content, encoding="utf-8")
    result = run("show", str(saved))
    assert result.code == 1
    assert result.err.startswith("error: ")
    assert says in result.err and result.err.count("\n") == 1
    assert "Traceback" not in result.all and "\x1b" not in result.all
