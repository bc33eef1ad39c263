"""The provider interface every backup source implements: CLI ones here, Kubernetes and cloud ones in the operator.

A provider answers two questions: when was the newest usable backup taken, and (optionally) take one now. The
freshness policy itself lives in :mod:`dbmigrate.backups.gate`, so every provider is judged by the same rule.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Protocol


@dataclasses.dataclass(frozen=True)
class Backup:
    """The newest usable backup: when it was taken (UTC) and what it is (file and size, snapshot id, ...)."""

    provider: str
    taken_at: datetime
    description: str

    def to_json(self) -> dict[str, object]:
        return {"provider": self.provider, "taken_at": self.taken_at.isoformat(), "description": self.description}


class Provider(Protocol):
    """A source of backups. ``latest`` returns None when there is none; errors raise :class:`BackupError`."""

    name: str

    def latest(self) -> Backup | None: ...

    def create(self) -> Backup:
        """Take a backup now, verify it is usable, and return it (providers that cannot raise BackupError)."""
        ...


class BackupError(Exception):
    """A provider could not answer (unreachable API, missing permission, unreadable dump)."""
