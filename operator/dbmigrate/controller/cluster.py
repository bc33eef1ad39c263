"""What the operator reads and writes in the cluster besides its own resource: ConfigMaps, Secrets, Jobs, pods.

Blocking calls of the official client; the daemon runs them in worker threads. Secret *values* are read only for
backup credentials and never leave this process; for the database Secret only the presence of keys is checked.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import Any, cast

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from dbmigrate.controller import jobs

GROUP, VERSION, PLURAL = "dbmigrate.io", "v1alpha1", "databasemigrations"


@dataclasses.dataclass(frozen=True)
class JobState:
    """A Job as the state machine needs it. ``finished`` with ``exit_code`` and the termination ``message``;
    ``waiting`` carries a pod's stuck reason (e.g. CreateContainerConfigError) while it cannot start."""

    exists: bool
    finished: bool = False
    exit_code: int = 0
    message: str = ""
    waiting: str | None = None


class Cluster:
    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self._core = client.CoreV1Api(api)
        self._batch = client.BatchV1Api(api)
        self.custom = client.CustomObjectsApi(api)

    def migrations_hash(self, namespace: str, name: str) -> str | None:
        """``sha256:`` of the ConfigMap's files (names and contents, order-independent); None if it is missing."""
        try:
            configmap = self._core.read_namespaced_config_map(name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        files = dict(configmap.data or {})
        files.update({k: f"base64:{v!r}" for k, v in (configmap.binary_data or {}).items()})
        digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
        return f"sha256:{digest}"

    def secret_problem(self, namespace: str, name: str, keys: list[str]) -> str | None:
        """Why the Jobs could not read ``keys`` of Secret ``name`` (missing Secret or keys), or None. Values are
        never looked at, so they cannot leak into a message."""
        try:
            secret = self._core.read_namespaced_secret(name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return f"Secret {name!r} not found"
            raise
        present = set(secret.data or {}) | set(secret.string_data or {})
        missing = [key for key in keys if key not in present]
        return f"Secret {name!r} has no key {', '.join(map(repr, missing))}" if missing else None

    def secret_data(self, namespace: str, name: str) -> dict[str, str]:
        """Decoded values of a credentials Secret (backup provider APIs); {} when it is missing."""
        try:
            secret = self._core.read_namespaced_secret(name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return {}
            raise
        return {key: base64.b64decode(value).decode() for key, value in (secret.data or {}).items()}

    def ensure_job(self, manifest: Mapping[str, Any]) -> bool:
        """Create the Job; False when it already exists (409: this step was started before, maybe by a previous
        operator process), which is how restarts avoid a second Job."""
        try:
            self._batch.create_namespaced_job(manifest["metadata"]["namespace"], client.V1Job.model_validate(manifest))
        except ApiException as exc:
            if exc.status == 409:
                return False
            raise
        return True

    def job_state(self, namespace: str, name: str) -> JobState:
        try:
            job = self._plain(self._batch.read_namespaced_job_status(name, namespace))
        except ApiException as exc:
            if exc.status == 404:
                return JobState(exists=False)
            raise
        listed = self._core.list_namespaced_pod(namespace, label_selector=f"job-name={name}").items
        pods = sorted((self._plain(pod) for pod in listed), key=lambda pod: str(pod["metadata"]["creationTimestamp"]))
        job_conditions = (job.get("status") or {}).get("conditions") or []
        finished = any(c["type"] in ("Complete", "Failed") and c["status"] == "True" for c in job_conditions)
        if not finished:
            return JobState(exists=True, waiting=_waiting_reason(pods))
        for pod in reversed(pods):
            for status in (pod.get("status") or {}).get("containerStatuses") or []:
                terminated = (status.get("state") or {}).get("terminated")
                if status["name"] == jobs.CONTAINER and terminated is not None:
                    return JobState(
                        exists=True,
                        finished=True,
                        exit_code=int(terminated["exitCode"]),
                        message=terminated.get("message") or "",
                    )
        reason = next((c.get("message") or c.get("reason") for c in job_conditions if c["type"] == "Failed"), None)
        return JobState(exists=True, finished=True, exit_code=128, message=reason or "the Job's pod is gone")

    def _plain(self, model: object) -> dict[str, Any]:
        """An API model as the JSON-like dict of a manifest (camelCase keys), the one shape this package reads."""
        return cast(dict[str, Any], self.api.sanitize_for_serialization(model))  # type: ignore[no-untyped-call]

    def patch_status(self, obj: Mapping[str, Any], status: Mapping[str, Any]) -> dict[str, Any]:
        """Replace the whole ``status`` (a JSON patch: a merge patch could not drop stale nested fields); returns
        the object as stored now. The operator is the only writer of status, so no version check is needed."""
        meta = obj["metadata"]
        result = self.custom.patch_namespaced_custom_object_status(
            GROUP,
            VERSION,
            meta["namespace"],
            PLURAL,
            meta["name"],
            [{"op": "add", "path": "/status", "value": dict(status)}],
            _content_type="application/json-patch+json",
        )
        return cast(dict[str, Any], result)


def _waiting_reason(pods: list[dict[str, Any]]) -> str | None:
    for pod in pods:
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            waiting = (status.get("state") or {}).get("waiting")
            if waiting and waiting.get("reason") not in (None, "ContainerCreating", "PodInitializing"):
                return f"{waiting['reason']}: {waiting.get('message') or ''}".strip(": ")
    return None
