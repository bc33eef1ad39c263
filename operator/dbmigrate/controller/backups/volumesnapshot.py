"""VolumeSnapshots (``snapshot.storage.k8s.io/v1``) of the database's volume, in the resource's namespace.

The newest snapshot with ``status.readyToUse`` counts, dated by ``status.creationTime`` (when the storage system
cut it, not when the object was created). Creation needs the PVC and a VolumeSnapshotClass; the CSI snapshot
controller then fills the status.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from dbmigrate.backups import base
from dbmigrate.controller import backups

GROUP, VERSION, PLURAL = "snapshot.storage.k8s.io", "v1", "volumesnapshots"


class VolumeSnapshotProvider:
    name = "VolumeSnapshot"

    def __init__(
        self, *, api: client.CustomObjectsApi, namespace: str, settings: Mapping[str, Any], request_id: str
    ) -> None:
        self._api = api
        self._namespace = namespace
        self._settings = settings
        self._request_id = request_id

    def latest(self) -> base.Backup | None:
        try:
            if self._settings.get("name"):
                found = [self._read(self._settings["name"])]
            else:
                selector = ",".join(f"{k}={v}" for k, v in (self._settings.get("selector") or {}).items())
                listed = self._api.list_namespaced_custom_object(
                    GROUP, VERSION, self._namespace, PLURAL, label_selector=selector
                )
                found = cast(list[dict[str, Any]], cast(dict[str, Any], listed)["items"])
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise _failure(exc, "cannot list VolumeSnapshots") from None
        ready = [_backup(item) for item in found if item and (item.get("status") or {}).get("readyToUse")]
        usable = [b for b in ready if b is not None]
        return max(usable, key=lambda b: b.taken_at, default=None)

    def create(self) -> base.Backup:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "VolumeSnapshot",
            "metadata": {
                "name": self._request_id,
                "labels": {**(self._settings.get("selector") or {}), "app.kubernetes.io/managed-by": "dbmigrate"},
            },
            "spec": {
                "volumeSnapshotClassName": self._settings["volumeSnapshotClassName"],
                "source": {"persistentVolumeClaimName": self._settings["pvcName"]},
            },
        }
        try:
            snapshot = self._create_or_read(body)
        except ApiException as exc:
            raise _failure(exc, f"cannot create VolumeSnapshot {self._request_id}") from None
        status = snapshot.get("status") or {}
        if (status.get("error") or {}).get("message"):
            raise base.BackupError(f"VolumeSnapshot {self._request_id} failed: {status['error']['message']}")
        created = _backup(snapshot) if status.get("readyToUse") else None
        if created is None:
            raise backups.BackupPending(f"VolumeSnapshot {self._request_id} is not ready to use yet")
        return created

    def _create_or_read(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create the snapshot; if one of that name exists already (an earlier reconcile created it), read it."""
        try:
            self._api.create_namespaced_custom_object(GROUP, VERSION, self._namespace, PLURAL, body)
        except ApiException as exc:
            if exc.status != 409:
                raise
        return self._read(self._request_id)

    def _read(self, name: str) -> dict[str, Any]:
        return cast(
            dict[str, Any], self._api.get_namespaced_custom_object(GROUP, VERSION, self._namespace, PLURAL, name)
        )


def _backup(snapshot: Mapping[str, Any]) -> base.Backup | None:
    created = (snapshot.get("status") or {}).get("creationTime")
    if not created:
        return None
    taken = datetime.fromisoformat(created.replace("Z", "+00:00"))
    return base.Backup(provider="VolumeSnapshot", taken_at=taken, description=snapshot["metadata"]["name"])


def _failure(exc: ApiException, what: str) -> Exception:
    """A throttled API server or one in trouble (429, 5xx) is passing; anything else (no permission, no CRD)
    needs a person."""
    error = backups.BackupUnavailable if backups.transient(exc.status) else base.BackupError
    return error(f"{what}: {exc.status} {exc.reason}")
