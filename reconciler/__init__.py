"""reconciler: the users of a DealHub CPQ tenant, managed as code."""

__version__ = "0.1.0"
