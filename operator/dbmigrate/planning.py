"""The plan of a run: which migrations, what the analysis found, the plan hash approvals bind to, and the dry run.

The plan hash digests the database identity, the direction and the ordered (version, checksum) pairs to run, so an
approval given for one plan never applies another: a new or edited migration, or another database, changes it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import sqlalchemy
from sqlalchemy.engine import URL

from dbmigrate import database, dburl, errors
from dbmigrate.dialects import base
from dbmigrate.safety import lint
from dbmigrate.safety import state as safety_state
from dbmigrate.schema import diff as schema_diff
from dbmigrate.schema import model as schema_model
from dbmigrate.sources import model


def identity(url: URL) -> str:
    """What makes two runs target the same database: dialect, host, port and database (never the credentials)."""
    dialect = dburl.dialect_of(url)
    if dialect == "sqlite":
        return f"sqlite:{Path(url.database or ':memory:').resolve()}"
    return f"{dialect}://{url.host or 'localhost'}:{url.port or ''}/{url.database or ''}"


def plan_hash(*, url: URL, direction: str, migrations: Iterable[model.Migration]) -> str:
    """What an approval binds to. The down parts count in either direction: a down plan runs them, and an up plan's
    rollback may (the checksum covers the up file only, as the history records it)."""
    payload = {
        "database": identity(url),
        "direction": direction,
        "migrations": [[m.version, m.checksum, _digest(m.down)] for m in migrations],
    }
    return "sha256:" + hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _digest(script: model.Script | None) -> str | None:
    return None if script is None else hashlib.sha256(script.sql.encode()).hexdigest()


@dataclasses.dataclass
class StatementRun:
    """One statement of a dry run: ``ok``, ``error``, or ``skipped`` (cannot run inside a transaction)."""

    file: str
    line: int
    statement: str
    status: str
    seconds: float
    error: str | None = None

    def to_json(self) -> dict[str, object]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Plan:
    direction: str
    hash: str
    migrations: list[model.Migration]
    findings: list[lint.Finding]
    executed: bool = False
    note: str = "static analysis only (not a dry run)"
    statements: list[StatementRun] = dataclasses.field(default_factory=list)
    schema_changes: list[schema_diff.SchemaChange] = dataclasses.field(default_factory=list)

    @property
    def blocking(self) -> list[lint.Finding]:
        return lint.blocking(self.findings)

    @property
    def irreversible(self) -> list[model.Migration]:
        return [m for m in self.migrations if m.down is None]

    def to_json(self) -> dict[str, object]:
        return {
            "hash": self.hash,
            "direction": self.direction,
            "executed": self.executed,
            "note": self.note,
            "pending": [
                {
                    "version": m.version,
                    "name": m.name,
                    "file": m.filename,
                    "checksum": m.checksum,
                    "reversible": m.down is not None,
                    "transactional": m.up.transactional,
                }
                for m in self.migrations
            ],
            "findings": [f.to_json() for f in self.findings],
            "blocking": len(self.blocking),
            "irreversible": [m.version for m in self.irreversible],
            "statements": [s.to_json() for s in self.statements],
            "schema_changes": [c.to_json() for c in self.schema_changes],
        }


def build(
    *,
    url: URL,
    dialect: base.Dialect,
    direction: str,
    migrations: list[model.Migration],
    schema: schema_model.Schema | None = None,
    rollback: bool,
) -> Plan:
    """The plan for running ``migrations`` in ``direction``, with every script analysed for dangerous changes.

    With ``rollback`` (an up plan that rolls back on failure) each down part is analysed too, as the rollback would
    run it: after its up part, which may have created what it drops. A script that would end the run's transaction
    midway is refused here, before anything runs."""
    state = safety_state.SchemaState(
        dialect.name, _column_types(schema) if schema is not None else None, own_schema=_own_schema(url, dialect.name)
    )
    findings: list[lint.Finding] = []
    for migration in migrations:
        script = migration.up if direction == "up" else migration.down
        if script is None:
            continue
        if not dialect.statements(script):  # (which also refuses a script that would end the transaction)
            findings.append(_empty(script))
        findings += lint.lint_sql(
            script.sql,
            dialect=dialect.name,
            file=script.filename,
            first_line=script.first_line,
            state=state,
        )
        if rollback and migration.down is not None:
            findings += _rollback_findings(migration.down, dialect=dialect.name, state=state.for_rollback())
    return Plan(
        direction=direction,
        hash=plan_hash(url=url, direction=direction, migrations=migrations),
        migrations=migrations,
        findings=findings,
    )


def _rollback_findings(script: model.Script, *, dialect: str, state: safety_state.SchemaState) -> list[lint.Finding]:
    """The destructive findings of a down part an up run's rollback may run. What its up part (or an earlier one of
    the run) created is new, so dropping it is no finding; dropping what existed before the run is, since a failure
    anywhere later in the run would destroy it."""
    findings = lint.lint_sql(
        script.sql, dialect=dialect, file=script.filename, first_line=script.first_line, state=state
    )
    return [
        dataclasses.replace(finding, reason=f"In the rollback if this run fails (down part): {finding.reason}")
        for finding in findings
        if finding.severity is lint.Severity.DESTRUCTIVE
    ]


def _empty(script: model.Script) -> lint.Finding:
    """A script without a statement: usually a file created and never written, or its content never saved."""
    return lint.Finding(
        rule="empty_migration",
        severity=lint.RULES["empty_migration"],
        file=script.filename,
        line=script.first_line,
        statement="",
        reason="it holds no SQL statement, so it will be recorded as applied having done nothing; SQL written into "
        "it afterwards is then refused as an edit of an applied migration",
    )


def _column_types(schema: schema_model.Schema) -> dict[tuple[str, str], str]:
    """Column types by table as the snapshot names it: bare in the connection's own schema, qualified elsewhere."""
    return {(table.qualified_name, column.name): column.type for table in schema.tables for column in table.columns}


