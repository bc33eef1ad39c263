"""Fixtures of the framework tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy

from tests.fixtures.databases import PG_ADMIN_URL


@pytest.fixture
def secret_pg_url(pg_url: str) -> Iterator[tuple[str, str, str]]:
    """(url, user, password) of a role with a distinctive password that owns the test database."""
    user, password = f"fw_{uuid.uuid4().hex[:8]}", f"Pw-{uuid.uuid4().hex}"
    database = pg_url.rsplit("/", 1)[1]
    admin = sqlalchemy.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=sqlalchemy.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {user} LOGIN PASSWORD '{password}'")
        conn.exec_driver_sql(f'ALTER DATABASE "{database}" OWNER TO {user}')
    try:
        yield f"postgresql://{user}:{password}@127.0.0.1:5432/{database}", user, password
    finally:
        owner = sqlalchemy.make_url(PG_ADMIN_URL).username
        in_db = sqlalchemy.create_engine(
            PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{database}",
            isolation_level="AUTOCOMMIT",
            poolclass=sqlalchemy.NullPool,
        )
        with in_db.connect() as conn:
            conn.exec_driver_sql(f"REASSIGN OWNED BY {user} TO {owner}")
            conn.exec_driver_sql(f"DROP OWNED BY {user}")
        in_db.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP ROLE {user}")
        admin.dispose()
