"""Logical dumps in a directory: the newest one as "the last backup", and taking a new one with the database's
own tool (pg_dump, mysqldump) or SQLite's online backup API.

Passwords reach pg_dump and mysqldump through their environment variables (PGPASSWORD, MYSQL_PWD), never the command
line, where any user of the machine could read them.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from sqlalchemy.engine import URL

from dbmigrate import dburl
from dbmigrate.backups import base

#: File endings recognised as dumps when looking for the newest backup.
DUMP_SUFFIXES = (".dump", ".sql", ".sql.gz", ".backup", ".sqlite3", ".db", ".bak")
_DUMP_TIMEOUT_SECONDS = 3600


class DumpDirectory:
    """Backups are files in ``directory``; ``create`` writes a new dump of ``url`` there."""

    name = "dump directory"

    def __init__(self, *, directory: Path, url: URL) -> None:
        self._directory = directory
        self._url = url

    def latest(self) -> base.Backup | None:
        """The newest non-empty dump file by modification time (empty files are failed dumps, not backups)."""
        if not self._directory.is_dir():
            return None
        dumps = [
            (entry.stat().st_mtime, Path(entry.path))
            for entry in os.scandir(self._directory)
            if entry.is_file() and entry.name.endswith(DUMP_SUFFIXES) and entry.stat().st_size > 0
        ]
        if not dumps:
            return None
        mtime, path = max(dumps)
        return _backup(path, taken_at=datetime.fromtimestamp(mtime, UTC), verb="found")

    def create(self) -> base.Backup:
        self._directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        database = Path(self._url.database or "database").stem
        dialect = dburl.dialect_of(self._url)
        if dialect == "sqlite":
            path = self._directory / f"{database}-{stamp}.sqlite3"
            _sqlite_backup(self._url, path)
        elif dialect == "postgresql":
            path = self._directory / f"{database}-{stamp}.dump"
            _pg_dump(self._url, path)
        else:
            path = self._directory / f"{database}-{stamp}.sql"
            _mysqldump(self._url, path)
        if path.stat().st_size == 0:
            raise base.BackupError(f"the dump {path} is empty")
        return _backup(path, taken_at=datetime.now(UTC), verb="created")


def _backup(path: Path, *, taken_at: datetime, verb: str) -> base.Backup:
    size = path.stat().st_size
    return base.Backup(provider="dump directory", taken_at=taken_at, description=f"{verb} {path} ({_size(size)})")


def _size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    raise AssertionError("unreachable")


def _sqlite_backup(url: URL, path: Path) -> None:
    """SQLite's online backup API: a consistent copy even while others write; then an integrity check."""
    source = sqlite3.connect(url.database or ":memory:")
    target = sqlite3.connect(path)
    try:
        source.backup(target)
        if target.execute("PRAGMA integrity_check").fetchone() != ("ok",):
            raise base.BackupError(f"the SQLite backup {path} failed its integrity check")
    finally:
        source.close()
        target.close()


def _pg_dump(url: URL, path: Path) -> None:
    env = {**os.environ, "PGPASSWORD": url.password or ""} if url.password else dict(os.environ)
    args = ["-h", url.host or "localhost", "-p", str(url.port or 5432), "-U", url.username or "postgres"]
    _run([_tool("pg_dump"), *args, "--format=custom", f"--file={path}", url.database or ""], env=env)
    _run([_tool("pg_restore"), "--list", str(path)], env=env)  # readable, not just non-empty


def _mysqldump(url: URL, path: Path) -> None:
    env = {**os.environ, "MYSQL_PWD": url.password or ""}
    args = ["-h", url.host or "localhost", "-P", str(url.port or 3306), "-u", url.username or "root"]
    tool = _tool("mysqldump", "mariadb-dump")
    with path.open("wb") as out:
        _run([tool, *args, "--single-transaction", "--routines", "--triggers", url.database or ""], env=env, out=out)
    with path.open("rb") as dump:
        dump.seek(max(0, path.stat().st_size - 200))
        if b"Dump completed" not in dump.read():
            raise base.BackupError(f"the dump {path} is incomplete (no 'Dump completed' trailer)")


def _tool(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise base.BackupError(f"{names[0]} is not installed; install the database client tools to take dumps")


def _run(command: list[str], *, env: dict[str, str], out: IO[bytes] | None = None) -> None:
    result = subprocess.run(
        command,
        env=env,
        stdout=out if out is not None else subprocess.PIPE,
        stderr=subprocess.PIPE,
        timeout=_DUMP_TIMEOUT_SECONDS,
        check=False,
    )
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise base.BackupError(f"{Path(command[0]).name} failed: {' '.join(message)}")
