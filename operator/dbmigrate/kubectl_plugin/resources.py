"""The API calls of the plugin: one DatabaseMigration, its Jobs and their pods, through a kubeconfig context.

Annotation changes carry the ``resourceVersion`` that was read, so the API server refuses them (409) when the
resource changed in between — an approval can never land on a plan other than the one just shown.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from typing import Any, cast

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

GROUP, VERSION, PLURAL = "dbmigrate.io", "v1alpha1", "databasemigrations"
APPROVED_PLAN = "dbmigrate.io/approved-plan"
REJECTED_PLAN = "dbmigrate.io/rejected-plan"
RETRY = "dbmigrate.io/retry"
LABEL_OWNER_UID = "dbmigrate.io/owner-uid"
LABEL_STEP = "dbmigrate.io/step"
JOB_CONTAINER = "dbmigrate"

Obj = dict[str, Any]


class PluginError(Exception):
    """Something to tell the user, and exit 1: a missing resource, a refused change, an unreadable log."""


@dataclasses.dataclass(frozen=True)
class Connection:
    api: client.ApiClient
    namespace: str


def connect(*, kubeconfig: str | None, context: str | None, namespace: str | None) -> Connection:
    """A client for ``context`` of ``kubeconfig`` (kubectl's defaults when None); the namespace is the flag, else
    the context's, else ``default`` — as kubectl decides it."""
    configuration = client.Configuration()
    try:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig, context=context, client_configuration=configuration
        )
        contexts, current = config.list_kube_config_contexts(config_file=kubeconfig)  # type: ignore[no-untyped-call]
    except (config.ConfigException, OSError) as exc:
        raise PluginError(f"cannot load the kubeconfig: {exc}") from None
    active = next((c for c in contexts if c["name"] == context), current) if context else current
    chosen = namespace or (active.get("context") or {}).get("namespace") or "default"
    return Connection(api=client.ApiClient(configuration), namespace=chosen)


class Migrations:
    """DatabaseMigrations of one namespace."""

    def __init__(self, connection: Connection) -> None:
        self.namespace = connection.namespace
        self._custom = client.CustomObjectsApi(connection.api)
        self._batch = client.BatchV1Api(connection.api)
        self._core = client.CoreV1Api(connection.api)
        self._api = connection.api

    def get(self, name: str) -> Obj:
        try:
            obj = self._custom.get_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, name)
        except ApiException as exc:
            raise _error(exc, f'databasemigrations.dbmigrate.io "{name}"') from None
        return cast(Obj, obj)

    def annotate(self, obj: Mapping[str, Any], annotations: Mapping[str, str | None]) -> Obj:
        """Set (``None``: remove) annotations, provided the resource is still the version ``obj`` was read at."""
        meta = obj["metadata"]
        patch = {"metadata": {"resourceVersion": meta["resourceVersion"], "annotations": dict(annotations)}}
        try:
            updated = self._custom.patch_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, meta["name"], patch
            )
        except ApiException as exc:
            if exc.status == 409:
                raise PluginError(
                    f"databasemigration {meta['name']} changed while this command ran; look at it again and retry"
                ) from None
            raise _error(exc, f"databasemigration {meta['name']}") from None
        return cast(Obj, updated)

    def latest_job(self, obj: Mapping[str, Any], *, step: str | None) -> Obj | None:
        """The newest Job the operator created for ``obj`` (of ``step``, when given); None if there is none."""
        selector = f"{LABEL_OWNER_UID}={obj['metadata']['uid']}" + (f",{LABEL_STEP}={step}" if step else "")
        try:
            jobs = self._batch.list_namespaced_job(self.namespace, label_selector=selector).items
        except ApiException as exc:
            raise _error(exc, "jobs") from None
        return _newest(self._plain(job) for job in jobs)

    def latest_pod(self, job_name: str) -> Obj | None:
        try:
            pods = self._core.list_namespaced_pod(self.namespace, label_selector=f"job-name={job_name}").items
        except ApiException as exc:
            raise _error(exc, "pods") from None
        return _newest(self._plain(pod) for pod in pods)

    def pod_log(self, pod_name: str) -> str:
        """The Job container's log, through the API server's pods/log (which asks the node's kubelet)."""
        try:
            text = self._core.read_namespaced_pod_log(pod_name, self.namespace, container=JOB_CONTAINER)
        except ApiException as exc:
            raise _error(exc, f"the log of pod {pod_name}") from None
        return str(text)

    def _plain(self, model: object) -> Obj:
        return cast(Obj, self._api.sanitize_for_serialization(model))  # type: ignore[no-untyped-call]


def _newest(objs: Iterable[Obj]) -> Obj | None:
    """By creationTimestamp (RFC 3339 in UTC, so the strings sort as the times do); the name breaks ties."""
    return max(objs, key=lambda obj: (obj["metadata"]["creationTimestamp"], obj["metadata"]["name"]), default=None)


def _error(exc: ApiException, what: str) -> PluginError:
    """kubectl's wording: ``Error from server (NotFound): ... not found``."""
    reasons = {401: "Unauthorized", 403: "Forbidden", 404: "NotFound"}
    if exc.status == 404:
        return PluginError(f"Error from server (NotFound): {what} not found")
    reason = reasons.get(exc.status or 0, exc.reason or f"HTTP {exc.status}")
    return PluginError(f"Error from server ({reason}): {what}: {_message(exc)}")


def _message(exc: ApiException) -> str:
    try:
        return str(json.loads(exc.body or "{}").get("message") or exc.reason)
    except ValueError:
        return str(exc.body or exc.reason)
