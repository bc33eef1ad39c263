"""The Helm chart, rendered by a real helm: lint, values schema, CRDs in sync with crds/, least-privilege RBAC,
restricted pod security, peering for replicas, metrics. Applying it to a real API server is test_chart_e2e.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dbmigrate.controller import main
from tests.packaging import chart

REPO_CRDS = chart.REPO / "crds"
CRD_FILE, PEERING_FILE = "dbmigrate.io_databasemigrations.yaml", "kopf-peering.yaml"
RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}


def test_lint_passes_strict(helm: Path) -> None:
    result = chart.run(helm, "lint", "--strict", str(chart.CHART))
    assert result.returncode == 0, result.stdout + result.stderr


def test_lint_passes_for_namespaced_install(helm: Path) -> None:
    result = chart.run(helm, "lint", "--strict", str(chart.CHART), "--set", "watchNamespaces={team-a,team-b}")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "typo",
    ["replicas=2", "image.tags=v1", "metrics.serviceMonitor.enable=true", "crds.instal=false"],
)
def test_a_typo_in_values_fails_the_install(helm: Path, typo: str) -> None:
    result = chart.run(helm, "template", "x", str(chart.CHART), "--set", typo)
    assert result.returncode != 0
    assert "additional properties" in result.stderr


def test_the_chart_crds_are_the_repository_crds() -> None:
    """The chart ships copies (Helm cannot read outside the chart): they must not drift from crds/."""
    pairs = [
        (chart.CHART / "files" / "crds" / CRD_FILE, CRD_FILE),
        (chart.CHART / "crds" / PEERING_FILE, PEERING_FILE),
    ]
    for copy, original in pairs:
        assert copy.read_bytes() == (REPO_CRDS / original).read_bytes(), (
            f"{copy} differs from crds/{original}: run hack/helm/sync-crds.sh"
        )


def test_crds_are_templated_with_keep_policy_and_can_be_turned_off(helm: Path) -> None:
    (crd,) = chart.find(chart.render(helm), "CustomResourceDefinition", "databasemigrations.dbmigrate.io")
    assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert crd["spec"]["versions"][0]["subresources"] == {"status": {}}
    templated = chart.render(helm, values={"crds": {"install": False}})
    assert chart.find(templated, "CustomResourceDefinition", "databasemigrations.dbmigrate.io") == []


def test_operator_pod_is_restricted(helm: Path) -> None:
    pod = chart.one(chart.render(helm), "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    assert container["securityContext"] == RESTRICTED_CONTAINER
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/tmp"}
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert "--liveness=http://0.0.0.0:8080/healthz" in container["args"]


def test_job_security_context_reaches_the_operator(helm: Path) -> None:
    container = chart.one(chart.render(helm), "Deployment")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert json.loads(env["DBMIGRATE_OPERATOR_JOB_CONTAINER_SECURITY_CONTEXT"]) == RESTRICTED_CONTAINER
    assert json.loads(env["DBMIGRATE_OPERATOR_JOB_POD_SECURITY_CONTEXT"])["runAsNonRoot"] is True


def test_scheduling_and_pull_secrets_are_passed_through(helm: Path) -> None:
    values = {
        "nodeSelector": {"pool": "system"},
        "tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {"podAntiAffinity": {}},
        "imagePullSecrets": [{"name": "registry"}],
        "image": {"repository": "registry.example/dbmigrate", "tag": "1.2.3"},
    }
    pod = chart.one(chart.render(helm, values=values), "Deployment")["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"pool": "system"}
    assert pod["tolerations"] == values["tolerations"]
    assert pod["affinity"] == {"podAntiAffinity": {}}
    assert pod["imagePullSecrets"] == [{"name": "registry"}]
    assert pod["containers"][0]["image"] == "registry.example/dbmigrate:1.2.3"


def test_replicas_spread_over_nodes_by_default(helm: Path) -> None:
    pod = chart.one(chart.render(helm), "Deployment")["spec"]["template"]["spec"]
    (term,) = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"]["app.kubernetes.io/name"] == "dbmigrate-operator"


def test_cluster_wide_install_uses_a_cluster_role_and_cluster_peering(helm: Path) -> None:
    manifests = chart.render(helm)
    assert chart.find(manifests, "Role") == [] and chart.find(manifests, "RoleBinding") == []
    for binding in chart.find(manifests, "ClusterRoleBinding"):
        assert binding["subjects"][0]["namespace"] == "dbmigrate-system"
    peering = chart.one(manifests, "ClusterKopfPeering")
    args = chart.one(manifests, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--all-namespaces" in args
    assert f"--peering={peering['metadata']['name']}" in args


def test_namespaced_install_has_a_role_and_peering_per_namespace_and_nothing_cluster_wide(helm: Path) -> None:
    manifests = chart.render(helm, values={"watchNamespaces": ["team-a", "team-b"]})
    (cluster_role,) = chart.find(manifests, "ClusterRole")
    assert cluster_role["metadata"]["name"].endswith("-discovery"), "namespaced installs grant only read-only discovery"
    assert {verb for rule in cluster_role["rules"] for verb in rule["verbs"]} == {"list", "watch"}
    resources = {res for rule in cluster_role["rules"] for res in rule["resources"]}
    assert resources == {"customresourcedefinitions", "namespaces"}
    assert {r["metadata"]["namespace"] for r in chart.find(manifests, "Role")} == {"team-a", "team-b"}
    assert {r["metadata"]["namespace"] for r in chart.find(manifests, "RoleBinding")} == {"team-a", "team-b"}
    assert {p["metadata"]["namespace"] for p in chart.find(manifests, "KopfPeering")} == {"team-a", "team-b"}
    args = chart.one(manifests, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--namespace=team-a" in args and "--namespace=team-b" in args


def test_selectors_become_operator_flags(helm: Path) -> None:
    values = {"selector": {"team": "orders"}, "configMapSelector": {"dbmigrate.io/migrations": "true"}}
    manifests = chart.render(helm, values=values)
    args = chart.one(manifests, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--selector=team=orders" in args and "--configmap-selector=dbmigrate.io/migrations=true" in args
    assert main.build_parser().parse_known_args(args)[0].configmap_selector == ["dbmigrate.io/migrations=true"]


def test_rbac_grants_no_secret_listing_no_deletes_and_no_wildcards(helm: Path) -> None:
    rules = [rule for role in chart.find(chart.render(helm), "ClusterRole") for rule in role["rules"]]
    for rule in rules:
        assert "*" not in rule["verbs"] and "*" not in rule["resources"] and "*" not in rule["apiGroups"]
        assert not {"delete", "deletecollection", "update", "escalate", "bind", "impersonate"} & set(rule["verbs"])
    secrets = [r for r in rules if "secrets" in r["resources"]]
    assert [r["verbs"] for r in secrets] == [["get"]]
    pods = [r for r in rules if "pods" in r["resources"]]
    assert [r["verbs"] for r in pods] == [["list"]]


def test_volume_snapshot_creation_can_be_withheld(helm: Path) -> None:
    manifests = chart.render(helm, values={"rbac": {"createVolumeSnapshots": False}})
    rules = [rule for role in chart.find(manifests, "ClusterRole") for rule in role["rules"]]
    (snapshots,) = [r for r in rules if "volumesnapshots" in r["resources"]]
    assert snapshots["verbs"] == ["get", "list"]


def test_metrics_service_and_optional_service_monitor(helm: Path) -> None:
    manifests = chart.render(helm)
    service = chart.one(manifests, "Service")
    assert service["spec"]["ports"][0]["port"] == 9090
    assert chart.find(manifests, "ServiceMonitor") == []
    monitored = chart.render(helm, values={"metrics": {"serviceMonitor": {"enabled": True}}})
    monitor = chart.one(monitored, "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert monitor["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]


def test_settings_become_operator_environment(helm: Path) -> None:
    values = {"operator": {"settings": {"pollSeconds": 2, "retryLimit": 3}, "jobImage": "registry.example/jobs:1"}}
    container = chart.one(chart.render(helm, values=values), "Deployment")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["DBMIGRATE_OPERATOR_POLL_SECONDS"] == "2"
    assert env["DBMIGRATE_OPERATOR_RETRY_LIMIT"] == "3"
    assert "DBMIGRATE_OPERATOR_RESYNC_SECONDS" not in env
    assert env["DBMIGRATE_OPERATOR_DEFAULT_IMAGE"] == "registry.example/jobs:1"
