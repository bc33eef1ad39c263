"""Operator tunables, from the environment (``DBMIGRATE_OPERATOR_*``) so a Deployment or a test sets them alike.

Defaults suit a cluster: Job events wake the reconciler at once, so ``poll`` only bounds how late a missed event
is noticed; ``resync`` is how often a finished resource is looked at again (a changed ConfigMap, say).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from typing import Any

PREFIX = "DBMIGRATE_OPERATOR_"


@dataclasses.dataclass(frozen=True)
class Settings:
    #: image for the Jobs when neither spec.job.image nor spec.migrations.image names one
    default_image: str = "ghcr.io/dbmigrate/dbmigrate:0.1.0"
    poll_seconds: float = 5.0
    resync_seconds: float = 300.0
    retry_base_seconds: float = 10.0
    retry_max_seconds: float = 600.0
    #: retries of a retryable failure (lock timeout, connection) before the resource is Stalled
    retry_limit: int = 5
    #: how long a requested backup (CreateIfStale) may take to become usable
    backup_timeout_seconds: float = 3600.0
    #: securityContext of the Jobs' pods and containers (JSON in the environment; the chart sets restricted ones)
    job_pod_security_context: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    job_container_security_context: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Each field from ``DBMIGRATE_OPERATOR_<FIELD>`` when set (e.g. DBMIGRATE_OPERATOR_POLL_SECONDS=1);
        mappings are JSON objects. A malformed value raises ValueError: better no operator than a wrong one."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for field in dataclasses.fields(cls):
            raw = environ.get(PREFIX + field.name.upper())
            if raw is None:
                continue
            if field.default is dataclasses.MISSING:  # a mapping (default_factory)
                parsed = json.loads(raw) if raw.strip() else {}
                if not isinstance(parsed, dict):
                    raise ValueError(f"{PREFIX}{field.name.upper()} must be a JSON object")
                values[field.name] = parsed
            else:
                values[field.name] = type(field.default)(raw)
        return cls(**values)  # type: ignore[arg-type]
