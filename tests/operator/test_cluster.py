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


def _pod(job: str, state: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": {"name": f"{job}-x1", "labels": {"job-name": job}},
        "status": {"containerStatuses": [{"name": "dbmigrate", "state": state}]},
    }


def test_a_migration_runs_while_its_container_does() -> None:
    """A pod that never started (image pull, missing Secret) touched no database: it holds nothing up."""
    world = cluster.Cluster(client.ApiClient())
    asked: list[Mapping[str, str]] = []
    pods = [
        _pod("dbm-a-g1a0-migrate", {"terminated": {"exitCode": 4}}),
        _pod("dbm-a-g1a1-migrate", {"running": {"startedAt": "2026-01-01T12:00:00Z"}}),
        _pod("dbm-a-g2a0-migrate", {"waiting": {"reason": "ImagePullBackOff"}}),
    ]

    def call(method: str, path: str, *, query: Mapping[str, str], **_: Any) -> Mapping[str, Any]:
        asked.append(query)
        return {"items": pods}

    world._call = call  # type: ignore[method-assign,assignment]
    assert world.running_migrations("ns", "u-1") == ["dbm-a-g1a1-migrate"]
    assert asked == [{"labelSelector": "dbmigrate.io/owner-uid=u-1,dbmigrate.io/step=migrate"}]
