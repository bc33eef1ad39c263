"""Shared fixtures: real databases, migration directories, and the real local Kubernetes control plane."""

pytest_plugins = [
    "tests.fixtures.databases",
    "tests.fixtures.migrations",
    "tests.fixtures.controlplane.pytest_plugin",
    "tests.fixtures.resources",
]
