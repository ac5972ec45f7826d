"""The model is the bottom of the tool: every layer may use it, it uses none (issue 21)."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["reconciler.model", "reconciler.wording"])
def test_importing_it_loads_nothing_else_of_reconciler(module: str) -> None:
    probe = (
        f"import sys, {module}; "
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('reconciler'))))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["reconciler", module]
