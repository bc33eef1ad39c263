"""Schema verification: the fingerprint of the live schema, integrity problems, and drift since the last run.

The fingerprint recorded after each run lives in ``<history table>_state``; a different live fingerprint before the
next run means someone changed the schema outside dbmigrate (drift). Both tables are left out of the fingerprint.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import sqlalchemy

from dbmigrate import outcome, state
from dbmigrate.dialects import base
from dbmigrate.schema import fingerprint as fingerprints
from dbmigrate.schema import integrity, model, snapshot

_FINGERPRINT_KEY = "schema_fingerprint"


def state_table(history_table: str) -> str:
    return f"{history_table}_state"


def read(conn: sqlalchemy.Connection, dialect: base.Dialect, *, history_table: str) -> model.Schema:
    """The live schema without dbmigrate's own tables, read in the dialect's neutral session settings."""
    excluded = {history_table, state_table(history_table)}
    with dialect.neutral_session(conn):
        return snapshot.read_schema(conn, dialect=dialect.name, exclude_tables=excluded)


@dataclasses.dataclass(frozen=True)
class Verification:
    fingerprint: str
    #: Failures: verify (and a run that otherwise succeeded) exits 5 on them.
    problems: list[str]
    recorded: str | None
    #: Steps of a documented procedure left to finish (a NOT VALID constraint to validate): reported with ⚠.
    warnings: list[str] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def check(self) -> outcome.Check:
        if self.problems:
            return outcome.Check("integrity", False, f"{len(self.problems)} problem(s): {'; '.join(self.problems)}")
        if self.warnings:
            message = f"Valid, {len(self.warnings)} warning(s): {'; '.join(self.warnings)}"
            return outcome.Check("integrity", True, message, warning=True)
        return outcome.Check("integrity", True, "Valid")

    def to_json(self) -> dict[str, object]:
        return {
            "fingerprint": self.fingerprint,
            "ok": self.ok,
            "problems": self.problems,
            "warnings": self.warnings,
            "recorded": self.recorded,
        }


def verify(
    conn: sqlalchemy.Connection,
    dialect: base.Dialect,
    *,
    history_table: str,
    current: state.State,
    expected: str | None = None,
    schema: model.Schema | None = None,
) -> Verification:
    """Every integrity check at once: history against files, catalog problems, the expected fingerprint."""
    schema = schema or read(conn, dialect, history_table=history_table)
    live = fingerprints.fingerprint(schema)
    problems = history_problems(current)
    found = integrity.problems(conn, dialect=dialect.name)
    problems += [f"{p.kind} {p.name}: {p.message}" for p in found if not p.warning]
    if expected and expected != live:
        problems.append(f"schema fingerprint {live} differs from the expected {expected}")
    return Verification(
        fingerprint=live,
        problems=problems,
        recorded=recorded_fingerprint(conn, dialect, history_table),
        warnings=[f"{p.kind} {p.name}: {p.message}" for p in found if p.warning],
    )


def history_problems(current: state.State) -> list[str]:
    """History must match the files: no dirty rows, no edited or missing files, no gaps below the newest version."""
    problems = [f"migration {row.version} is dirty (did not finish)" for row in current.dirty]
    problems += [f"{m.filename} changed after it was applied (checksum differs)" for m, _ in current.edited]
    problems += [f"applied migration {row.version} has no file" for row in current.missing]
    problems += [f"{m.filename} was skipped: it is older than the newest applied one" for m in current.out_of_order]
    return problems


def recorded_fingerprint(conn: sqlalchemy.Connection, dialect: base.Dialect, history_table: str) -> str | None:
    """The fingerprint recorded after the last run, or None before the first one."""
    table = state_table(history_table)
    schema, _, name = table.rpartition(".")
    if not sqlalchemy.inspect(conn).has_table(name, schema=schema or None):
        return None
    value = conn.execute(
        sqlalchemy.text(f"SELECT value FROM {dialect.quote(table)} WHERE name = :k"), {"k": _FINGERPRINT_KEY}
    ).scalar()
    return None if value is None else str(value)


def record_fingerprint(conn: sqlalchemy.Connection, dialect: base.Dialect, *, history_table: str, value: str) -> None:
    """Remember the fingerprint a run left behind, for the next run's drift check."""
    quoted = dialect.quote(state_table(history_table))
    stamp = dialect.history_column_types()["timestamp"]
    conn.exec_driver_sql(
        f"CREATE TABLE IF NOT EXISTS {quoted} "
        f"(name VARCHAR(64) NOT NULL PRIMARY KEY, value VARCHAR(255) NOT NULL, updated_at {stamp} NOT NULL)"
    )
    params = {"k": _FINGERPRINT_KEY, "v": value, "t": dialect.timestamp_param(datetime.now(UTC))}
    updated = conn.execute(sqlalchemy.text(f"UPDATE {quoted} SET value = :v, updated_at = :t WHERE name = :k"), params)
    if updated.rowcount == 0:
        conn.execute(sqlalchemy.text(f"INSERT INTO {quoted} (name, value, updated_at) VALUES (:k, :v, :t)"), params)


def drift_check(*, live: str, recorded: str | None) -> outcome.Check:
    """Whether the schema changed outside dbmigrate since the last run (no record yet: nothing to compare)."""
    if recorded is None:
        return outcome.Check("drift", None, "No drift check (no fingerprint recorded by an earlier run)")
    if recorded == live:
        return outcome.Check("drift", True, "No schema drift since the last run")
    return outcome.Check(
        "drift", False, f"Schema drift: the schema changed outside dbmigrate since the last run ({recorded[:19]}…)"
    )
