"""reconciler: who may use a company's sales systems, managed as code."""

#: The one place the version is written: pyproject.toml reads it (hatch), `reconciler
#: --version` shows it, and every saved plan and apply report records it.
__version__ = "0.2.0"
