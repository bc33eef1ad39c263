"""Putting rendered manifests on the real local API server and acting as the chart's ServiceAccount.

Server-side apply (``application/apply-patch+yaml`` with a field manager), as ``kubectl apply --server-side``,
Argo CD and Flux do; the ServiceAccount's credentials are a TokenRequest token, so every call made with them is
authorized by the chart's RBAC and nothing else.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, dynamic
from kubernetes import config as kube_config
from kubernetes.client.exceptions import ApiException

from tests.packaging.chart import Manifest

FIELD_MANAGER = "dbmigrate-chart-test"


def apply(api: client.ApiClient, manifests: Sequence[Manifest], *, dry_run: bool = False) -> None:
    """Server-side apply each manifest; CRDs first, waiting until they are served, as Helm orders them."""
    crds = [m for m in manifests if m["kind"] == "CustomResourceDefinition"]
    for manifest in crds:
        _apply_one(dynamic.DynamicClient(api), manifest, dry_run=dry_run)  # type: ignore[no-untyped-call]
    for manifest in crds:
        if not dry_run:
            _wait_established(api, manifest["metadata"]["name"])
    resources = dynamic.DynamicClient(api)  # type: ignore[no-untyped-call]  # discovery after the CRDs exist
    for manifest in manifests:
        if manifest["kind"] != "CustomResourceDefinition":
            _apply_one(resources, manifest, dry_run=dry_run)


def _apply_one(resources: dynamic.DynamicClient, manifest: Manifest, *, dry_run: bool) -> None:
    kind = resources.resources.get(api_version=manifest["apiVersion"], kind=manifest["kind"])
    extra: dict[str, Any] = {"dry_run": "All"} if dry_run else {}
    resources.server_side_apply(  # type: ignore[no-untyped-call]
        kind,
        body=manifest,
        namespace=manifest["metadata"].get("namespace"),
        field_manager=FIELD_MANAGER,
        force_conflicts=True,
        **extra,
    )


def _wait_established(api: client.ApiClient, name: str, timeout: float = 30.0) -> None:
    extensions = client.ApiextensionsV1Api(api)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        crd = extensions.read_custom_resource_definition(name)
        conditions = (crd.status.conditions or []) if crd.status else []
        if any(c.type == "Established" and c.status == "True" for c in conditions):
            return
        time.sleep(0.2)
    raise AssertionError(f"CRD {name} not established after {timeout:.0f}s")


def delete_cluster_scoped(api: client.ApiClient, manifests: Sequence[Manifest]) -> None:
    """Remove what a test created outside its namespaces (ClusterRoles, bindings, ClusterKopfPeerings); CRDs stay,
    as Helm's keep policy would leave them."""
    resources = dynamic.DynamicClient(api)  # type: ignore[no-untyped-call]
    for manifest in manifests:
        if manifest["kind"] == "CustomResourceDefinition" or manifest["metadata"].get("namespace"):
            continue
        kind = resources.resources.get(api_version=manifest["apiVersion"], kind=manifest["kind"])
        if kind.namespaced:
            continue
        try:
            resources.delete(kind, name=manifest["metadata"]["name"])  # type: ignore[no-untyped-call]
        except ApiException as error:
            if error.status != 404:
                raise


def service_account_kubeconfig(
    api: client.ApiClient, *, admin_kubeconfig: Path, namespace: str, name: str, path: Path
) -> Path:
    """A kubeconfig authenticating as ServiceAccount ``namespace/name`` with a fresh TokenRequest token (1 h)."""
    request = client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=3600))
    issued = client.CoreV1Api(api).create_namespaced_service_account_token(name, namespace, request)
    assert issued.status is not None
    token = issued.status.token
    admin = yaml.safe_load(admin_kubeconfig.read_text())
    cluster = admin["clusters"][0]["cluster"]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "local", "cluster": cluster}],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": "local", "user": name, "namespace": namespace}}],
        "current-context": name,
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def api_client(kubeconfig: Path) -> client.ApiClient:
    configuration = client.Configuration()
    kube_config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)  # type: ignore[no-untyped-call]
    return client.ApiClient(configuration)


def allowed(api: client.ApiClient, *, verb: str, resource: str, namespace: str | None, group: str = "") -> bool:
    """What the API server answers the caller of ``api`` for this request (SelfSubjectAccessReview)."""
    subresource = ""
    if "/" in resource:
        resource, subresource = resource.split("/", 1)
    attributes = client.V1ResourceAttributes(
        verb=verb, group=group, resource=resource, subresource=subresource or None, namespace=namespace
    )
    review = client.V1SelfSubjectAccessReview(spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=attributes))
    answer = client.AuthorizationV1Api(api).create_self_subject_access_review(review)
    assert answer.status is not None
    return bool(answer.status.allowed)
