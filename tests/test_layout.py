"""The test suite's own shape: test modules never import each other (helpers live apart)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def imported_test_modules(path: Path) -> list[str]:
    """The modules named test_* that a file imports, by any form of import."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names = [module] + [f"{module}.{alias.name}" for alias in node.names]
        found += [n for n in names if any(p.startswith("test_") for p in n.split("."))]
    return found


def test_no_test_module_imports_another() -> None:
    offenders = {
        str(path.relative_to(TESTS)): names
        for path in sorted(TESTS.rglob("*.py"))
        if (names := imported_test_modules(path))
    }
    assert offenders == {}, "move what they share to tests/helpers or a conftest.py"


def test_the_rule_sees_every_form_of_import(tmp_path: Path) -> None:
    source = tmp_path / "test_x.py"
    source.write_text(
        "import test_a\nfrom test_b import c\nfrom .test_c import d\n"
        "from tests.e import test_f\nfrom tests.helpers import people\n"
    )
    assert imported_test_modules(source) == [
        "test_a",
        "test_b",
        "test_b.c",
        "test_c",
        "test_c.d",
        "tests.e.test_f",
    ]
