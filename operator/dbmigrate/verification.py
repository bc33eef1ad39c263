"""Schema verification: the fingerprint of the live schema, integrity problems, and drift since the last run.

The fingerprint a run records lives in ``<history table>_state``, with the snapshot it was computed from; a
different live fingerprint before the next run means someone changed the schema outside dbmigrate (drift), and
the two snapshots say what changed. Both tables are left out of the fingerprint.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import sqlalchemy

from dbmigrate import outcome, state
from dbmigrate.dialects import base
from dbmigrate.schema import diff, integrity, model, snapshot
from dbmigrate.schema import fingerprint as fingerprints

_FINGERPRINT_KEY = "schema_fingerprint"
#: What to do about drift, whose changes are listed with it.
DRIFT_HINT = (
    "undo the changes listed, or make them a migration; or, if the schema is right as it is, accept it as the new "
    "baseline with `dbmigrate repair --accept-schema`"
)
#: Drift changes listed in the report's drift line; the JSON document has them all.
_SHOWN_CHANGES = 20


def state_table(history_table: str) -> str:
    return f"{history_table}_state"


def read(conn: sqlalchemy.Connection, dialect: base.Dialect, *, history_table: str) -> model.Schema:
    """The live schema without dbmigrate's own tables, read in the dialect's neutral session settings."""
    excluded = {history_table, state_table(history_table)}
    with dialect.neutral_session(conn):
        return snapshot.read_schema(conn, dialect=dialect.name, exclude_tables=excluded)


@dataclasses.dataclass(frozen=True)
class Recorded:
    """The baseline a run recorded: its fingerprint, and whether the snapshot behind it was stored too (dbmigrate
    versions before snapshots were stored fingerprinted less of the schema: their fingerprints compare with none
    taken now)."""

    fingerprint: str
    has_snapshot: bool


@dataclasses.dataclass(frozen=True)
class Verification:
    fingerprint: str
    #: Failures: verify (and a run that otherwise succeeded) exits 5 on them.
    problems: list[str]
    recorded: Recorded | None
    #: Steps of a documented procedure left to finish (a NOT VALID constraint to validate): reported with ⚠.
    warnings: list[str] = dataclasses.field(default_factory=list)
    #: The live schema the fingerprint was computed from.
    schema: model.Schema = dataclasses.field(default_factory=model.Schema)

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
            "recorded": self.recorded.fingerprint if self.recorded else None,
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
        recorded=recorded(conn, dialect, history_table),
        warnings=[f"{p.kind} {p.name}: {p.message}" for p in found if p.warning],
        schema=schema,
    )


def history_problems(current: state.State) -> list[str]:
    """History must match the files: no dirty rows, no edited or missing files, no gaps below the newest version."""
    problems = [f"migration {row.version} is dirty (did not finish)" for row in current.dirty]
    problems += [f"{m.filename} changed after it was applied (checksum differs)" for m, _ in current.edited]
    problems += [f"applied migration {row.version} has no file" for row in current.missing]
    problems += [f"{m.filename} was skipped: it is older than the newest applied one" for m in current.out_of_order]
    return problems


def recorded(conn: sqlalchemy.Connection, dialect: base.Dialect, history_table: str) -> Recorded | None:
    """The baseline recorded by the last run that recorded one, or None before the first."""
    columns = _state_columns(conn, history_table)
    if not columns:
        return None
    has_snapshot = "snapshot IS NOT NULL" if "snapshot" in columns else "0 = 1"
    row = conn.execute(
        sqlalchemy.text(
            f"SELECT value, {has_snapshot} FROM {dialect.quote(state_table(history_table))} WHERE name = :k"
        ),
        {"k": _FINGERPRINT_KEY},
    ).first()
    return None if row is None else Recorded(fingerprint=str(row[0]), has_snapshot=bool(row[1]))


def recorded_schema(conn: sqlalchemy.Connection, dialect: base.Dialect, history_table: str) -> model.Schema | None:
    """The snapshot behind the recorded fingerprint (read only when needed: it can be megabytes); None when there
    is none, or none this version can read."""
    text = conn.execute(
        sqlalchemy.text(f"SELECT snapshot FROM {dialect.quote(state_table(history_table))} WHERE name = :k"),
        {"k": _FINGERPRINT_KEY},
    ).scalar()
    try:
        return model.from_json(json.loads(text)) if text else None
    except (KeyError, TypeError, ValueError):
        return None


def record(
    conn: sqlalchemy.Connection, dialect: base.Dialect, *, history_table: str, fingerprint: str, schema: model.Schema
) -> None:
    """Remember the fingerprint a run left behind and its snapshot, for the next run's drift check. Under the run
    lock: a state table of an earlier version gets its snapshot column here."""
    table = state_table(history_table)
    quoted = dialect.quote(table)
    types = dialect.history_column_types()
    conn.exec_driver_sql(
        f"CREATE TABLE IF NOT EXISTS {quoted} (name VARCHAR(64) NOT NULL PRIMARY KEY, value VARCHAR(255) NOT NULL, "
        f"updated_at {types['timestamp']} NOT NULL, snapshot {types['text']})"
    )
    if "snapshot" not in _state_columns(conn, history_table):
        conn.exec_driver_sql(f"ALTER TABLE {quoted} ADD COLUMN snapshot {types['text']}")
    params = {
        "k": _FINGERPRINT_KEY,
        "v": fingerprint,
        "s": json.dumps(schema.to_json(), separators=(",", ":"), ensure_ascii=False),
        "t": dialect.timestamp_param(datetime.now(UTC)),
    }
    updated = conn.execute(
        sqlalchemy.text(f"UPDATE {quoted} SET value = :v, snapshot = :s, updated_at = :t WHERE name = :k"), params
    )
    if updated.rowcount == 0:
        conn.execute(
            sqlalchemy.text(f"INSERT INTO {quoted} (name, value, snapshot, updated_at) VALUES (:k, :v, :s, :t)"),
            params,
        )


def _state_columns(conn: sqlalchemy.Connection, history_table: str) -> set[str]:
    """The state table's columns; empty when it does not exist yet."""
    schema, _, name = state_table(history_table).rpartition(".")
    inspector = sqlalchemy.inspect(conn)
    if not inspector.has_table(name, schema=schema or None):
        return set()
    return {str(c["name"]).lower() for c in inspector.get_columns(name, schema=schema or None)}


