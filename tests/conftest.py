"""Shared fixtures: real databases (tests/fixtures/databases.py)."""

pytest_plugins = ["tests.fixtures.databases"]
