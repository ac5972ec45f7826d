"""Helpers that run the CI recipes' own steps against the simulators and a git origin."""
