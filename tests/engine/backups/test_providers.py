"""The CLI's backup providers on real databases: dump directories, real dumps, and a user's command."""

from __future__ import annotations

import os
import sqlite3
import time
from datetime import timedelta
from pathlib import Path

import pytest

from dbmigrate import commands, dburl, errors
from dbmigrate.backups import base, command, dumps, gate
from tests.fixtures.databases import execute
from tests.fixtures.migrations import run_cli, settings, write


def test_newest_non_empty_dump_is_the_latest_backup(tmp_path: Path) -> None:
    (tmp_path / "x-old.dump").write_bytes(b"x")
    (tmp_path / "x.sql").write_bytes(b"y")
    (tmp_path / "x-newest-but-empty.dump").write_bytes(b"")
    (tmp_path / "x-notes.txt").write_bytes(b"z")
    os.utime(tmp_path / "x-old.dump", (time.time() - 7200, time.time() - 7200))
    provider = dumps.DumpDirectory(directory=tmp_path, url=dburl.parse("sqlite:///x.db"))
    latest = provider.latest()
    assert latest is not None and "x.sql" in latest.description
    assert dumps.DumpDirectory(directory=tmp_path / "none", url=dburl.parse("sqlite:///x.db")).latest() is None


def test_a_shared_directory_holds_no_backup_of_a_database_it_has_no_dump_of(tmp_path: Path) -> None:
    """One backup directory for several databases: another database's fresh dump must not pass the gate."""
    (tmp_path / "billing-20261124T030000Z.dump").write_bytes(b"x")
    (tmp_path / "orders_archive-20261124T030000Z.dump").write_bytes(b"x")
    orders = dumps.DumpDirectory(directory=tmp_path, url=dburl.parse("postgresql://u@h/orders"))
    assert orders.latest() is None
    with pytest.raises(errors.SafetyGateError, match=r"No backup found \(dumps named orders-\* or orders\.\*"):
        gate.check(orders, policy="require", max_age=timedelta(hours=1))
    (tmp_path / "orders.sql").write_bytes(b"x")
    latest = orders.latest()
    assert latest is not None and "orders.sql" in latest.description


def test_the_live_sqlite_file_is_not_its_own_backup(tmp_path: Path) -> None:
    """`--backup-dir .` next to `app.db`: the database file is written by every run and looks like a fresh dump."""
    sqlite3.connect(tmp_path / "app.db").execute("CREATE TABLE a (id INTEGER)").connection.close()
    provider = dumps.DumpDirectory(directory=tmp_path, url=dburl.parse(f"sqlite:///{tmp_path / 'app.db'}"))
    assert provider.latest() is None
    backup = provider.create()
    latest = provider.latest()
    assert "app-" in backup.description and latest is not None and "app-" in latest.description


def test_a_dump_that_failed_half_way_is_removed_not_taken_for_a_backup(mysql_url: str, tmp_path: Path) -> None:
    """mysqldump stops at a view whose table is gone, after writing the tables before it: a partial file."""
    execute(mysql_url, ["CREATE TABLE a (id INT)", "CREATE TABLE t2 (id INT)", "CREATE VIEW v AS SELECT * FROM t2"])
    execute(mysql_url, ["DROP TABLE t2"])
    provider = dumps.DumpDirectory(directory=tmp_path, url=dburl.parse(mysql_url))
    with pytest.raises(base.BackupError, match=r"dump failed: .*references invalid table"):
        provider.create()
    assert list(tmp_path.iterdir()) == [] and provider.latest() is None


def test_a_sqlite_file_that_is_no_database_fails_the_backup_clearly(tmp_path: Path) -> None:
    (tmp_path / "app.db").write_bytes(b"not a database")
    provider = dumps.DumpDirectory(directory=tmp_path / "backups", url=dburl.parse(f"sqlite:///{tmp_path}/app.db"))
    with pytest.raises(base.BackupError, match=r"cannot back up .*app\.db: file is not a database"):
        provider.create()


def test_create_takes_a_real_readable_dump(db_url: str, tmp_path: Path) -> None:
    write(tmp_path / "migrations", {"001_a.sql": "CREATE TABLE a (id INTEGER);\nINSERT INTO a VALUES (42);"})
    commands.up(settings(db_url, tmp_path / "migrations"))
    provider = dumps.DumpDirectory(directory=tmp_path / "backups", url=dburl.parse(db_url))
    backup = provider.create()
    (dump,) = (tmp_path / "backups").iterdir()
    assert dump.stat().st_size > 0 and str(dump) in backup.description
    assert provider.latest() is not None


def test_pg_dump_connects_with_the_urls_options(pg_url: str, tmp_path: Path) -> None:
    """sslmode, sslrootcert, options, a socket directory: pg_dump must reach the server as the run did, not with
    libpq's defaults (a TLS requirement quietly dropped, or the wrong server)."""
    strict = pg_url + f"?sslmode=verify-full&sslrootcert={tmp_path}/no-such-ca.pem"
    provider = dumps.DumpDirectory(directory=tmp_path, url=dburl.parse(strict))
    with pytest.raises(base.BackupError, match=r"pg_dump failed: .*no-such-ca\.pem"):
        provider.create()
    assert list(tmp_path.iterdir()) == []
    named = dumps.DumpDirectory(directory=tmp_path, url=dburl.parse(pg_url + "?application_name=x&connect_timeout=5"))
    assert "created" in named.create().description


def test_mysqldump_connects_with_the_urls_tls_options(mysql_url: str, tmp_path: Path) -> None:
    verified = mysql_url + f"?ssl_ca={tmp_path}/no-such-ca.pem&ssl_verify_cert=true"
    with pytest.raises(base.BackupError, match=r"dump failed: .*SSL"):  # the local server offers no TLS
        dumps.DumpDirectory(directory=tmp_path, url=dburl.parse(verified)).create()
    assert list(tmp_path.iterdir()) == []


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
