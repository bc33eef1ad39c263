"""The CLI's backup providers on real databases: dump directories, real dumps, and a user's command."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from dbmigrate import commands, dburl, errors
from dbmigrate.backups import base, command, dumps
from tests.fixtures.migrations import run_cli, settings, write


def test_newest_non_empty_dump_is_the_latest_backup(tmp_path: Path) -> None:
    (tmp_path / "old.dump").write_bytes(b"x")
    (tmp_path / "new.sql").write_bytes(b"y")
    (tmp_path / "newest-but-empty.dump").write_bytes(b"")
    (tmp_path / "notes.txt").write_bytes(b"z")
    os.utime(tmp_path / "old.dump", (time.time() - 7200, time.time() - 7200))
    provider = dumps.DumpDirectory(directory=tmp_path, url=dburl.parse("sqlite:///x.db"))
    latest = provider.latest()
    assert latest is not None and "new.sql" in latest.description
    assert dumps.DumpDirectory(directory=tmp_path / "none", url=dburl.parse("sqlite:///x.db")).latest() is None


def test_create_takes_a_real_readable_dump(db_url: str, tmp_path: Path) -> None:
    write(tmp_path / "migrations", {"001_a.sql": "CREATE TABLE a (id INTEGER);\nINSERT INTO a VALUES (42);"})
    commands.up(settings(db_url, tmp_path / "migrations"))
    provider = dumps.DumpDirectory(directory=tmp_path / "backups", url=dburl.parse(db_url))
    backup = provider.create()
    (dump,) = (tmp_path / "backups").iterdir()
    assert dump.stat().st_size > 0 and str(dump) in backup.description
    assert provider.latest() is not None


def test_dump_failure_is_a_backup_error_without_the_password(pg_url: str, tmp_path: Path) -> None:
    wrong = dburl.parse(pg_url.replace("dbmigrate:dbmigrate@", "dbmigrate:NotThePassword@"))
    with pytest.raises(base.BackupError) as caught:
        dumps.DumpDirectory(directory=tmp_path, url=wrong).create()
    assert "pg_dump failed" in str(caught.value) and "NotThePassword" not in str(caught.value)


@pytest.mark.parametrize("printed", ["2026-11-24T10:00:00Z", "2026-11-24T10:00:00+00:00", "1795514400"])
def test_command_output_forms(printed: str) -> None:
    backup = command.BackupCommand(f"echo {printed}").latest()
    assert backup is not None and backup.taken_at.isoformat() == "2026-11-24T10:00:00+00:00"


def test_command_failures_are_clear() -> None:
    with pytest.raises(base.BackupError, match="exited 3"):
        command.BackupCommand("echo oops >&2; exit 3").latest()
    with pytest.raises(base.BackupError, match="not a time"):
        command.BackupCommand("echo yesterday").latest()


def test_stale_backup_refuses_the_run_and_applies_nothing(tmp_path: Path) -> None:
    write(tmp_path / "migrations", {"001_a.sql": "CREATE TABLE a (id INTEGER);"})
    three_days_ago = int(time.time()) - 3 * 86400 - 60
    result = run_cli("up", "--backup-command", f"echo {three_days_ago}", "--backup-max-age", "1h", cwd=tmp_path)
    assert result.returncode == 3
    assert "✗ Backup too old (3 days ago, limit 1h)" in result.stdout
    assert "APPLYING" not in result.stdout
    status = run_cli("status", "-o", "json", cwd=tmp_path)
    assert '"applied": []' in status.stdout


def test_backup_policy_without_provider_is_refused(sqlite_url: str, tmp_path: Path) -> None:
    write(tmp_path / "migrations", {"001_a.sql": "CREATE TABLE a (id INTEGER);"})
    result = commands.up(settings(sqlite_url, tmp_path / "migrations", backup_policy="require"))
    assert isinstance(result.error, errors.SafetyGateError) and "no backup provider" in result.error.message
