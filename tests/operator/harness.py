"""Driving the operator in end-to-end tests: install CRDs, run the operator process, apply and watch resources.

The operator runs as a real subprocess (``python -m dbmigrate.controller.main``) so a test can kill it with SIGKILL
mid-run and start another, exactly as a crashed pod would be replaced.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import sqlalchemy
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.fixtures import polling

REPO = Path(__file__).resolve().parents[2]
CRDS = (
    REPO / "crds" / "dbmigrate.io_databasemigrations.yaml",
    REPO / "crds" / "kopf-peering.yaml",
    Path(__file__).parent / "fixtures" / "volumesnapshot-crd.yaml",
)
GROUP, VERSION, PLURAL = "dbmigrate.io", "v1alpha1", "databasemigrations"
TIMEOUT = 60.0
#: fast loops for tests; production defaults are in dbmigrate.controller.settings
OPERATOR_ENV = {
    "DBMIGRATE_OPERATOR_POLL_SECONDS": "1",
    "DBMIGRATE_OPERATOR_RESYNC_SECONDS": "120",  # long: watch events must drive the tests, not the resync
    "DBMIGRATE_OPERATOR_RETRY_BASE_SECONDS": "1",
    "DBMIGRATE_OPERATOR_RETRY_MAX_SECONDS": "2",
}
T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = TIMEOUT) -> T:
    """The shared poller with the operator tests' longer default (a full migration run fits in it)."""
    return polling.wait_for(what, probe, timeout)


def plain(api: client.ApiClient, model: object) -> dict[str, Any]:
    """An API model as its manifest (camelCase keys)."""
    return cast(dict[str, Any], api.sanitize_for_serialization(model))  # type: ignore[no-untyped-call]


