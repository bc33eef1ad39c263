"""kopf handlers, kept thin: one daemon per DatabaseMigration drives :mod:`reconcile`; watch events wake it.

Why a daemon rather than change handlers: the work is a sequence of long waits (Jobs, snapshots) punctuated by
user actions (approval and retry annotations) that must wake it at once. A daemon sees the live body, is the only
writer of its resource's status (so patches never race), is stopped on deletion and while a higher-priority peer
is active, and is restarted on operator start — where it resumes from ``status``. It never sleeps blindly: it
waits for a wake-up (its resource or one of its Jobs changed) or its poll/resync delay, whichever comes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, cast

import kopf
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from dbmigrate.controller import cluster, jobs, login, metrics, reconcile
from dbmigrate.controller import spec as specs
from dbmigrate.controller.backups import providers
from dbmigrate.controller.settings import Settings

GROUP, VERSION, PLURAL = cluster.GROUP, cluster.VERSION, cluster.PLURAL
PREFIX = "dbmigrate.io"


def register(
    registry: kopf.OperatorRegistry,
    *,
    settings: Settings,
    selector: Mapping[str, str] | None,
    configmap_selector: Mapping[str, str] | None = None,
) -> None:
    """Attach the operator's handlers to ``registry``: only resources matching ``selector``, and only ConfigMaps
    matching ``configmap_selector``, when given."""
    wakeups = _Wakeups()
    worlds: list[cluster.Cluster] = []  # the one shared API client, made at startup
    labels = dict(selector) if selector else None

    kopf.on.login(registry=registry)(login.login)  # an own registry lacks kopf's default login

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        worlds.append(cluster.Cluster(_api_client()))
        settings.persistence.finalizer = f"{PREFIX}/finalizer"
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=PREFIX)
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=PREFIX)
        settings.watching.server_timeout = 120  # a silently dead watch is re-established within minutes
        settings.watching.client_timeout = 150
        settings.posting.level = logging.WARNING
        # Only our Jobs, filtered by the API server: kopf keeps a record per watched object, and clusters running
        # CI or batch work hold thousands of unrelated Jobs.
        settings.watching.label_selectors["batch", "v1", "jobs"] = f"{jobs.LABEL_MANAGED_BY}={jobs.MANAGED_BY}"
        # ConfigMaps are watched only to start a run at once when one is edited; without a selector kopf holds
        # every ConfigMap of the watched namespaces (about 11 KiB each), which a large cluster may not afford.
        if configmap_selector:
            settings.watching.label_selectors["", "v1", "configmaps"] = ",".join(
                f"{key}={value}" for key, value in sorted(configmap_selector.items())
            )

    @kopf.daemon(GROUP, VERSION, PLURAL, registry=registry, labels=labels, id="reconciler", cancellation_timeout=1)
    async def reconciler(body: kopf.Body, stopped: kopf.DaemonStopped, logger: kopf.Logger, **_: Any) -> None:
        uid = body.metadata.uid
        assert uid is not None
        try:
            await _drive(body=body, stopped=stopped, wakeups=wakeups, world=worlds[0], settings=settings, logger=logger)
        finally:
            wakeups.forget(uid)
            metrics.forget(namespace=body.metadata.namespace or "", name=body.metadata.name or "")

    @kopf.on.delete(GROUP, VERSION, PLURAL, registry=registry, labels=labels, id="deletion")
    async def deleting(body: kopf.Body, retry: int, **_: Any) -> None:
        """Hold the finalizer while a migrate Job runs: deleting the resource deletes its Jobs (owner references),
        and a migration killed mid-way can leave the database dirty (MySQL DDL). The Job is let finish; its
        result is not recorded (the daemon is already stopped), but the database is consistent."""
        namespace, uid = str(body.metadata.namespace), str(body.metadata.uid)
        running = await asyncio.to_thread(worlds[0].running_migrations, namespace, uid)
        if running:
            text = f"deletion waits for the running migration (Job {', '.join(running)}) to finish"
            if retry == 0:
                kopf.warn(body, reason="DeletionWaiting", message=text)
            raise kopf.TemporaryError(text, delay=settings.poll_seconds)

    @kopf.on.cleanup(registry=registry)
    def close(**_: Any) -> None:
        for world in worlds:
            world.api.close()  # type: ignore[no-untyped-call]

    @kopf.on.event(GROUP, VERSION, PLURAL, registry=registry, labels=labels)
    async def resource_changed(uid: str | None, meta: kopf.Meta, **_: Any) -> None:
        wakeups.changed(uid, version=meta.get("resourceVersion"))

    @kopf.on.event("batch", "v1", "jobs", registry=registry, labels={jobs.LABEL_MANAGED_BY: jobs.MANAGED_BY})
    async def job_changed(labels: Mapping[str, str], **_: Any) -> None:
        wakeups.wake(labels.get(jobs.LABEL_OWNER_UID))

    @kopf.on.event("", "v1", "configmaps", registry=registry)
    async def configmap_changed(namespace: str | None, name: str | None, **_: Any) -> None:
        wakeups.wake_readers(namespace or "", name or "")


class _Wakeups:
    """Which daemon a watch event wakes: by the resource's uid, or by the migrations ConfigMap it reads (so a
    changed ConfigMap starts a new run at once rather than at the next resync). The event of a daemon's own status
    patch wakes nobody: the daemon already knows what it wrote, and a step for it would only re-read the cluster."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}
        self._configmaps: dict[str, tuple[str, str]] = {}
        self._written: dict[str, str] = {}  # uid → resourceVersion of the daemon's last status patch
        self._causes: dict[str, set[str | None]] = {}  # uid → what woke it since its step began (None: not itself)

    def event(self, uid: str) -> asyncio.Event:
        return self._events.setdefault(uid, asyncio.Event())

    def begin(self, uid: str) -> None:
        """A step starts: what woke the daemon so far is being handled."""
        self.event(uid).clear()
        self._causes.pop(uid, None)

    def track(self, uid: str, *, namespace: str, configmap: str | None) -> None:
        if configmap:
            self._configmaps[uid] = (namespace, configmap)
        else:
            self._configmaps.pop(uid, None)

    def forget(self, uid: str) -> None:
        self._events.pop(uid, None)
        self._configmaps.pop(uid, None)
        self._written.pop(uid, None)
        self._causes.pop(uid, None)

    def wrote(self, uid: str, *, version: str) -> None:
        """The daemon patched its status, now at ``version``. Its watch event often arrives before the patch's own
        response: if nothing else woke the daemon meanwhile, that wake-up is withdrawn."""
        self._written[uid] = version
        if self._causes.get(uid) == {version}:
            self.begin(uid)

    def changed(self, uid: str | None, *, version: str | None) -> None:
        """The resource changed (a watch event): wake its daemon, unless the change is the daemon's own patch."""
        if uid is not None and (version is None or self._written.get(uid) != version):
            self.wake(uid, cause=version)

    def wake(self, uid: str | None, *, cause: str | None = None) -> None:
        if uid is not None and uid in self._events:
            self._causes.setdefault(uid, set()).add(cause)
            self._events[uid].set()

    def wake_readers(self, namespace: str, name: str) -> None:
        for uid, reference in self._configmaps.items():
            if reference == (namespace, name):
                self.wake(uid)


