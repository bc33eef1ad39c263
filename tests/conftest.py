"""Shared fixtures: real databases (tests/fixtures/databases.py), migration directories."""

pytest_plugins = ["tests.fixtures.databases", "tests.fixtures.migrations"]
