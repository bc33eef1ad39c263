"""Helpers shared by the benchmarks: fresh PostgreSQL databases on the local server and timing."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import sqlalchemy

USER = os.environ.get("DBMIGRATE_TEST_USER", "dbmigrate")
PASSWORD = os.environ.get("DBMIGRATE_TEST_PASSWORD", "dbmigrate")
ADMIN_URL = f"postgresql+psycopg://{USER}:{PASSWORD}@127.0.0.1:5432/postgres"
BIN = Path(sys.executable).parent


@contextlib.contextmanager
def fresh_pg_database() -> Iterator[str]:
    """A new PostgreSQL database (its name), dropped afterwards."""
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sqlalchemy.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=sqlalchemy.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def pg_url(name: str) -> str:
    return f"postgresql://{USER}:{PASSWORD}@127.0.0.1:5432/{name}"


def timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def run(command: list[str], *, cwd: Path | None = None, env_extra: dict[str, str] | None = None) -> None:
    env = {**os.environ, "PGPASSWORD": PASSWORD, **(env_extra or {})}
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env, cwd=cwd)
