"""``kubectl dbmigrate logs``: the newest Job's pod, on the real API server with the test kubelet running it.

The test kubelet runs pods as local processes and serves no kubelet API, so the API server's ``pods/log`` cannot
reach it (as with a node that is gone): the plugin then prints the container's termination message — the CLI's JSON
summary — and says so on stderr. The full log is what the test kubelet captured (``TestKubelet.logs``); fetching it
through ``pods/log`` from a real kubelet is not exercised here.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client

from dbmigrate.kubectl_plugin import resources
from tests.fixtures.controlplane.kubelet import TestKubelet
from tests.kubectl_plugin.conftest import Plugin
from tests.operator import harness

pytestmark = pytest.mark.e2e

SUMMARY = {"action": "plan", "ok": True, "exit_code": 0, "plan_hash": "sha256:feed"}


def job(owner: dict[str, Any], *, step: str, name: str, summary: dict[str, Any]) -> client.V1Job:
    """A Job labelled as the operator labels its own, whose container prints a line and writes ``summary`` as
    its termination message (a shell stands in for the dbmigrate image)."""
    labels = {resources.LABEL_OWNER_UID: owner["metadata"]["uid"], resources.LABEL_STEP: step}
    script = f"echo running {step}; printf '%s' '{json.dumps(summary)}' > /dev/termination-log"
    container = {
        "name": resources.JOB_CONTAINER,
        "image": "busybox",
        "command": ["sh", "-c", script],
        "terminationMessagePath": "/dev/termination-log",
    }
    manifest = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "backoffLimit": 0,
            "template": {"metadata": {"labels": labels}, "spec": {"restartPolicy": "Never", "containers": [container]}},
        },
    }
    return client.V1Job.model_validate(manifest)


def finished(kube: harness.Kube, name: str) -> client.V1Job | None:
    current = kube.batch.read_namespaced_job_status(name, kube.namespace)
    conditions = (current.status.conditions if current.status else None) or []
    done = [c for c in conditions if c.type in ("Complete", "Failed") and c.status == "True"]
    return current if done else None


def test_logs_of_the_newest_job_fall_back_to_its_termination_message(
    kube: harness.Kube, plugin: Plugin, kubelet: TestKubelet
) -> None:
    kube.apply("orders", harness.spec())
    owner = kube.get("orders")
    kube.batch.create_namespaced_job(kube.namespace, job(owner, step="plan", name="orders-plan", summary=SUMMARY))
    harness.wait_for("the plan Job", lambda: finished(kube, "orders-plan"))
    verify = {**SUMMARY, "action": "verify", "fingerprint": "sha256:abc"}
    kube.batch.create_namespaced_job(kube.namespace, job(owner, step="verify", name="orders-verify", summary=verify))
    harness.wait_for("the verify Job", lambda: finished(kube, "orders-verify"))

    newest = plugin("logs", "orders")
    planned = plugin("logs", "orders", "--step", "plan")

    assert newest.code == 0, newest.err
    assert json.loads(newest.out) == verify
    assert "the log of pod orders-verify-" in newest.err and "termination message follows" in newest.err
    assert json.loads(planned.out) == SUMMARY
    pod = kube.core.list_namespaced_pod(kube.namespace, label_selector="job-name=orders-plan").items[0]
    assert pod.metadata is not None and pod.metadata.name is not None
    assert kubelet.logs(kube.namespace, pod.metadata.name) == "running plan\n"


def test_logs_before_any_job(kube: harness.Kube, plugin: Plugin) -> None:
    kube.apply("orders", harness.spec())
    run = plugin("logs", "orders", "--step", "migrate")
    assert run.code == 1
    assert run.err == "error: databasemigration orders has no Job for step migrate yet\n"
