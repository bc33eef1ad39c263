"""Fixtures for the operator's end-to-end tests: CRDs on the local control plane, a running operator, a Kube helper.

Needs the control-plane plugin (tests.fixtures.controlplane.pytest_plugin) registered in tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from tests.fixtures.controlplane import Cluster
from tests.operator import harness


@pytest.fixture(scope="session")
def crds(controlplane: Cluster) -> None:
    api = controlplane.control_plane.api_client()
    try:
        harness.install_crds(api)
    finally:
        api.close()  # type: ignore[no-untyped-call]


@pytest.fixture
def kube(crds: None, k8s_api: client.ApiClient, k8s_namespace: str) -> harness.Kube:
    return harness.Kube(k8s_api, k8s_namespace)


@pytest.fixture
def operator(
    crds: None, kubeconfig: Path, k8s_namespace: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[harness.Operator]:
    """A running operator for the test's namespace; its log is printed when the test fails."""
    process = harness.Operator(kubeconfig=kubeconfig, namespace=k8s_namespace, log=tmp_path / "operator.log")
    process.start()
    yield process
    process.stop()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(f"--- operator log ---\n{process.output()[-20000:]}")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Remember each phase's report on the item, so fixtures can tell a failed test in teardown."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
