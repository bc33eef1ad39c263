"""Fixtures for the kubectl plugin's tests: the CRDs on the real local API server, a namespace, and the plugin
run in-process with the admin kubeconfig (as ``kubectl dbmigrate ... --kubeconfig ... -n ...``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

import pytest

from dbmigrate.kubectl_plugin import main
from tests.operator import harness


@dataclasses.dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


Plugin = Callable[..., Run]


@pytest.fixture
def plugin(kubeconfig: Path, k8s_namespace: str, capsys: pytest.CaptureFixture[str]) -> Plugin:
    def run(*args: str) -> Run:
        capsys.readouterr()
        code = main.main([*args, "--kubeconfig", str(kubeconfig), "-n", k8s_namespace])
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


def set_status(kube: harness.Kube, name: str, status: Mapping[str, Any]) -> dict[str, Any]:
    """Write ``status`` through the status subresource, as the operator does."""
    result = kube.custom.patch_namespaced_custom_object_status(
        harness.GROUP,
        harness.VERSION,
        kube.namespace,
        harness.PLURAL,
        name,
        [{"op": "add", "path": "/status", "value": dict(status)}],
        _content_type="application/json-patch+json",
    )
    return cast(dict[str, Any], result)