def _own_schema(url: URL, dialect: str) -> str | None:
    """The name of the schema the snapshot keeps bare: MySQL's database, SQLite's ``main``. PostgreSQL's current
    schema is not in the URL, but its snapshot lists every other schema, so a name it lacks is the current one."""
    return {"mysql": url.database, "sqlite": "main"}.get(dialect)


def enforce_approval(plan: Plan, *, allow_destructive: bool, approve: str | None) -> str:
    """Refuse destructive plans unless confirmed; an approval names the exact plan hash it was given for.

    Returns the report line saying how destructive findings were handled.
    """
    if approve is not None and approve != plan.hash:
        raise errors.SafetyGateError(
            f"✗ The plan changed since it was approved (approved {approve}, current {plan.hash})",
            hint="review the new plan with `dbmigrate plan` and approve its hash",
        )
    blocking = plan.blocking
    if not blocking:
        allowed = sum(1 for f in plan.findings if f.severity == "destructive" and f.allowed)
        return (
            f"{allowed} destructive change(s) allowed by dbmigrate:allow comments"
            if allowed
            else "No destructive changes"
        )
    if approve is not None:
        return f"{len(blocking)} destructive change(s) approved (plan {plan.hash[:19]}…)"
    if allow_destructive:
        return f"{len(blocking)} destructive change(s) allowed (--allow-destructive)"
    listed = "\n".join(f"  {f.file}:{f.line} {f.rule}: {f.reason}" for f in blocking)
    raise errors.SafetyGateError(
        f"✗ {len(blocking)} destructive change(s) need confirmation:\n{listed}",
        hint=f"review them, then pass --approve {plan.hash} (or --allow-destructive), "
        "or mark an intended one with a `-- dbmigrate:allow <rule>` comment",
    )


def dry_run(
    conn: sqlalchemy.Connection,
    dialect: base.Dialect,
    *,
    plan: Plan,
    read_schema: Callable[[], schema_model.Schema],
) -> None:
    """Execute the plan inside one transaction that is always rolled back, recording each statement.

    Sequences are not transactional in PostgreSQL (``nextval`` survives a rollback), so their positions are saved
    first and restored after the rollback: nothing of a dry run persists.
    """
    if not dialect.transactional_ddl:
        plan.note = f"not executed: {dialect.name} commits DDL implicitly, so this is a static plan from parsing"
        return
    before = read_schema()
    sequences = _sequence_positions(conn) if dialect.name == "postgresql" else []
    dialect.begin(conn)
    try:
        if _execute_plan(conn, dialect, plan):  # after a failed statement PostgreSQL reads nothing more
            plan.schema_changes = schema_diff.diff(before, read_schema())
    finally:
        dialect.rollback(conn)
        _restore_sequences(conn, sequences)
    plan.executed = True
    plan.note = "executed in a transaction that was rolled back"


def _execute_plan(conn: sqlalchemy.Connection, dialect: base.Dialect, plan: Plan) -> bool:
    """Run the plan's statements, stopping at the first error; returns whether all succeeded."""
    for migration in plan.migrations:
        script = migration.up if plan.direction == "up" else migration.down
        if script is None:
            continue
        for statement in dialect.statements(script):
            preview = " ".join(statement.text.split())[:200]
            if not script.transactional:
                plan.statements.append(StatementRun(script.filename, statement.line, preview, "skipped", 0.0))
                continue
            started = time.monotonic()
            try:
                conn.exec_driver_sql(statement.text, execution_options={"no_parameters": True})
            except sqlalchemy.exc.DBAPIError as exc:
                plan.statements.append(
                    StatementRun(
                        script.filename,
                        statement.line,
                        preview,
                        "error",
                        time.monotonic() - started,
                        database.driver_message(exc),
                    )
                )
                return False
            plan.statements.append(
                StatementRun(script.filename, statement.line, preview, "ok", time.monotonic() - started)
            )
    return True


def _sequence_positions(conn: sqlalchemy.Connection) -> list[tuple[str, int, bool]]:
    rows = conn.exec_driver_sql(
        "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename), "
        "COALESCE(last_value, start_value), last_value IS NOT NULL FROM pg_sequences"
    ).all()
    return [(str(name), int(value), bool(called)) for name, value, called in rows]


def _restore_sequences(conn: sqlalchemy.Connection, positions: list[tuple[str, int, bool]]) -> None:
    for name, value, called in positions:
        conn.execute(sqlalchemy.text("SELECT setval(:n, :v, :c)"), {"n": name, "v": value, "c": called})
