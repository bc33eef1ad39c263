"""The freshness policy: require, create, skip; and the report lines it produces."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dbmigrate import errors
from dbmigrate.backups import base, gate

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


class FakeProvider:
    """A provider with a fixed newest backup; `create` records that it was asked (pure policy tests)."""

    name = "test"

    def __init__(self, taken_at: datetime | None, *, fail: bool = False) -> None:
        self.taken_at = taken_at
        self.created = 0
        self.fail = fail

    def latest(self) -> base.Backup | None:
        if self.fail:
            raise base.BackupError("API unreachable")
        return None if self.taken_at is None else base.Backup("test", self.taken_at, "fixed")

    def create(self) -> base.Backup:
        self.created += 1
        self.taken_at = NOW
        return base.Backup("test", NOW, "new")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("30m", 1800), ("1h", 3600), ("1h30m", 5400), ("2d", 172800), ("1w", 604800), ("0.5h", 1800)],
)
def test_durations(text: str, seconds: int) -> None:
    assert gate.parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "1x", "h", "1h 2", "-1h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(errors.UsageError, match="invalid duration"):
        gate.parse_duration(text)


def test_fresh_backup_passes_with_its_age() -> None:
    check, backup = gate.check(
        FakeProvider(NOW - timedelta(minutes=5)), policy="require", max_age=timedelta(hours=1), now=NOW
    )
    assert check.ok is True and check.message == "Backup verified (5 minutes ago)"
    assert backup is not None


def test_stale_backup_is_refused_with_the_seed_wording() -> None:
    with pytest.raises(errors.SafetyGateError) as caught:
        gate.check(FakeProvider(NOW - timedelta(days=3)), policy="require", max_age=timedelta(hours=1), now=NOW)
    assert caught.value.message == "✗ Backup too old (3 days ago, limit 1h)"
    assert caught.value.exit_code == 3


def test_missing_backup_and_failing_provider_are_refused() -> None:
    with pytest.raises(errors.SafetyGateError, match="No backup found"):
        gate.check(FakeProvider(None), policy="require", max_age=timedelta(hours=1), now=NOW)
    with pytest.raises(errors.SafetyGateError, match="API unreachable"):
        gate.check(FakeProvider(NOW, fail=True), policy="require", max_age=timedelta(hours=1), now=NOW)


def test_create_takes_a_backup_only_when_stale() -> None:
    fresh = FakeProvider(NOW - timedelta(minutes=1))
    gate.check(fresh, policy="create", max_age=timedelta(hours=1), now=NOW)
    assert fresh.created == 0
    stale = FakeProvider(NOW - timedelta(hours=2))
    check, _ = gate.check(stale, policy="create", max_age=timedelta(hours=1), now=NOW)
    assert stale.created == 1 and check.message == "Backup verified (just now: new)"


def test_skip_and_no_provider() -> None:
    check, backup = gate.check(None, policy="skip", max_age=timedelta(hours=1))
    assert check.ok is None and backup is None
    with pytest.raises(errors.SafetyGateError, match="no backup provider"):
        gate.check(None, policy="require", max_age=timedelta(hours=1))
