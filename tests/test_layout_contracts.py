"""The import contracts (.importlinter) cover what they claim: every module of the core,
every built-in system. A module added outside providers/, or a system added to the
registry, is held to them, or this fails naming it."""

from __future__ import annotations

import configparser
import pkgutil
from pathlib import Path

import reconciler
from reconciler import providers

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(reconciler.__file__).parent


def contract(name: str) -> configparser.SectionProxy:
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter", encoding="utf-8")
    return config[f"importlinter:contract:{name}"]


def listed(section: configparser.SectionProxy, key: str) -> set[str]:
    return set(section[key].split())


def core_modules() -> set[str]:
    """Every module and package outside providers/, and providers/' own modules."""
    outside = {
        f"reconciler.{info.name}"
        for info in pkgutil.iter_modules([str(PACKAGE)])
        if info.name != "providers"
    }
    generic = {
        f"reconciler.providers.{info.name}"
        for info in pkgutil.iter_modules([str(PACKAGE / "providers")])
        if not info.ispkg
    }
    return outside | generic


def system_packages() -> set[str]:
    """The package of each built-in system (`reconciler.providers.NAME`)."""
    return {".".join(line.split(":")[0].split(".")[:3]) for line in providers.BUILTIN.values()}


def test_the_core_contract_lists_every_module_outside_the_systems() -> None:
    assert listed(contract("core-names-no-system"), "source_modules") == core_modules()


def test_the_core_is_forbidden_every_built_in_system() -> None:
    forbidden = listed(contract("core-names-no-system"), "forbidden_modules")
    assert forbidden == system_packages()


def test_every_built_in_system_is_independent_of_the_others() -> None:
    assert listed(contract("systems-independent"), "modules") == system_packages()


def test_the_systems_are_packages_under_providers() -> None:
    assert all((PACKAGE.parent / name.replace(".", "/")).is_dir() for name in system_packages())