async def _drive(
    *,
    body: kopf.Body,
    stopped: kopf.DaemonStopped,
    wakeups: _Wakeups,
    world: cluster.Cluster,
    settings: Settings,
    logger: kopf.Logger,
) -> None:
    uid = str(body.metadata.uid)
    wake = wakeups.event(uid)
    own: dict[str, Any] | None = None  # the object as our last status patch returned it, until the body catches up
    while not stopped:
        wakeups.begin(uid)
        moved = await _move(body=body, own=own, wakeups=wakeups, world=world, settings=settings, logger=logger)
        if moved is None:  # deleted meanwhile; the daemon is being stopped
            return
        own, delay = moved
        if delay > 0:
            await _pause(wake, delay)


async def _move(
    *,
    body: kopf.Body,
    own: dict[str, Any] | None,
    wakeups: _Wakeups,
    world: cluster.Cluster,
    settings: Settings,
    logger: kopf.Logger,
) -> tuple[dict[str, Any] | None, float] | None:
    """One step of the state machine and its side effects: ``own`` for the next step and how long to wait, or
    None once the resource is gone. A function of its own so that the copies of the object it makes are freed
    before the daemon sleeps: hundreds of sleeping daemons must not each hold one."""

    def provider_for(backup: specs.Backup, namespace: str, request_id: str) -> Any:
        return providers.provider_for(backup, cluster=world, namespace=namespace, request_id=request_id)

    obj = _freshest(_snapshot(body), own)
    if obj is not own:
        own = None  # the live body has caught up with our last patch
    uid = str(obj["metadata"]["uid"])
    configmap = ((obj.get("spec") or {}).get("migrations") or {}).get("configMapRef") or {}
    wakeups.track(uid, namespace=obj["metadata"]["namespace"], configmap=configmap.get("name"))
    now = datetime.now(UTC)
    try:
        result = await asyncio.to_thread(
            reconcile.step, obj, world=world, providers=provider_for, settings=settings, now=now
        )
        changed = result.status != obj.get("status")
        if changed:
            try:
                own = await asyncio.to_thread(world.patch_status, obj, result.status)
            except ApiException as exc:
                if exc.status == 404:  # the resource itself is gone (a 404 of anything else is retried below)
                    return None
                raise
            wakeups.wrote(uid, version=own["metadata"]["resourceVersion"])
    except ApiException as exc:
        logger.warning("Kubernetes API error, retrying: %s", cluster.api_message(exc))
        return own, settings.retry_base_seconds
    except Exception as exc:  # one resource's bug must not stop it for good: report, back off, retry
        logger.exception("reconcile failed")
        kopf.warn(cast(kopf.Body, obj), reason="ReconcileError", message=f"{type(exc).__name__}: {exc}"[:1024])
        return own, settings.retry_base_seconds
    metrics.step(namespace=obj["metadata"]["namespace"], changed=changed)
    for event in result.events:
        kopf.event(cast(kopf.Body, obj), type=event.type, reason=event.reason, message=event.message)
    metrics.observe(
        before=obj.get("status") or {},
        after=result.status,
        namespace=obj["metadata"]["namespace"],
        name=obj["metadata"]["name"],
        now=now,
    )
    return own, settings.resync_seconds if result.wait is None else result.wait


