"""The backup freshness gate: the one place that decides whether a backup is recent enough to migrate.

Policies: ``require`` refuses unless the newest backup is younger than ``max_age``; ``create`` takes a backup when
the newest one is too old (or missing); ``skip`` reports honestly that nothing was checked.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from dbmigrate import errors, outcome
from dbmigrate.backups import base

POLICIES = ("require", "create", "skip")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """``90s``, ``30m``, ``1h``, ``1h30m``, ``2d``, ``1w`` → timedelta; anything else is a usage error."""
    compact = text.strip().lower().replace(" ", "")
    parts = _DURATION.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise errors.UsageError(f"invalid duration {text!r}: use e.g. 30m, 1h, 1h30m, 2d")
    return timedelta(seconds=sum(float(n) * _UNIT_SECONDS[u] for n, u in parts))


def humanize(age: timedelta) -> str:
    """``5 minutes ago``-style wording for the report."""
    seconds = int(age.total_seconds())
    if seconds < 60:
        return "just now" if seconds < 10 else f"{seconds} seconds ago"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    raise AssertionError("unreachable")


def describe_limit(limit: timedelta) -> str:
    seconds = int(limit.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def check(
    provider: base.Provider | None,
    *,
    policy: str,
    max_age: timedelta,
    now: datetime | None = None,
) -> tuple[outcome.Check, base.Backup | None]:
    """Apply ``policy``; returns the report line and the backup relied on. Raises :class:`errors.SafetyGateError`
    (carrying the failed line as its message) when the run must not start."""
    if policy == "skip":
        return outcome.Check("backup", None, "Backup check skipped (--backup-policy skip)"), None
    if provider is None:
        raise errors.SafetyGateError(
            f"✗ Backup policy {policy!r} but no backup provider is configured",
            hint="pass --backup-dir DIR or --backup-command CMD, or --backup-policy skip to migrate without one",
        )
    now = now or datetime.now(UTC)
    limit = describe_limit(max_age)
    created = False
    try:
        latest = provider.latest()
        if policy == "create" and (latest is None or now - latest.taken_at > max_age):
            latest = provider.create()
            now = max(now, latest.taken_at)
            created = True
    except base.BackupError as exc:
        raise errors.SafetyGateError(f"✗ Backup check failed ({provider.name}): {exc}") from None
    if latest is None:
        raise errors.SafetyGateError(
            f"✗ No backup found ({provider.name}, limit {limit})",
            hint="take a backup first, or use --backup-policy create to let dbmigrate take one",
        )
    age = now - latest.taken_at
    if age > max_age:
        raise errors.SafetyGateError(
            f"✗ Backup too old ({humanize(age)}, limit {limit})",
            hint="take a fresh backup, or use --backup-policy create to let dbmigrate take one",
        )
    when = humanize(max(age, timedelta(0)))
    # A backup taken now says where it went and how big it is: the user must know what to restore from.
    detail = f"{when}: {latest.description}" if created else when
    return outcome.Check("backup", True, f"Backup verified ({detail})"), latest
