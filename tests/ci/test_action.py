"""The composite GitHub Action (action.yml), run as a runner would run its steps.

Each step's script runs in bash with the environment GitHub gives it
(GITHUB_ACTION_PATH, RUNNER_TEMP, GITHUB_PATH, GITHUB_OUTPUT, and the inputs
through `env:`), against the built-in simulator.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
STEPS = ACTION["runs"]["steps"]


def _env_of(step: dict[str, Any], inputs: dict[str, str]) -> dict[str, str]:
    """The step's `env:` with `${{ inputs.X }}` filled in, as the runner does."""
    defaults = {name: spec.get("default", "") for name, spec in ACTION["inputs"].items()}
    values = {**defaults, **inputs}
    return {
        key: re.sub(r"\$\{\{ inputs\.([\w-]+) \}\}", lambda m: values[m.group(1)], str(value))
        for key, value in (step.get("env") or {}).items()
    }


def run_step(
    index: int, tmp_path: Path, inputs: dict[str, str], path: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    step = STEPS[index]
    output = tmp_path / "output"
    output.write_text("")
    env = {
        "PATH": path,
        "HOME": str(tmp_path),
        "RUNNER_TEMP": str(tmp_path / "runner"),
        "GITHUB_ACTION_PATH": str(ROOT),
        "GITHUB_PATH": str(tmp_path / "github_path"),
        "GITHUB_OUTPUT": str(output),
        "NO_COLOR": "1",
        **_env_of(step, inputs),
    }
    (tmp_path / "runner").mkdir(exist_ok=True)
    result = subprocess.run(
        ["bash", "-c", step["run"]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
    return result, outputs


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> str:
    """PATH after the action's install step, run once: the tool from this checkout."""
    tmp = tmp_path_factory.mktemp("action")
    result, _ = run_step(0, tmp, {"command": "plan"}, os.environ["PATH"])
    assert result.returncode == 0, result.stderr
    added = (tmp / "github_path").read_text().strip()
    assert Path(added, "reconciler").exists()
    return f"{added}:{os.environ['PATH']}"


def test_the_action_installs_from_its_own_checkout_and_plans(
    installed: str, tmp_path: Path
) -> None:
    tenant = tmp_path / "tenant.json"
    shutil.copy(ROOT / "examples" / "tenant.json", tenant)
    result, outputs = run_step(
        1,
        tmp_path,
        {
            "command": "plan",
            "files": "examples/users.yaml",
            "args": f"--api-url sim:{tenant} --detailed-exitcode",
            "ok-exit-codes": "0 2",
        },
        installed,
    )
    assert result.returncode == 0, result.stderr
    assert outputs["exit-code"] == "2"
    assert "Plan: 1 to create, 2 to update, 1 to reactivate, 2 to deactivate." in result.stdout


def test_an_exit_code_not_allowed_fails_the_step(installed: str, tmp_path: Path) -> None:
    result, outputs = run_step(
        1, tmp_path, {"command": "plan", "files": "examples/users.yaml"}, installed
    )
    assert result.returncode == 1
    assert outputs["exit-code"] == "1"
    assert "no target for DealHub" in result.stderr


def test_inputs_never_become_shell_code(installed: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    result, _ = run_step(
        1,
        tmp_path,
        {
            "command": "validate",
            "files": "examples/users.yaml",
            "systems": f"dealhub$(touch {marker}) `touch {marker}`",
        },
        installed,
    )
    assert result.returncode == 1
    assert not marker.exists()


def test_an_unknown_command_is_refused(installed: str, tmp_path: Path) -> None:
    result, outputs = run_step(1, tmp_path, {"command": "rm"}, installed)
    assert result.returncode == 1 and "unknown command 'rm'" in result.stdout
    assert "exit-code" not in outputs


def test_tokens_are_never_inputs() -> None:
    assert not [name for name in ACTION["inputs"] if "token" in name.lower()]
