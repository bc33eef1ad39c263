"""The local control plane behaves like a real cluster where the operator depends on it.

These run against the real kube-apiserver and kube-controller-manager (Job, garbage-collector controllers)
with the test kubelet running pods as local processes.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import kopf
import kubernetes.config
import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException
from pydantic import BaseModel

from tests.fixtures import polling
from tests.fixtures.controlplane import TestKubelet

pytestmark = pytest.mark.e2e

T = TypeVar("T")
TIMEOUT = 30.0
Manifest = dict[str, Any]


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = TIMEOUT) -> T:
    return polling.wait_for(what, probe, timeout)


def plain(obj: BaseModel | object) -> Manifest:
    """An API object as JSON-like dicts with camelCase keys, as in manifests (and without Optional noise)."""
    if isinstance(obj, BaseModel):
        return obj.model_dump(by_alias=True, exclude_none=True, mode="json")
    return cast(Manifest, obj)  # custom objects already come back as dicts


def job(name: str, command: list[str], *, backoff_limit: int = 0, **metadata: Any) -> client.V1Job:
    container = {"name": "main", "image": "busybox:1.36", "command": command}
    template = {"spec": {"restartPolicy": "Never", "containers": [container]}}
    return client.V1Job.model_validate(
        {"metadata": {"name": name, **metadata}, "spec": {"backoffLimit": backoff_limit, "template": template}}
    )


def pod(name: str, container: Manifest, **spec: Any) -> client.V1Pod:
    return client.V1Pod.model_validate(
        {"metadata": {"name": name}, "spec": {"restartPolicy": "Never", "containers": [container], **spec}}
    )


def finished_condition(batch: client.BatchV1Api, namespace: str, name: str) -> Manifest | None:
    status = plain(batch.read_namespaced_job_status(name, namespace)).get("status", {})
    for condition in status.get("conditions", []):
        if condition["type"] in ("Complete", "Failed") and condition["status"] == "True":
            return cast(Manifest, condition)
    return None


def finished_pod(core: client.CoreV1Api, namespace: str, name: str) -> Manifest | None:
    found = plain(core.read_namespaced_pod(name, namespace))
    return found if found["status"].get("phase") in ("Succeeded", "Failed") else None


def job_pods(core: client.CoreV1Api, namespace: str, job_name: str) -> list[Manifest]:
    return [plain(p) for p in core.list_namespaced_pod(namespace, label_selector=f"job-name={job_name}").items]


def terminated(found: Manifest) -> Manifest:
    return cast(Manifest, found["status"]["containerStatuses"][0]["state"]["terminated"])


def test_server_is_the_built_release(k8s_api: client.ApiClient) -> None:
    assert client.VersionApi(k8s_api).get_code().git_version == "v1.36.3"


def test_kubeconfig_fixture_serves_kopf_and_the_kubernetes_client(kubeconfig: Path) -> None:
    settings = kopf.OperatorSettings()
    login = kopf.login_with_kubeconfig(logger=logging.getLogger(__name__), settings=settings)
    assert login is not None and login.server.startswith("https://127.0.0.1:")
    with kubernetes.config.new_client_from_config() as api:  # type: ignore[no-untyped-call]
        assert plain(client.CoreV1Api(api).read_namespace("default"))["metadata"]["name"] == "default"


def test_crd_schema_rejects_invalid_objects_and_status_is_a_subresource(
    k8s_api: client.ApiClient, k8s_namespace: str
) -> None:
    group = f"{k8s_namespace}.e2e.dbmigrate.io"
    spec_schema = {
        "type": "object",
        "required": ["replicas"],
        "properties": {"replicas": {"type": "integer", "minimum": 1}},
    }
    status_schema = {"type": "object", "properties": {"phase": {"type": "string"}}}
    version = {
        "name": "v1",
        "served": True,
        "storage": True,
        "subresources": {"status": {}},
        "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": spec_schema, "status": status_schema}}},
    }
    crd = client.V1CustomResourceDefinition.model_validate(
        {
            "metadata": {"name": f"widgets.{group}"},
            "spec": {
                "group": group,
                "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                "versions": [version],
            },
        }
    )
    extensions = client.ApiextensionsV1Api(k8s_api)
    extensions.create_custom_resource_definition(crd)
    try:
        custom = client.CustomObjectsApi(k8s_api)

        def create(name: str, replicas: int) -> Manifest:
            widget = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": name}}
            widget["spec"] = {"replicas": replicas}
            return plain(custom.create_namespaced_custom_object(group, "v1", k8s_namespace, "widgets", widget))

        def create_once_served() -> Manifest | None:
            try:
                return create("good", 2)
            except ApiException as error:
                if error.status == 404:  # the new resource is not served yet
                    return None
                raise

        wait_for("the Widget resource to be served", create_once_served)
        with pytest.raises(ApiException) as rejected:
            create("bad", 0)
        assert rejected.value.status == 422
        assert "spec.replicas" in str(rejected.value.body)

        custom.patch_namespaced_custom_object_status(
            group, "v1", k8s_namespace, "widgets", "good", {"status": {"phase": "Ready"}}
        )
        # Through the main resource, status changes are ignored: that is what the status subresource means.
        change = {"spec": {"replicas": 3}, "status": {"phase": "Bogus"}}
        updated = plain(custom.patch_namespaced_custom_object(group, "v1", k8s_namespace, "widgets", "good", change))
        assert updated["spec"] == {"replicas": 3}
        assert updated["status"] == {"phase": "Ready"}
    finally:
        extensions.delete_custom_resource_definition(f"widgets.{group}")


def test_job_whose_command_exits_zero_completes(
    k8s_api: client.ApiClient, k8s_namespace: str, kubelet: TestKubelet
) -> None:
    batch, core = client.BatchV1Api(k8s_api), client.CoreV1Api(k8s_api)
    batch.create_namespaced_job(k8s_namespace, job("ok", ["sh", "-c", "echo all good"]))

    condition = wait_for("the Job to finish", lambda: finished_condition(batch, k8s_namespace, "ok"))

    assert condition["type"] == "Complete"
    (only,) = job_pods(core, k8s_namespace, "ok")
    assert only["spec"]["nodeName"] == "dbmigrate-test-node"
    assert kubelet.logs(k8s_namespace, only["metadata"]["name"]) == "all good\n"


def test_job_whose_command_exits_one_fails_after_backoff_limit(k8s_api: client.ApiClient, k8s_namespace: str) -> None:
    batch, core = client.BatchV1Api(k8s_api), client.CoreV1Api(k8s_api)
    batch.create_namespaced_job(k8s_namespace, job("broken", ["sh", "-c", "exit 1"], backoff_limit=1))

    # The Job controller waits ~10s before retrying a failed pod.
    condition = wait_for("the Job to fail", lambda: finished_condition(batch, k8s_namespace, "broken"), 60)

    assert (condition["type"], condition["reason"]) == ("Failed", "BackoffLimitExceeded")
    pods = job_pods(core, k8s_namespace, "broken")
    assert [(p["status"]["phase"], terminated(p)["exitCode"]) for p in pods] == [("Failed", 1)] * 2


def test_deleting_the_owner_garbage_collects_the_job_and_stops_its_pod(
    k8s_api: client.ApiClient, k8s_namespace: str, kubelet: TestKubelet
) -> None:
    batch, core = client.BatchV1Api(k8s_api), client.CoreV1Api(k8s_api)
    owner = plain(
        core.create_namespaced_config_map(k8s_namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="owner")))
    )
    reference = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}
    script = "trap 'echo terminated; exit 0' TERM; echo started; sleep 300 & wait"
    batch.create_namespaced_job(k8s_namespace, job("owned", ["sh", "-c", script], ownerReferences=[reference]))

    def running_pod() -> str | None:
        running = [p for p in job_pods(core, k8s_namespace, "owned") if p["status"].get("phase") == "Running"]
        return str(running[0]["metadata"]["name"]) if running else None

    pod_name = wait_for("the Job's pod to run", running_pod)
    wait_for("the container to start", lambda: "started" in kubelet.logs(k8s_namespace, pod_name) or None)

    core.delete_namespaced_config_map("owner", k8s_namespace, propagation_policy="Background")

    def gone(read: Callable[[], object]) -> bool | None:
        try:
            read()
        except ApiException as error:
            if error.status == 404:
                return True
            raise
        return None

    wait_for("the Job to be collected", lambda: gone(lambda: batch.read_namespaced_job("owned", k8s_namespace)))
    wait_for("the pod to be deleted", lambda: gone(lambda: core.read_namespaced_pod(pod_name, k8s_namespace)))
    assert kubelet.logs(k8s_namespace, pod_name) == "started\nterminated\n"


def test_watch_sees_an_update(k8s_api: client.ApiClient, k8s_namespace: str) -> None:
    core = client.CoreV1Api(k8s_api)
    created = plain(
        core.create_namespaced_config_map(
            k8s_namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="watched"), data={"v": "1"})
        )
    )
    core.patch_namespaced_config_map("watched", k8s_namespace, {"data": {"v": "2"}})

    events = watch.Watch().stream(  # type: ignore[no-untyped-call]
        core.list_namespaced_config_map,
        k8s_namespace,
        field_selector="metadata.name=watched",
        resource_version=created["metadata"]["resourceVersion"],
        timeout_seconds=10,
    )
    event = next(events)

    assert event["type"] == "MODIFIED"
    assert event["raw_object"]["data"] == {"v": "2"}


def test_pod_sees_secret_env_and_reports_its_termination_message(
    k8s_api: client.ApiClient, k8s_namespace: str, kubelet: TestKubelet
) -> None:
    core = client.CoreV1Api(k8s_api)
    core.create_namespaced_secret(
        k8s_namespace, client.V1Secret(metadata=client.V1ObjectMeta(name="db"), string_data={"password": "s3cr3t"})
    )
    core.create_namespaced_config_map(
        k8s_namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="settings"), data={"MODE": "safe"})
    )
    script = 'printf "saw %s" "$DB_PASSWORD" > /dev/termination-log; echo "$(GREETING)"'
    container = {
        "name": "main",
        "image": "busybox:1.36",
        "command": ["sh", "-c", script],
        "env": [
            {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
            {"name": "GREETING", "value": "mode $(CFG_MODE)"},
        ],
        "envFrom": [{"prefix": "CFG_", "configMapRef": {"name": "settings"}}],
    }
    core.create_namespaced_pod(k8s_namespace, pod("reader", container))

    finished = wait_for("the pod to finish", lambda: finished_pod(core, k8s_namespace, "reader"))

    assert finished["status"]["phase"] == "Succeeded"
    assert (terminated(finished)["exitCode"], terminated(finished)["message"]) == (0, "saw s3cr3t")
    assert kubelet.logs(k8s_namespace, "reader") == "mode safe\n"


def test_mounted_volumes_and_fallback_to_logs_on_error(k8s_api: client.ApiClient, k8s_namespace: str) -> None:
    core = client.CoreV1Api(k8s_api)
    core.create_namespaced_config_map(
        k8s_namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="app"), data={"app.yaml": "level: 3"})
    )
    core.create_namespaced_secret(
        k8s_namespace, client.V1Secret(metadata=client.V1ObjectMeta(name="creds"), string_data={"token": "t0k"})
    )
    container = {
        "name": "main",
        "image": "busybox:1.36",
        "command": ["sh", "-c", "cat /etc/app/app.yaml; echo; cat $TOKEN_FILE; exit 3"],
        "env": [{"name": "TOKEN_FILE", "value": "/var/run/creds/token"}],
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": [
            {"name": "config", "mountPath": "/etc/app"},
            {"name": "creds", "mountPath": "/var/run/creds", "readOnly": True},
        ],
    }
    volumes = [
        {"name": "config", "configMap": {"name": "app"}},
        {"name": "creds", "secret": {"secretName": "creds"}},
    ]
    core.create_namespaced_pod(k8s_namespace, pod("mounts", container, volumes=volumes))

    finished = wait_for("the pod to finish", lambda: finished_pod(core, k8s_namespace, "mounts"))

    assert finished["status"]["phase"] == "Failed"
    assert (terminated(finished)["exitCode"], terminated(finished)["message"]) == (3, "level: 3\nt0k")


def test_pod_of_an_image_the_kubelet_cannot_run_fails_with_a_reason(
    k8s_api: client.ApiClient, k8s_namespace: str
) -> None:
    core = client.CoreV1Api(k8s_api)
    container = {"name": "main", "image": "example.com/tool:1", "command": ["no-such-tool", "--go"]}
    core.create_namespaced_pod(k8s_namespace, pod("foreign", container))

    finished = wait_for("the pod to finish", lambda: finished_pod(core, k8s_namespace, "foreign"))

    status = finished["status"]
    assert (status["phase"], status["reason"]) == ("Failed", "ImageNotRunnable")
    assert "example.com/tool:1" in status["message"]
    assert "no-such-tool" in status["message"]


def test_dbmigrate_image_runs_the_local_install(
    k8s_api: client.ApiClient, k8s_namespace: str, kubelet: TestKubelet
) -> None:
    core = client.CoreV1Api(k8s_api)
    container = {
        "name": "main",
        "image": "ghcr.io/dbmigrate/dbmigrate:0.1.0",
        "command": ["python", "-c", "import dbmigrate, sys; print(sys.executable)"],
    }
    core.create_namespaced_pod(k8s_namespace, pod("local", container))

    finished = wait_for("the pod to finish", lambda: finished_pod(core, k8s_namespace, "local"))

    assert finished["status"]["phase"] == "Succeeded"
    assert kubelet.logs(k8s_namespace, "local").strip().startswith(sys.prefix)


def test_job_pod_restarts_on_failure_after_its_init_container(
    k8s_api: client.ApiClient, k8s_namespace: str, kubelet: TestKubelet
) -> None:
    batch, core = client.BatchV1Api(k8s_api), client.CoreV1Api(k8s_api)
    # Fails on the first run, succeeds on the second: the emptyDir outlives a container restart.
    script = "cat /work/greeting; [ -f /work/tried ] && exit 0; touch /work/tried; exit 1"
    mount = [{"name": "work", "mountPath": "/work"}]
    spec = {
        "restartPolicy": "OnFailure",
        "volumes": [{"name": "work", "emptyDir": {}}],
        "initContainers": [
            {
                "name": "init",
                "image": "busybox:1.36",
                "command": ["sh", "-c", "echo hi > /work/greeting"],
                "volumeMounts": mount,
            }
        ],
        "containers": [
            {"name": "main", "image": "busybox:1.36", "command": ["sh", "-c", script], "volumeMounts": mount}
        ],
    }
    body = {"metadata": {"name": "retry"}, "spec": {"backoffLimit": 2, "template": {"spec": spec}}}
    batch.create_namespaced_job(k8s_namespace, client.V1Job.model_validate(body))

    condition = wait_for("the Job to finish", lambda: finished_condition(batch, k8s_namespace, "retry"))

    assert condition["type"] == "Complete"
    (only,) = job_pods(core, k8s_namespace, "retry")
    assert only["status"]["containerStatuses"][0]["restartCount"] == 1
    assert kubelet.logs(k8s_namespace, only["metadata"]["name"]) == "hi\nhi\n"
