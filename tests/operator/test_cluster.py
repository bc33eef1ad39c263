"""How the cluster's answers reach the state machine: which API errors are the user's to fix."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from dbmigrate.controller import cluster

JOB = {"metadata": {"name": "dbm-app-1-g1a0-plan", "namespace": "ns"}}


def _answering(status: int, message: str) -> cluster.Cluster:
    """A Cluster whose API server answers every request with ``status`` and a Status of ``message``."""
    world = cluster.Cluster(client.ApiClient())

    def call(method: str, path: str, **_: Any) -> Mapping[str, Any]:
        body = json.dumps({"kind": "Status", "status": "Failure", "message": message, "code": status})
        raise ApiException(status=status, reason="Refused", body=body)

    world._call = call  # type: ignore[method-assign]
    return world


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (422, 'Job.batch "x" is invalid: spec.template.spec.volumes[0].name: Required value'),
        (403, 'pods "x" is forbidden: violates PodSecurity "restricted:latest": runAsNonRoot != true'),
        (403, 'jobs.batch "x" is forbidden: exceeded quota: jobs, requested: count/jobs.batch=1'),
    ],
)
def test_a_job_the_api_server_refuses_is_rejected_with_its_message(status: int, message: str) -> None:
    with pytest.raises(cluster.JobRejected) as rejected:
        _answering(status, message).ensure_job(JOB)
    assert str(rejected.value) == f"{status} Refused: {message}"


@pytest.mark.parametrize("status", [404, 429, 500])
def test_passing_or_unrelated_errors_stay_api_errors(status: int) -> None:
    """429 and 5xx pass; 404 (the namespace is going) is no matter of the Job's spec."""
    with pytest.raises(ApiException):
        _answering(status, "try later").ensure_job(JOB)


def test_an_existing_job_is_not_created_again() -> None:
    assert _answering(409, 'jobs.batch "x" already exists').ensure_job(JOB) is False
