"""The CLI on the example against a DealHub simulator: paths, the test token, tenants read back."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


EXAMPLE = ROOT / "examples" / "users.yaml"


SECRET = "s3cr3t-token-do-not-print"


def tenant_of(path: Path) -> dict[str, dict[str, object]]:
    return {u["login"]: u for u in json.loads(path.read_text())}


def sandbox_on_simulator(tmp_path: Path) -> tuple[Path, Path]:
    """An empty simulated sandbox tenant, and the example pointing its sandbox env at it."""
    sandbox = tmp_path / "sandbox.json"
    sandbox.write_text("[]")
    text = EXAMPLE.read_text().replace(
        'sandbox:    {api_url: "https://api.dealhub.io"', f'sandbox:    {{api_url: "sim:{sandbox}"'
    )
    return sandbox, write(tmp_path / "users.yaml", text)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