def install_crds(api: client.ApiClient) -> None:
    """Create (or update) the CRDs and wait until the API server serves them."""
    extensions = client.ApiextensionsV1Api(api)
    for manifest in (doc for path in CRDS for doc in yaml.safe_load_all(path.read_text())):
        name = manifest["metadata"]["name"]
        try:
            extensions.create_custom_resource_definition(manifest)
        except ApiException as exc:
            if exc.status != 409:
                raise
            current = plain(api, extensions.read_custom_resource_definition(name))
            manifest["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            extensions.replace_custom_resource_definition(name, manifest)
        wait_for(f"CRD {name} served", functools.partial(_served, api, manifest))


def _served(api: client.ApiClient, crd: Mapping[str, Any]) -> bool | None:
    """True once listing the resource works: that comes after Established, when the storage is ready (429 before)."""
    spec = crd["spec"]
    try:
        client.CustomObjectsApi(api).list_cluster_custom_object(
            spec["group"], spec["versions"][0]["name"], spec["names"]["plural"]
        )
    except ApiException:
        return None
    return True


class Operator:
    """The operator as a child process watching one namespace; its output goes to ``log``."""

    def __init__(
        self,
        *,
        kubeconfig: Path,
        namespace: str,
        log: Path,
        env: Mapping[str, str] | None = None,
        args: Sequence[str] = ("--standalone",),
    ) -> None:
        self._args = [sys.executable, "-m", "dbmigrate.controller.main", "-n", namespace, *args]
        self._env = {**os.environ, "KUBECONFIG": str(kubeconfig), **OPERATOR_ENV, **(env or {})}
        self.log = log
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as output:
            self._process = subprocess.Popen(
                self._args, env=self._env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )

    def kill(self) -> None:
        """SIGKILL: no cleanup at all, like a node failure."""
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class Kube:
    """Small typed conveniences over the API for one test namespace."""

    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        self.api = api
        self.namespace = namespace
        self.core = client.CoreV1Api(api)
        self.batch = client.BatchV1Api(api)
        self.custom = client.CustomObjectsApi(api)

    def secret(self, name: str, data: Mapping[str, str]) -> None:
        encoded: dict[str, bytes | str] = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
        self.core.create_namespaced_secret(
            self.namespace, client.V1Secret(metadata=client.V1ObjectMeta(name=name), data=encoded)
        )

    def configmap(self, name: str, files: Mapping[str, str], labels: Mapping[str, str] | None = None) -> None:
        body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels=dict(labels or {})), data=dict(files))
        try:
            self.core.create_namespaced_config_map(self.namespace, body)
        except ApiException as exc:
            if exc.status != 409:
                raise
            self.core.replace_namespaced_config_map(name, self.namespace, body)

    def apply(self, name: str, spec: Mapping[str, Any], annotations: Mapping[str, str] | None = None) -> None:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "DatabaseMigration",
            "metadata": {"name": name, "annotations": dict(annotations or {})},
            "spec": dict(spec),
        }
        self.custom.create_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, body)

    def get(self, name: str) -> dict[str, Any]:
        return cast(
            dict[str, Any], self.custom.get_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, name)
        )

    def annotate(self, name: str, annotations: Mapping[str, str]) -> None:
        patch = {"metadata": {"annotations": dict(annotations)}}
        self.custom.patch_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, name, patch)

    def patch_spec(self, name: str, spec: Mapping[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, name, {"spec": dict(spec)})

    def wait_phase(self, name: str, *phases: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        """Until the resource is in one of ``phases`` for its current generation (as kstatus readers wait)."""

        def probe() -> dict[str, Any] | None:
            obj = self.get(name)
            status = obj.get("status") or {}
            current = status.get("observedGeneration") == obj["metadata"]["generation"]
            return obj if current and status.get("phase") in phases else None

        try:
            return wait_for(f"{name} in {phases}", probe, timeout)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; last status: {self.get(name).get('status')}") from None

    def job(self, name: str) -> dict[str, Any]:
        """A Job as its manifest (camelCase keys)."""
        return plain(self.api, self.batch.read_namespaced_job(name, self.namespace))

    def jobs(self) -> list[str]:
        return sorted(
            str(job.metadata.name) for job in self.batch.list_namespaced_job(self.namespace).items if job.metadata
        )

    def events(self, name: str) -> list[tuple[str, str, str]]:
        listed = self.core.list_namespaced_event(self.namespace, field_selector=f"involvedObject.name={name}").items
        return [(e.type or "", e.reason or "", e.message or "") for e in listed]


def condition(obj: Mapping[str, Any], type_: str) -> dict[str, Any]:
    found = [c for c in (obj.get("status") or {}).get("conditions", []) if c["type"] == type_]
    assert found, f"no condition {type_} in {obj.get('status')}"
    return cast(dict[str, Any], found[0])


def conditions(obj: Mapping[str, Any]) -> dict[str, str]:
    """type → status, for compact assertions."""
    return {c["type"]: c["status"] for c in (obj.get("status") or {}).get("conditions", [])}


@contextlib.contextmanager
def database(url: str) -> Iterator[sqlalchemy.Engine]:
    """An engine for ``url`` as users write it (``postgresql://``, ``mysql://``), disposed afterwards."""
    driver = url.replace("postgresql://", "postgresql+psycopg://", 1).replace("mysql://", "mysql+pymysql://", 1)
    engine = sqlalchemy.create_engine(driver, poolclass=sqlalchemy.NullPool)
    try:
        yield engine
    finally:
        engine.dispose()


def tables(url: str) -> set[str]:
    with database(url) as engine:
        return set(sqlalchemy.inspect(engine).get_table_names())


def spec(
    *, configmap: str = "migrations", secret: str = "db", engine: str = "postgresql", **overrides: Any
) -> dict[str, Any]:
    """A DatabaseMigration spec: the ConfigMap's migrations, the Secret's ``url``, backup skipped unless given."""
    base: dict[str, Any] = {
        "database": {"engine": engine, "secretRef": {"name": secret, "urlKey": "url"}},
        "migrations": {"configMapRef": {"name": configmap}},
        "backup": {"policy": "Skip"},
    }
    return {**base, **overrides}
