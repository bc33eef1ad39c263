"""Fixtures for the packaging tests: the helm binary, built if missing. The build runs right after collection,
outside any test's timeout, and a failed build fails the tests that need helm: a broken toolchain must be seen,
not skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.packaging import chart

_HELM = pytest.StashKey[Path | chart.HelmBuildError]()


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly:
        return
    if any("helm" in getattr(item, "fixturenames", ()) for item in session.items):
        try:
            session.stash[_HELM] = chart.build_helm()
        except chart.HelmBuildError as error:
            session.stash[_HELM] = error


@pytest.fixture(scope="session")
def helm(request: pytest.FixtureRequest) -> Path:
    built = request.session.stash.get(_HELM, None) or chart.build_helm()
    if isinstance(built, chart.HelmBuildError):
        pytest.fail(f"cannot build helm: {built}", pytrace=False)
    return built
