"""Fixtures for the operator's end-to-end tests: CRDs on the local control plane, a running operator, a Kube helper.

Needs the control-plane plugin (tests.fixtures.controlplane.pytest_plugin) registered in tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pytest

from tests.operator import harness

OperatorFactory = Callable[..., harness.Operator]


@pytest.fixture
def start_operator(
    crds: None, kubeconfig: Path, k8s_namespace: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[OperatorFactory]:
    """Start operator processes for the test's namespace (extra environment allowed); all are stopped at the end
    and their log is printed when the test failed."""
    started: list[harness.Operator] = []

    def start(*args: str, **env: str) -> harness.Operator:
        """Extra flags replace the default ``--standalone``; keyword arguments are environment variables."""
        process = harness.Operator(
            kubeconfig=kubeconfig,
            namespace=k8s_namespace,
            log=tmp_path / f"operator-{len(started)}.log",
            env=env,
            args=args or ("--standalone",),
        )
        process.start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        for index, process in enumerate(started):
            print(f"--- operator {index} log ---\n{process.output()[-20000:]}")


@pytest.fixture
def operator(start_operator: OperatorFactory) -> harness.Operator:
    """A running operator for the test's namespace."""
    return start_operator()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Remember each phase's report on the item, so fixtures can tell a failed test in teardown."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