async def _pause(wake: asyncio.Event, delay: float) -> None:
    """Until woken or ``delay`` passes. Cancellation (the daemon being stopped) interrupts it."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(wake.wait(), timeout=delay)


def _snapshot(body: kopf.Body) -> dict[str, Any]:
    """A private deep copy of the live body for one move (kopf updates the live one while the move runs in a
    thread), without ``metadata.managedFields``: half the object's size, and nothing here reads it."""
    metadata = {key: value for key, value in body.metadata.items() if key != "managedFields"}
    return copy.deepcopy({**body, "metadata": metadata})


def _freshest(body: dict[str, Any], own: dict[str, Any] | None) -> dict[str, Any]:
    """The live body lags our own patches by one watch event; prefer whichever is newer, so a move is never
    repeated from a stale status."""
    if own is None:
        return body
    try:
        newer = int(own["metadata"]["resourceVersion"]) > int(body["metadata"]["resourceVersion"])
    except (KeyError, ValueError):
        return body
    return own if newer else body


def _api_client() -> client.ApiClient:
    """In-cluster service account, else KUBECONFIG (local runs, tests); a pool big enough for the worker
    threads that share it."""
    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except config.ConfigException:
        config.load_kube_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    configuration.connection_pool_maxsize = 32
    return client.ApiClient(configuration)
