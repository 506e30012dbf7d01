"""Helpers shared by the test packages; tests/ is on the path: ``from support.sites import ...``."""
