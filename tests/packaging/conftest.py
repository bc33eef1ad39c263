"""Fixtures for the packaging tests: the helm and kustomize binaries, built if missing. The builds run right after
collection, outside any test's timeout, and a failed build fails the tests that need the tool: a broken toolchain
must be seen, not skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.packaging import chart

_TOOLS = ("helm", "kustomize")
_BUILT = pytest.StashKey[dict[str, Path | chart.ToolBuildError]]()


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly:
        return
    built = session.stash.setdefault(_BUILT, {})
    for tool in _TOOLS:
        if any(tool in getattr(item, "fixturenames", ()) for item in session.items):
            built[tool] = _build(tool)


def _build(tool: str) -> Path | chart.ToolBuildError:
    try:
        return chart.build_tool(tool)
    except chart.ToolBuildError as error:
        return error


def _tool(request: pytest.FixtureRequest, name: str) -> Path:
    built = request.session.stash.get(_BUILT, {}).get(name) or _build(name)
    if isinstance(built, chart.ToolBuildError):
        pytest.fail(f"cannot build {name}: {built}", pytrace=False)
    return built


@pytest.fixture(scope="session")
def helm(request: pytest.FixtureRequest) -> Path:
    return _tool(request, "helm")


@pytest.fixture(scope="session")
def kustomize(request: pytest.FixtureRequest) -> Path:
    return _tool(request, "kustomize")
