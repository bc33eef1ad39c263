"""What the operator reads and writes in the cluster besides its own resource: ConfigMaps, Secrets, Jobs, pods.

Blocking calls through the official client's ApiClient (authentication, TLS, connection pool); the daemon runs
them in worker threads. Requests and answers are plain JSON, not the client's typed API classes and models: the
operator reads a few fields of each object once, while importing CoreV1Api and BatchV1Api alone (their modules and
some 250 model classes) costs about 23 MiB, a third of the idle operator, and every answer would be built into
models first. An error status raises ``ApiException`` as the typed calls do (``.status`` 404 and 409 are relied
on). Secret *values* are read only for backup credentials and never leave this process; for the database Secret
only the presence of keys is checked.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from dbmigrate.controller import jobs

GROUP, VERSION, PLURAL = "dbmigrate.io", "v1alpha1", "databasemigrations"
#: the API paths used, with ``{namespace}`` and ``{name}`` to fill in
CONFIGMAP = "/api/v1/namespaces/{namespace}/configmaps/{name}"
SECRET = "/api/v1/namespaces/{namespace}/secrets/{name}"
PODS = "/api/v1/namespaces/{namespace}/pods"
JOBS = "/apis/batch/v1/namespaces/{namespace}/jobs"
JOB_STATUS = "/apis/batch/v1/namespaces/{namespace}/jobs/{name}/status"
STATUS = f"/apis/{GROUP}/{VERSION}/namespaces/{{namespace}}/{PLURAL}/{{name}}/status"


@dataclasses.dataclass(frozen=True)
class Waiting:
    """Why a Job's pod does not start: its container's waiting ``reason`` (e.g. CreateContainerConfigError), the
    kubelet's ``message``, and ``since`` when the pod exists (a failing image pull may pass; one failing long not)."""

    reason: str
    message: str
    since: datetime

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}" if self.message else self.reason


@dataclasses.dataclass(frozen=True)
class JobState:
    """A Job as the state machine needs it. ``finished`` with ``exit_code`` and the termination ``message``;
    ``waiting`` says why its pod does not start yet (None while it starts normally or runs)."""

    exists: bool
    finished: bool = False
    exit_code: int = 0
    message: str = ""
    waiting: Waiting | None = None


class JobRejected(Exception):
    """The API server refused to create a Job (4xx: an invalid spec.job, a ResourceQuota, Pod Security or another
    admission policy): retrying the same request cannot help until someone changes something. The text is the
    HTTP status and the API server's own message."""


def api_message(exc: ApiException) -> str:
    """``<status> <reason>: <message>`` of an API error, the message from the Status object the server answered
    (it says which field or policy), when there is one."""
    try:
        answer = json.loads(exc.body or "")
    except ValueError:
        answer = None
    message = answer.get("message") if isinstance(answer, dict) else None
    return f"{exc.status} {exc.reason}: {message}" if message else f"{exc.status} {exc.reason}"


