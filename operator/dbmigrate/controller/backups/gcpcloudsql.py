"""GCP Cloud SQL backup runs, through the Cloud SQL Admin REST API (no Google client library needed).

``GET {endpoint}/v1/projects/{project}/instances/{instance}/backupRuns``: the newest run with status SUCCESSFUL
counts, dated by its ``endTime``. The endpoint is ``DBMIGRATE_GCP_SQLADMIN_ENDPOINT`` or the public one. The
OAuth token is the credentials Secret's ``token`` key, else the pod identity's from the metadata server
(``GCE_METADATA_HOST``, as Google's libraries honour). A created run is tagged with the request id in its
``description`` so asking again finds it instead of starting another.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from dbmigrate.backups import base
from dbmigrate.controller import backups

DEFAULT_ENDPOINT = "https://sqladmin.googleapis.com"
TIMEOUT = 10.0


class CloudSqlProvider:
    name = "GcpCloudSql"

    def __init__(self, *, settings: Mapping[str, Any], credentials: Mapping[str, str], request_id: str) -> None:
        endpoint = os.environ.get("DBMIGRATE_GCP_SQLADMIN_ENDPOINT", DEFAULT_ENDPOINT).rstrip("/")
        self._url = f"{endpoint}/v1/projects/{settings['project']}/instances/{settings['instance']}/backupRuns"
        self._token = credentials.get("token")
        self._request_id = request_id

    def latest(self) -> base.Backup | None:
        done = [run for run in self._runs() if run.get("status") == "SUCCESSFUL" and run.get("endTime")]
        newest = max(done, key=lambda run: _time(run["endTime"]), default=None)
        return None if newest is None else _backup(newest)

    def create(self) -> base.Backup:
        ours = next((run for run in self._runs() if run.get("description") == self._request_id), None)
        if ours is None:
            self._call("POST", self._url, {"description": self._request_id})
            raise backups.BackupPending(f"Cloud SQL backup run {self._request_id} started")
        if ours.get("status") == "SUCCESSFUL" and ours.get("endTime"):
            return _backup(ours)
        if ours.get("status") in ("FAILED", "DELETED", "SKIPPED"):
            raise base.BackupError(f"Cloud SQL backup run {self._request_id} ended {ours['status']}")
        raise backups.BackupPending(f"Cloud SQL backup run {self._request_id} is {ours.get('status', 'starting')}")

    def _runs(self) -> list[dict[str, Any]]:
        runs: list[dict[str, Any]] = []
        token = ""
        while True:
            page = self._call("GET", f"{self._url}?pageToken={token}" if token else self._url, None)
            runs += page.get("items") or []
            token = page.get("nextPageToken") or ""
            if not token:
                return runs

    def _call(self, method: str, url: str, body: Mapping[str, Any] | None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self._token or _metadata_token()}")
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                result: dict[str, Any] = json.loads(response.read() or b"{}")
                return result
        except urllib.error.HTTPError as exc:
            error = backups.BackupUnavailable if backups.transient(exc.code) else base.BackupError
            raise error(f"Cloud SQL Admin API answered {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise backups.BackupUnavailable(f"Cloud SQL Admin API unreachable: {exc}") from None
        except ValueError as exc:
            raise base.BackupError(f"Cloud SQL Admin API answered no JSON: {exc}") from None


def _metadata_token() -> str:
    """The pod identity's access token (Workload Identity), from the GCE metadata server."""
    host = os.environ.get("GCE_METADATA_HOST", "metadata.google.internal")
    url = f"http://{host}/computeMetadata/v1/instance/service-accounts/default/token"
    request = urllib.request.Request(url, headers={"Metadata-Flavor": "Google"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return str(json.loads(response.read())["access_token"])
    except (urllib.error.URLError, OSError, ValueError, KeyError) as exc:
        raise base.BackupError(f"no GCP credentials: metadata server unavailable ({exc})") from None


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _backup(run: Mapping[str, Any]) -> base.Backup:
    description = f"backup run {run.get('id', '?')} ({run.get('type', 'ON_DEMAND')})"
    return base.Backup(provider=CloudSqlProvider.name, taken_at=_time(run["endTime"]), description=description)
