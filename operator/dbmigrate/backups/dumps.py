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
    """Backups of one database are the files in ``directory`` named after it; ``create`` writes a new dump there.

    Only dumps named ``<database>-…`` or ``<database>.…`` count, so that one directory can hold the dumps of several
    databases without a fresh dump of one passing the gate for another.
    """

    def __init__(self, *, directory: Path, url: URL) -> None:
        self._directory = directory
        self._url = url
        self._database = Path(url.database or "database").stem
        self.name = f"dumps named {self._database}-* or {self._database}.* in {directory}"

    def latest(self) -> base.Backup | None:
        """The newest non-empty dump of this database by modification time (empty files are failed dumps)."""
        if not self._directory.is_dir():
            return None
        live = self._live_file()
        dumps = [
            (entry.stat().st_mtime, Path(entry.path))
            for entry in os.scandir(self._directory)
            if self._is_dump(entry.name)
            and entry.is_file()
            and entry.stat().st_size > 0
            and (live is None or not os.path.samefile(entry.path, live))
        ]
        if not dumps:
            return None
        mtime, path = max(dumps)
        return _backup(path, taken_at=datetime.fromtimestamp(mtime, UTC), verb="found")

    def _is_dump(self, filename: str) -> bool:
        named = filename.startswith((f"{self._database}-", f"{self._database}."))
        return named and filename.endswith(DUMP_SUFFIXES)

    def _live_file(self) -> Path | None:
        """The SQLite database file itself, which a backup directory next to it would offer as the freshest dump."""
        if dburl.dialect_of(self._url) != "sqlite" or not self._url.database:
            return None
        path = Path(self._url.database)
        return path if path.exists() else None

    def create(self) -> base.Backup:
        self._directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        database = self._database
        dialect = dburl.dialect_of(self._url)
        if dialect == "sqlite":
            path, dump = self._directory / f"{database}-{stamp}.sqlite3", _sqlite_backup
        elif dialect == "postgresql":
            path, dump = self._directory / f"{database}-{stamp}.dump", _pg_dump
        else:
            path, dump = self._directory / f"{database}-{stamp}.sql", _mysqldump
        try:
            dump(self._url, path)
            if path.stat().st_size == 0:
                raise base.BackupError(f"the dump {path} is empty")
        except BaseException:
            path.unlink(missing_ok=True)  # a dump that stopped half-way must not pass as the newest one next time
            raise
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
    except sqlite3.Error as exc:
        raise base.BackupError(f"cannot back up {url.database}: {exc}") from None
    finally:
        source.close()
        target.close()


def _pg_dump(url: URL, path: Path) -> None:
    from psycopg.conninfo import make_conninfo

    # The URL's options (sslmode, sslrootcert, options, a socket directory as ?host=) reach pg_dump as libpq
    # connection parameters, so it connects as the run did; the password goes by environment only.
    params: dict[str, str | int | None] = {
        "host": url.host,
        "port": url.port,
        "user": url.username,
        "dbname": url.database,
    }
    params |= {key: str(value) for key, value in url.query.items() if not dburl.is_secret_option(key)}
    password = url.password or url.query.get("password")
    env = {**os.environ, "PGPASSWORD": str(password)} if password else dict(os.environ)
    conninfo = make_conninfo("", **{key: value for key, value in params.items() if value})
    _run([_tool("pg_dump"), "--format=custom", f"--file={path}", f"--dbname={conninfo}"], env=env)
    _run([_tool("pg_restore"), "--list", str(path)], env=env)  # readable, not just non-empty


#: PyMySQL's URL options and the mysqldump / mariadb-dump flags that make the dump connect the same way.
_MYSQL_FLAGS = {
    "ssl_ca": "--ssl-ca",
    "ssl_capath": "--ssl-capath",
    "ssl_cert": "--ssl-cert",
    "ssl_key": "--ssl-key",
    "ssl_cipher": "--ssl-cipher",
    "unix_socket": "--socket",
    "charset": "--default-character-set",
}
_MYSQL_VERIFY = ("ssl_verify_cert", "ssl_verify_identity", "ssl_check_hostname")


def _mysqldump(url: URL, path: Path) -> None:
    env = {**os.environ, "MYSQL_PWD": url.password or ""}
    args = ["-h", url.host or "localhost", "-P", str(url.port or 3306), "-u", url.username or "root"]
    args += [f"{_MYSQL_FLAGS[key]}={value}" for key, value in url.query.items() if key in _MYSQL_FLAGS]
    if any(str(url.query.get(key, "")).lower() in ("1", "true", "yes") for key in _MYSQL_VERIFY):
        args.append("--ssl-verify-server-cert")
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