@dataclasses.dataclass(frozen=True)
class Drift:
    """The drift check, and what changed since the recorded snapshot (None when there is no drift, or no snapshot
    to compare)."""

    check: outcome.Check
    recorded: str | None = None
    fingerprint: str | None = None
    changes: list[diff.SchemaChange] | None = None

    def to_json(self) -> dict[str, object] | None:
        """The JSON document's ``drift``: null unless the schema drifted."""
        if self.check.ok is not False:
            return None
        changes = None if self.changes is None else [c.to_json() for c in self.changes]
        return {"recorded": self.recorded, "fingerprint": self.fingerprint, "changes": changes}


def drift(
    conn: sqlalchemy.Connection,
    dialect: base.Dialect,
    *,
    history_table: str,
    live: model.Schema,
    fingerprint: str,
    baseline: Recorded | None,
) -> Drift:
    """Whether the schema changed outside dbmigrate since the last recorded baseline, and how."""
    if baseline is None:
        return Drift(outcome.Check("drift", None, "No drift check (no fingerprint recorded by an earlier run)"))
    if not baseline.has_snapshot:
        return Drift(
            outcome.Check(
                "drift",
                None,
                "No drift check: the recorded fingerprint comes from an earlier dbmigrate version, which fingerprinted "
                "less of the schema; the next run that records one (`up`, `down`, `repair --accept-schema`) sets "
                "a new baseline",
            )
        )
    if baseline.fingerprint == fingerprint:
        return Drift(outcome.Check("drift", True, "No schema drift since the last run"))
    before = recorded_schema(conn, dialect, history_table)
    changes = None if before is None else diff.diff(before, live)
    message = f"Schema drift: the schema changed outside dbmigrate since the last run ({baseline.fingerprint[:19]}…)"
    return Drift(
        outcome.Check("drift", False, message + _listed(changes)),
        recorded=baseline.fingerprint,
        fingerprint=fingerprint,
        changes=changes,
    )


_SIGNS = {"added": "+", "changed": "~", "dropped": "-"}


def _listed(changes: list[diff.SchemaChange] | None) -> str:
    if changes is None:
        return "; the recorded snapshot cannot be read, so what changed is unknown"
    if not changes:
        return "; the recorded snapshot shows no difference (it was recorded by another dbmigrate version)"
    lines = [f"\n    {_SIGNS[c.kind]} {c.kind} {c.object_type} {c.name}: {c.detail}" for c in changes[:_SHOWN_CHANGES]]
    more = len(changes) - _SHOWN_CHANGES
    if more > 0:
        lines.append(f"\n    … and {more} more (`dbmigrate verify --output json`: drift.changes)")
    return f", {len(changes)} change(s):{''.join(lines)}"
