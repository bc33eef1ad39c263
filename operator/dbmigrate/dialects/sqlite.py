"""SQLite: transactional DDL, ``BEGIN IMMEDIATE`` per migration, and a lock file the OS releases if we die."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from datetime import datetime
from typing import ClassVar

import sqlalchemy

from dbmigrate import errors
from dbmigrate.dialects import base

_POLL_SECONDS = 0.05


class SQLite(base.Dialect):
    name: ClassVar[str] = "sqlite"
    transactional_ddl: ClassVar[bool] = True
    begin_statement: ClassVar[str] = "BEGIN IMMEDIATE"

    def __init__(self) -> None:
        self._lock_fds: dict[str, int] = {}

    def acquire_lock(self, conn: sqlalchemy.Connection, *, key: str, timeout: float) -> None:
        """An exclusive ``flock`` on ``<database>.dbmigrate-lock``, held for the whole run.

        SQLite's own locks last one transaction; a run spans many, so the run lock is a file lock, which the kernel
        drops with the process. Each migration also runs in ``BEGIN IMMEDIATE`` so no other writer interleaves.
        """
        database = conn.engine.url.database
        if not database or database == ":memory:":
            return
        fd = os.open(f"{database}.dbmigrate-lock", os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
                    os.close(fd)
                    raise errors.LockTimeoutError(
                        f"timed out after {timeout:g}s waiting for the migration lock on {database}, held by {holder}",
                        hint="another dbmigrate run is applying migrations; wait for it, or raise --lock-wait",
                    ) from None
                time.sleep(_POLL_SECONDS)
                continue
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} on {os.uname().nodename}".encode(), 0)
            self._lock_fds[key] = fd
            return

    def release_lock(self, conn: sqlalchemy.Connection, *, key: str) -> bool:
        fd = self._lock_fds.pop(key, None)
        if fd is None:
            return False
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)
        return True

    def set_timeouts(
        self, conn: sqlalchemy.Connection, *, lock_timeout: float | None, statement_timeout: float | None
    ) -> None:
        conn.exec_driver_sql(f"PRAGMA busy_timeout = {0 if lock_timeout is None else int(lock_timeout * 1000)}")

    def is_lock_timeout(self, exc: BaseException) -> bool:
        return "database is locked" in str(getattr(exc, "orig", exc))

    def history_column_types(self) -> dict[str, str]:
        return {"timestamp": "TEXT", "boolean": "INTEGER", "text": "TEXT"}

    def timestamp_param(self, value: datetime) -> object:
        return value.isoformat()