class Cluster:
    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self.custom = client.CustomObjectsApi(api)  # for the VolumeSnapshot backup provider

    def migrations_hash(self, namespace: str, name: str) -> str | None:
        """``sha256:`` of the ConfigMap's files (names and contents, order-independent); None if it is missing."""
        try:
            configmap = self._call("GET", CONFIGMAP, namespace=namespace, name=name)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        files = dict(configmap.get("data") or {})
        files.update({k: f"base64:{v!r}" for k, v in (configmap.get("binaryData") or {}).items()})
        digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
        return f"sha256:{digest}"

    def secret_problem(self, namespace: str, name: str, keys: list[str]) -> str | None:
        """Why the Jobs could not read ``keys`` of Secret ``name`` (missing Secret or keys), or None. Values are
        never looked at, so they cannot leak into a message."""
        try:
            secret = self._call("GET", SECRET, namespace=namespace, name=name)
        except ApiException as exc:
            if exc.status == 404:
                return f"Secret {name!r} not found"
            raise
        present = set(secret.get("data") or {}) | set(secret.get("stringData") or {})
        missing = [key for key in keys if key not in present]
        return f"Secret {name!r} has no key {', '.join(map(repr, missing))}" if missing else None

    def secret_data(self, namespace: str, name: str) -> dict[str, str] | None:
        """Decoded values of a credentials Secret (backup provider APIs); None when it is missing."""
        try:
            secret = self._call("GET", SECRET, namespace=namespace, name=name)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return {key: base64.b64decode(value).decode() for key, value in (secret.get("data") or {}).items()}

    def ensure_job(self, manifest: Mapping[str, Any]) -> bool:
        """Create the Job; False when it already exists (409: this step was started before, maybe by a previous
        operator process), which is how restarts avoid a second Job. Any other 4xx but 404 (the namespace is
        going) and 429 (throttled) raises :class:`JobRejected`; other errors stay ``ApiException``."""
        try:
            self._call("POST", JOBS, namespace=manifest["metadata"]["namespace"], body=manifest)
        except ApiException as exc:
            if exc.status == 409:
                return False
            if exc.status is not None and 400 <= exc.status < 500 and exc.status not in (404, 429):
                raise JobRejected(api_message(exc)) from None
            raise
        return True

    def job_state(self, namespace: str, name: str) -> JobState:
        try:
            job = self._call("GET", JOB_STATUS, namespace=namespace, name=name)
        except ApiException as exc:
            if exc.status == 404:
                return JobState(exists=False)
            raise
        selector = {"labelSelector": f"job-name={name}"}
        listed = self._call("GET", PODS, namespace=namespace, query=selector)
        pods = sorted(listed["items"], key=lambda pod: str(pod["metadata"]["creationTimestamp"]))
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

    def running_migrations(self, namespace: str, uid: str) -> list[str]:
        """Migrate Jobs of the resource ``uid`` whose container runs now (by their pods: a Job whose pod never
        started has touched no database, and must not hold a deletion up)."""
        selector = {"labelSelector": f"{jobs.LABEL_OWNER_UID}={uid},{jobs.LABEL_STEP}=migrate"}
        listed = self._call("GET", PODS, namespace=namespace, query=selector)
        return sorted(
            {
                pod["metadata"].get("labels", {}).get("job-name") or pod["metadata"]["name"]
                for pod in listed["items"]
                for status in (pod.get("status") or {}).get("containerStatuses") or []
                if status["name"] == jobs.CONTAINER and (status.get("state") or {}).get("running") is not None
            }
        )

    def patch_status(self, obj: Mapping[str, Any], status: Mapping[str, Any]) -> dict[str, Any]:
        """Replace the whole ``status`` (a JSON patch: a merge patch could not drop stale nested fields); returns
        the object as stored now, less ``metadata.managedFields`` (kept by every daemon until its next patch,
        never read). The operator is the only writer of status, so no version check is needed."""
        meta = obj["metadata"]
        stored = self._call(
            "PATCH",
            STATUS,
            namespace=meta["namespace"],
            name=meta["name"],
            body=[{"op": "add", "path": "/status", "value": dict(status)}],
            content_type="application/json-patch+json",
        )
        stored["metadata"].pop("managedFields", None)
        return stored

    def _call(
        self,
        method: str,
        path: str,
        *,
        namespace: str,
        name: str | None = None,
        query: Mapping[str, str] | None = None,
        body: object = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        """One request and the JSON object it answers. ``path`` is one of the paths above, its ``{namespace}``
        and ``{name}`` filled in quoted; a status other than 2xx raises ``ApiException``."""
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        request = self.api.param_serialize(
            method=method,
            resource_path=path,
            path_params={"namespace": namespace} if name is None else {"namespace": namespace, "name": name},
            query_params=list((query or {}).items()),
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        response = self.api.call_api(*request)
        data = response.read()  # type: ignore[no-untyped-call]
        if not 200 <= response.status <= 299:
            raise ApiException.from_response(http_resp=response, body=data.decode(errors="replace"), data=None)
        return cast(dict[str, Any], json.loads(data))


def _waiting_reason(pods: list[dict[str, Any]]) -> Waiting | None:
    for pod in pods:
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            waiting = (status.get("state") or {}).get("waiting")
            if waiting and waiting.get("reason") not in (None, "ContainerCreating", "PodInitializing"):
                since = datetime.fromisoformat(str(pod["metadata"]["creationTimestamp"]).replace("Z", "+00:00"))
                return Waiting(reason=waiting["reason"], message=waiting.get("message") or "", since=since)
    return None
