"""DealHub CPQ: the first system (see provider.py)."""
