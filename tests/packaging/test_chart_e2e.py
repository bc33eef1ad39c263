"""End to end: the chart's manifests on the real local API server, and the operator running from them.

The operator runs as local processes (there is no container runtime) but exactly as the rendered Deployment says:
its command, arguments and environment, two replicas with their own pod names, authenticated as the chart's
ServiceAccount by a TokenRequest token — so the chart's RBAC, and nothing else, is what lets it work.
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.operator import harness
from tests.packaging import chart, cluster

pytestmark = pytest.mark.e2e

MIGRATIONS = {
    "001_customers.up.sql": "CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT NOT NULL);",
    "001_customers.down.sql": "DROP TABLE customers;",
}
#: how a refusal shows in a replica's log: the API's status reason or RBAC message, or kopf's own warning
#: (a bare "403" would also match timestamps and kopf's peer ids)
REFUSAL = re.compile(r"forbidden|not enough permissions|cannot (get|list|watch|create|patch|update|delete) ", re.I)
#: the label a cluster-wide install selects on
TEST_LABEL = "dbmigrate.io/test"
#: fast loops for tests (the chart's operator.settings)
SETTINGS = {"pollSeconds": 1, "resyncSeconds": 120, "retryBaseSeconds": 1, "retryMaxSeconds": 2}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Release:
    """One rendered release: its manifests, and what a test needs to know about them."""

    def __init__(self, manifests: list[chart.Manifest], *, namespace: str) -> None:
        self.manifests = manifests
        self.namespace = namespace
        self.deployment = chart.one(manifests, "Deployment")
        self.service_account = chart.one(manifests, "ServiceAccount")["metadata"]["name"]

    def without_deployment(self) -> list[chart.Manifest]:
        return [m for m in self.manifests if m["kind"] != "Deployment"]


@pytest.fixture
def release_namespace(k8s_api: client.ApiClient) -> Iterator[str]:
    """The namespace the chart is installed into — not a watched one, so every grant must cross namespaces."""
    name = f"dbmigrate-system-{uuid.uuid4().hex[:6]}"
    core = client.CoreV1Api(k8s_api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name)


def _install(helm: Path, api: client.ApiClient, *, namespace: str, values: Mapping[str, Any]) -> Iterator[Release]:
    release = Release(
        chart.render(helm, namespace=namespace, release=f"t{uuid.uuid4().hex[:6]}", values=values),
        namespace=namespace,
    )
    # The Deployment is checked by a server-side dry run only: applied for real, the test kubelet would start its
    # pods, which have no in-cluster credentials here. The operator runs from the same manifest below instead.
    cluster.apply(api, release.without_deployment())
    cluster.apply(api, [release.deployment], dry_run=True)
    yield release
    cluster.delete_cluster_scoped(api, release.manifests)


@pytest.fixture
def release(
    helm: Path, k8s_api: client.ApiClient, release_namespace: str, k8s_namespace: str, request: pytest.FixtureRequest
) -> Iterator[Release]:
    """The chart installed to watch the test's namespace (a Role there), or with ``cluster-wide`` (indirect
    parameter) every namespace (a ClusterRole) — then restricted by a label selector to the test's resources, as
    other tests share the cluster."""
    mode = getattr(request, "param", "namespaced")
    scope: dict[str, Any] = {"watchNamespaces": [k8s_namespace]}
    if mode == "cluster-wide":
        scope = {"selector": {TEST_LABEL: k8s_namespace}}
    yield from _install(
        helm, k8s_api, namespace=release_namespace, values={**scope, "operator": {"settings": SETTINGS}}
    )


@pytest.fixture
def sa_kubeconfig(k8s_api: client.ApiClient, kubeconfig: Path, release: Release, tmp_path: Path) -> Path:
    return cluster.service_account_kubeconfig(
        k8s_api,
        admin_kubeconfig=kubeconfig,
        namespace=release.namespace,
        name=release.service_account,
        path=tmp_path / "operator.kubeconfig",
    )


class Replica:
    """The Deployment's container as a local process: its command and args, its env (POD_NAME as the pod would
    get it), and ports of its own — pods have a network namespace each, local processes share one."""

    def __init__(self, deployment: chart.Manifest, *, pod_name: str, kubeconfig: Path, log: Path) -> None:
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        self.health_port, self.metrics_port = _free_port(), _free_port()
        args = [self._own_ports(arg) for arg in container["args"]]
        env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
        env |= {
            "POD_NAME": pod_name,
            "KUBECONFIG": str(kubeconfig),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "HOME": str(log.parent),
        }
        self.log = log
        with log.open("ab") as output:
            self.process = subprocess.Popen(
                [*container["command"], *args], env=env, stdout=output, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def _own_ports(self, arg: str) -> str:
        if arg.startswith("--liveness="):
            return f"--liveness=http://127.0.0.1:{self.health_port}/healthz"
        if arg.startswith("--metrics-port="):
            return f"--metrics-port={self.metrics_port}"
        return arg

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def replicas(release: Release, sa_kubeconfig: Path, tmp_path: Path) -> Iterator[list[Replica]]:
    """Two replicas; their logs are printed at teardown (pytest shows them when the test failed)."""
    started = [
        Replica(
            release.deployment,
            pod_name=f"{release.deployment['metadata']['name']}-7d9f8c-{suffix}",
            kubeconfig=sa_kubeconfig,
            log=tmp_path / f"replica-{suffix}.log",
        )
        for suffix in ("x2k4p", "q8w1z")
    ]
    yield started
    for replica in started:
        replica.stop()
    for replica in started:
        print(f"--- {replica.log.name} ---\n{replica.output()[-15000:]}")


@pytest.mark.parametrize("release", ["namespaced", "cluster-wide"], indirect=True)
def test_operator_migrates_with_only_the_charts_rbac(
    replicas: list[Replica], release: Release, k8s_api: client.ApiClient, k8s_namespace: str, pg_url: str
) -> None:
    kube = harness.Kube(k8s_api, k8s_namespace)
    kube.secret("db", {"url": pg_url})
    kube.configmap("migrations", MIGRATIONS)
    body = {
        "apiVersion": f"{harness.GROUP}/{harness.VERSION}",
        "kind": "DatabaseMigration",
        "metadata": {"name": "customers", "labels": {TEST_LABEL: k8s_namespace}},
        "spec": harness.spec(),
    }
    kube.custom.create_namespaced_custom_object(harness.GROUP, harness.VERSION, k8s_namespace, harness.PLURAL, body)

    done = kube.wait_phase("customers", "Succeeded", "Failed", "Blocked", "RolledBack", timeout=90)

    assert done["status"]["phase"] == "Succeeded", done["status"]
    assert harness.conditions(done)["Ready"] == "True"
    assert "customers" in harness.tables(pg_url)
    for replica in replicas:
        assert replica.process.poll() is None, f"{replica.log.name} exited:\n{replica.output()[-5000:]}"
        refused = REFUSAL.search(replica.output())
        assert refused is None, f"{replica.log.name} was refused something ({refused}):\n{replica.output()}"


def test_replicas_peer_through_the_charts_peering_object(
    replicas: list[Replica], release: Release, k8s_api: client.ApiClient, k8s_namespace: str
) -> None:
    (peering,) = chart.find(release.manifests, "KopfPeering")
    custom = client.CustomObjectsApi(k8s_api)

    def both_announced() -> dict[str, Any] | None:
        obj = cast(
            dict[str, Any],
            custom.get_namespaced_custom_object(
                "kopf.dev", "v1", k8s_namespace, "kopfpeerings", peering["metadata"]["name"]
            ),
        )
        peers = dict(obj.get("status") or {})
        return peers if len(peers) == 2 else None

    peers = harness.wait_for("both replicas in the peering object", both_announced, timeout=60)
    priorities = {peer["priority"] for peer in peers.values()}
    assert len(priorities) == 2, f"replicas must have distinct priorities (equal ones freeze both): {peers}"


@pytest.mark.parametrize(
    ("verb", "resource", "group"),
    [
        ("create", "jobs", "batch"),
        ("get", "jobs/status", "batch"),
        ("patch", "databasemigrations/status", "dbmigrate.io"),
        ("watch", "databasemigrations", "dbmigrate.io"),
        ("get", "secrets", ""),
        ("create", "events", ""),
        ("patch", "kopfpeerings", "kopf.dev"),
    ],
)
def test_the_operator_may_do_what_it_needs(
    k8s_namespace: str, sa_kubeconfig: Path, verb: str, resource: str, group: str
) -> None:
    with cluster.api_client(sa_kubeconfig) as api:
        assert cluster.allowed(api, verb=verb, resource=resource, group=group, namespace=k8s_namespace)


#: requests the operator must be refused, in a watched namespace unless a namespace is given
DENIED: Sequence[tuple[str, str, str, str | None]] = [
    ("list", "secrets", "", "watched"),
    ("watch", "secrets", "", "watched"),
    ("delete", "secrets", "", "watched"),
    ("create", "secrets", "", "watched"),
    ("get", "secrets", "", "kube-system"),
    ("create", "pods", "", "watched"),
    ("create", "pods/exec", "", "watched"),
    ("delete", "jobs", "batch", "watched"),
    ("update", "jobs", "batch", "watched"),
    ("create", "jobs", "batch", "default"),
    ("delete", "databasemigrations", "dbmigrate.io", "watched"),
    ("create", "configmaps", "", "watched"),
    ("create", "deployments", "apps", "watched"),
    ("create", "rolebindings", "rbac.authorization.k8s.io", "watched"),
    ("escalate", "clusterroles", "rbac.authorization.k8s.io", None),
    ("bind", "clusterroles", "rbac.authorization.k8s.io", None),
    ("impersonate", "serviceaccounts", "", "watched"),
    ("create", "serviceaccounts/token", "", "watched"),
    ("delete", "namespaces", "", None),
    ("*", "*", "*", None),
]


@pytest.mark.parametrize(("verb", "resource", "group", "where"), DENIED)
def test_the_operator_may_not(
    k8s_namespace: str, sa_kubeconfig: Path, verb: str, resource: str, group: str, where: str | None
) -> None:
    namespace = k8s_namespace if where == "watched" else where
    with cluster.api_client(sa_kubeconfig) as api:
        assert not cluster.allowed(api, verb=verb, resource=resource, group=group, namespace=namespace)


def test_operator_pod_passes_restricted_pod_security(
    release: Release, k8s_api: client.ApiClient, release_namespace: str
) -> None:
    """The API server's PodSecurity admission at level restricted admits the operator's pod template; the same
    pod without its security contexts is refused, so the admission is really enforcing."""
    core = client.CoreV1Api(k8s_api)
    level = "pod-security.kubernetes.io/enforce"
    labels = {level: "restricted", f"{level}-version": "latest"}
    core.patch_namespace(release_namespace, {"metadata": {"labels": labels}})
    template = release.deployment["spec"]["template"]
    metadata = {"name": "operator-psa", **template["metadata"]}
    pod: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template["spec"]}
    core.create_namespaced_pod(release_namespace, client.V1Pod.model_validate(pod), dry_run="All")

    insecure = copy.deepcopy(pod)
    insecure["spec"].pop("securityContext")
    insecure["spec"]["containers"][0].pop("securityContext")
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_pod(release_namespace, client.V1Pod.model_validate(insecure), dry_run="All")
    assert refused.value.status == 403 and "restricted" in str(refused.value.body)


def test_jobs_the_operator_creates_are_restricted(
    replicas: list[Replica], k8s_api: client.ApiClient, k8s_namespace: str, pg_url: str
) -> None:
    """The watched namespace enforces the restricted Pod Security Standard: the Job pods are only admitted (and the
    migration only succeeds) because the chart passes restricted security contexts to the operator."""
    level = "pod-security.kubernetes.io/enforce"
    labels = {level: "restricted", f"{level}-version": "latest"}
    client.CoreV1Api(k8s_api).patch_namespace(k8s_namespace, {"metadata": {"labels": labels}})
    kube = harness.Kube(k8s_api, k8s_namespace)
    kube.secret("db", {"url": pg_url})
    kube.configmap("migrations", MIGRATIONS)
    kube.apply("customers", harness.spec())

    done = kube.wait_phase("customers", "Succeeded", "Failed", "Blocked", "RolledBack", timeout=90)

    assert done["status"]["phase"] == "Succeeded", done["status"]
    for name in kube.jobs():
        job = kube.batch.read_namespaced_job(name, k8s_namespace)
        assert job.spec is not None and job.spec.template.spec is not None
        pod = job.spec.template.spec
        assert pod.security_context is not None and pod.security_context.run_as_non_root is True
        container = pod.containers[0].security_context
        assert container is not None and container.read_only_root_filesystem is True
        assert container.capabilities is not None and container.capabilities.drop == ["ALL"]
        assert container.allow_privilege_escalation is False


def test_helm_install_upgrade_and_uninstall(
    helm: Path, k8s_api: client.ApiClient, kubeconfig: Path, release_namespace: str, k8s_namespace: str
) -> None:
    """Helm itself against the API server: the install order works (kopf's peering CRDs before the peering object
    that needs them), an upgrade changes what it should, an uninstall keeps the CRD. No replicas: there is no
    container runtime, and the operator running from the chart is proven above."""
    extensions = client.ApiextensionsV1Api(k8s_api)
    name = f"h{uuid.uuid4().hex[:6]}"
    crd = "databasemigrations.dbmigrate.io"
    with contextlib.suppress(ApiException):  # created by other tests without Helm: let this release adopt it
        extensions.patch_custom_resource_definition(
            crd,
            {
                "metadata": {
                    "labels": {"app.kubernetes.io/managed-by": "Helm"},
                    "annotations": {
                        "meta.helm.sh/release-name": name,
                        "meta.helm.sh/release-namespace": release_namespace,
                    },
                }
            },
        )
    common = ["--namespace", release_namespace, "--kubeconfig", str(kubeconfig)]
    values = ["--set", "replicaCount=0", "--set", f"watchNamespaces={{{k8s_namespace}}}"]

    installed = chart.run(helm, "install", name, str(chart.CHART), *common, *values)
    assert installed.returncode == 0, installed.stderr
    assert "The dbmigrate operator is installed" in installed.stdout  # NOTES.txt
    custom = client.CustomObjectsApi(k8s_api)
    fullname = f"{name}-dbmigrate-operator"
    custom.get_namespaced_custom_object("kopf.dev", "v1", k8s_namespace, "kopfpeerings", fullname)
    client.RbacAuthorizationV1Api(k8s_api).read_namespaced_role(fullname, k8s_namespace)

    upgraded = chart.run(
        helm, "upgrade", name, str(chart.CHART), *common, "--reuse-values", "--set", "metrics.port=9191"
    )
    assert upgraded.returncode == 0, upgraded.stderr
    service = client.CoreV1Api(k8s_api).read_namespaced_service(f"{fullname}-metrics", release_namespace)
    assert service.spec is not None and service.spec.ports is not None and service.spec.ports[0].port == 9191

    removed = chart.run(helm, "uninstall", name, *common)
    assert removed.returncode == 0, removed.stderr
    assert extensions.read_custom_resource_definition(crd).metadata is not None  # kept: resource-policy keep
    with pytest.raises(ApiException) as gone:
        client.RbacAuthorizationV1Api(k8s_api).read_namespaced_role(fullname, k8s_namespace)
    assert gone.value.status == 404
