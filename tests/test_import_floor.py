"""A command imports only what it uses: jsonschema to explain an invalid file, httpx to connect.

Each case runs the CLI in a fresh interpreter and reports which of the two heavy
libraries it loaded (about 40 and 60 ms of start-up each). Nothing here is timed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

#: Runs the CLI with ARGV (JSON), then prints the heavy modules it imported.
PROBE = """
import json, sys
from reconciler.cli import main
try:
    main(json.loads(sys.argv[1]))
except SystemExit as exc:
    code = exc.code
else:
    code = 0
print(json.dumps({"code": code, "loaded": sorted(
    name for name in ("jsonschema", "httpx") if name in sys.modules)}), file=sys.stderr)
"""

VALID = """\
version: 1
settings:
  max_deactivations: 10%
users:
  - login: ann@acme
    email: ann@acme.com
    name: Ann
"""
WITH_TARGETS = """\
version: 1
settings:
  systems: [dealhub, pipedrive]
  environments:
    prod:
      api_url: https://api.dealhub.io
      pipedrive: {api_url: https://acme.pipedrive.com}
users:
  - login: ann@acme
    email: ann@acme.com
    name: Ann
    pipedrive: {access: [{app: sales}]}
"""


def _probe(tmp_path: Path, *argv: str) -> tuple[int, list[str], str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(list(argv))],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return report["code"], report["loaded"], done.stdout + done.stderr


def test_help_imports_neither_jsonschema_nor_httpx(tmp_path: Path) -> None:
    code, loaded, _ = _probe(tmp_path, "--help")
    assert (code, loaded) == (0, [])


def test_validate_of_a_valid_file_imports_neither(tmp_path: Path) -> None:
    (tmp_path / "people.yaml").write_text(VALID, encoding="utf-8")
    code, loaded, out = _probe(tmp_path, "validate", "people.yaml")
    assert (code, loaded) == (0, []), out


def test_validate_with_targets_checks_their_urls_with_httpx_but_not_jsonschema(
    tmp_path: Path,
) -> None:
    # A target's URL is read by httpx's parser too (reconciler.http.api_url_host).
    (tmp_path / "people.yaml").write_text(WITH_TARGETS, encoding="utf-8")
    code, loaded, out = _probe(tmp_path, "validate", "people.yaml")
    assert (code, loaded) == (0, ["httpx"]), out


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ("max_deactivations: -1", "is not a whole number or a percentage"),
        ("unlisted: delete", "settings.unlisted"),
        ("systems: [dealhub, dealhub]", "'dealhub' is listed twice"),
    ],
)
def test_an_invalid_file_imports_jsonschema_to_explain_it(
    tmp_path: Path, settings: str, message: str
) -> None:
    text = VALID.replace("max_deactivations: 10%", settings)
    (tmp_path / "people.yaml").write_text(text, encoding="utf-8")
    code, loaded, out = _probe(tmp_path, "validate", "people.yaml")
    assert (code, loaded) == (1, ["jsonschema"]), out
    assert "people.yaml:3: " in out and message in out


def test_a_plan_of_a_valid_file_imports_no_jsonschema(tmp_path: Path) -> None:
    (tmp_path / "people.yaml").write_text(VALID, encoding="utf-8")
    (tmp_path / "tenant.json").write_text("[]", encoding="utf-8")
    code, loaded, out = _probe(tmp_path, "plan", "people.yaml", "--api-url", "sim:tenant.json")
    assert (code, loaded) == (0, ["httpx"]), out
