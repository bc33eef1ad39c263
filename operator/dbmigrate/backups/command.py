"""A user's command that prints when the last backup was taken (e.g. a query against their backup system)."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime

from dbmigrate.backups import base

_TIMEOUT_SECONDS = 120


class BackupCommand:
    """Runs ``command`` in a shell; its last output line is an ISO 8601 time or Unix epoch seconds."""

    name = "backup command"

    def __init__(self, command: str) -> None:
        self._command = command

    def latest(self) -> base.Backup | None:
        try:
            result = subprocess.run(
                self._command, shell=True, capture_output=True, text=True, timeout=_TIMEOUT_SECONDS, check=False
            )
        except subprocess.TimeoutExpired:
            raise base.BackupError(f"the backup command did not answer within {_TIMEOUT_SECONDS}s") from None
        if result.returncode != 0:
            raise base.BackupError(f"the backup command exited {result.returncode}: {result.stderr.strip()[-300:]}")
        lines = result.stdout.strip().splitlines()
        if not lines:
            return None
        return base.Backup(provider=self.name, taken_at=parse_time(lines[-1]), description=f"reported {lines[-1]}")

    def create(self) -> base.Backup:
        raise base.BackupError("a backup command can only report backups; use --backup-dir to let dbmigrate take one")


def parse_time(text: str) -> datetime:
    """ISO 8601 (``Z`` or offset; naive means UTC) or Unix epoch seconds."""
    text = text.strip()
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise base.BackupError(f"the backup command printed {text[:80]!r}, not a time (ISO 8601 or epoch)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
