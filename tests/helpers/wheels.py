"""Building the package as a wheel, for the tests of what an installed tool finds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def build_wheel(into: Path) -> Path:
    """The wheel of this checkout, built into `into` (no isolated environment, no network)."""
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "-w",
            os.fspath(into),
            os.fspath(REPO),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, build.stderr
    [wheel] = into.glob("reconciler-*.whl")
    return wheel
