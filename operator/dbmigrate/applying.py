"""Applying and reverting single migrations on one connection: transactions, dirty marks, retries on lock timeouts.

On PostgreSQL and SQLite a migration and its history row commit together or not at all. On MySQL/MariaDB, and for
migrations that opt out of the transaction, the row is written ``dirty`` first and cleaned after; if a statement
fails, the migration's down part (if any) undoes it, otherwise the row stays dirty and further runs are refused.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple

import sqlalchemy

from dbmigrate import database, errors, history, progress
from dbmigrate.dialects import base
from dbmigrate.sources import model
from dbmigrate.sqltext import Statement, split_statements

_STATEMENT_PREVIEW = 200

#: Applies or reverts one migration and returns how long it took (seconds).
Step = Callable[[model.Migration], float]


@dataclasses.dataclass(frozen=True)
class Options:
    """How statements run: per-statement lock/statement timeouts (seconds) and retries on a lock timeout."""

    lock_timeout: float | None = 5.0
    statement_timeout: float | None = None
    lock_retries: int = 3
    retry_backoff: float = 1.0


class StatementFailed(Exception):
    """A statement failed; carries what the report needs (file, line, statement, database message)."""

    def __init__(self, *, script: model.Script, statement: Statement, cause: BaseException, lock_timeout: bool) -> None:
        super().__init__(database.driver_message(cause))
        self.script = script
        self.statement = statement
        self.cause = cause
        self.lock_timeout = lock_timeout

    def describe(self) -> str:
        text = " ".join(self.statement.text.split())
        if len(text) > _STATEMENT_PREVIEW:
            text = text[: _STATEMENT_PREVIEW - 1] + "…"
        return f"{self.script.filename}:{self.statement.line}: {text}\n  {self}"


class _Step(NamedTuple):
    """One query of a migration's transaction: a statement of the script, or BEGIN/COMMIT/the history write."""

    sql: str
    params: dict[str, object] | None = None
    statement: Statement | None = None
    label: str = ""


class Applier:
    """Runs migrations up or down on one locked connection, recording each in history."""

    def __init__(
        self,
        *,
        conn: sqlalchemy.Connection,
        dialect: base.Dialect,
        table: history.History,
        options: Options,
        report: progress.Progress,
    ) -> None:
        self._dialect = dialect
        self._history = table
        self._options = options
        self._report = report
        self._applied_by = database.runner_identity()
        # Migration SQL goes straight to the driver: no placeholders are parsed in text sent without parameters
        # (so `%` and `:name` stay as written), and SQLAlchemy's per-call overhead is skipped.
        self._driver = conn.connection.dbapi_connection
        self._cursor = self._driver.cursor()  # type: ignore[union-attr]
        self._driver_error: type[Exception] = conn.dialect.loaded_dbapi.Error

    def up(self, migration: model.Migration) -> float:
        """Apply ``migration``; returns its duration in seconds. Raises :class:`errors.MigrationError`."""
        row = self._history.new_row(
            version=migration.version, name=migration.name, checksum=migration.checksum, applied_by=self._applied_by
        )
        if not self._atomic(migration.up):
            return self._run_marked_dirty(migration, row)

        def insert(elapsed_ms: int | None) -> history.Query:
            if elapsed_ms is None:
                return self._history.insert(row, timed_by_server=True)
            return self._history.insert(dataclasses.replace(row, execution_ms=elapsed_ms))

        def inserted(elapsed_ms: int) -> None:
            self._history.inserted(dataclasses.replace(row, execution_ms=elapsed_ms))

        return self._run_atomic(migration.up, change=insert, done=inserted)

    def down(self, migration: model.Migration) -> float:
        """Revert ``migration`` with its down part and delete its history row."""
        if migration.down is None:
            raise errors.MigrationError(
                f"migration {migration.filename} has no down part (irreversible)",
                hint="write a down file for it, or restore from a backup",
            )
        if self._atomic(migration.down):
            return self._run_atomic(
                migration.down,
                change=lambda _elapsed_ms: self._history.delete_query(migration.version),
                done=lambda _elapsed_ms: self._history.deleted(migration.version),
            )
        started = time.monotonic()
        self._run_statements(migration.down)
        self._history.delete([migration.version])
        return time.monotonic() - started

    def _atomic(self, script: model.Script) -> bool:
        return self._dialect.transactional_ddl and script.transactional

    def _run_atomic(
        self,
        script: model.Script,
        *,
        change: Callable[[int | None], history.Query],
        done: Callable[[int], None],
    ) -> float:
        """Statements and the history change in one transaction, retried whole when a table lock times out.

        ``change(elapsed_ms)`` is the history write; ``None`` asks for one the database times itself, which can
        then travel with the last statement. ``done`` runs once it committed."""
        statements = split_statements(script.sql, dialect=self._dialect.name, first_line=script.first_line)
        for attempt in range(self._options.lock_retries + 1):
            started = time.monotonic()
            try:
                for group in self._transaction(statements, change=change, started=started):
                    self._send(script, group)
                elapsed = time.monotonic() - started
                done(int(elapsed * 1000))
                return elapsed
            except StatementFailed as failed:
                self._control("ROLLBACK")
                if not self._should_retry(failed, attempt):
                    raise _migration_error(failed, undone="nothing from it was kept (rolled back)") from None
            except BaseException:
                self._control("ROLLBACK")
                raise
        raise AssertionError("unreachable: the last attempt either returns or raises")

    def _transaction(
        self, statements: Sequence[Statement], *, change: Callable[[int | None], history.Query], started: float
    ) -> Iterator[list[_Step]]:
        """The migration's transaction as groups of queries, each group one round trip where the driver can.

        Where the database times the history write itself, BEGIN goes with the first statement and the history
        write and COMMIT with the last (a one-statement migration is one round trip); elsewhere the write is built
        after the last statement, so the time it records covers every statement (this is a generator for that)."""
        begin = _Step(self._dialect.begin_statement, label=self._dialect.begin_statement)
        commit = _Step("COMMIT", label="COMMIT")
        steps = [_Step(statement.text, statement=statement) for statement in statements]
        if self._dialect.elapsed_ms_sql is not None:
            steps = [begin, *steps, _history_step(change(None)), commit]
            if len(statements) <= 1:
                yield steps
                return
            yield steps[:2]
            yield from ([step] for step in steps[2:-3])
            yield steps[-3:]
            return
        yield [begin, *steps[:1]]
        yield from ([step] for step in steps[1:])
        yield [_history_step(change(int((time.monotonic() - started) * 1000))), commit]

    def _send(self, script: model.Script, group: list[_Step]) -> None:
        """Execute one group of steps; a failed statement becomes :class:`StatementFailed`, any other failed step a
        migration error naming it."""
        running = _culprit(group).statement
        if running is not None:
            self._report.statement_started(running)
        try:
            self._dialect.execute_together(
                self._driver, [(step.sql, step.params) for step in group], error=self._driver_error
            )
        except base.QueryFailed as failed:
            # Where the driver cannot tell which query failed, the group's statement is the culprit: BEGIN, the
            # history write and COMMIT only fail because of what the statement did (or a lost connection).
            step = group[failed.index] if failed.index is not None else _culprit(group)
            if step.statement is None:
                raise errors.MigrationError(
                    f"database error on {step.label}: {database.driver_message(failed.cause)}"
                ) from failed.cause
            raise StatementFailed(
                script=script,
                statement=step.statement,
                cause=failed.cause,
                lock_timeout=self._dialect.is_lock_timeout(failed.cause),
            ) from failed.cause

    def _run_marked_dirty(self, migration: model.Migration, row: history.Row) -> float:
        """For DDL that commits as it goes: mark dirty, run, mark clean; on failure undo with the down part."""
        started = time.monotonic()
        self._history.record(dataclasses.replace(row, dirty=True, success=False))
        try:
            self._run_statements(migration.up, retry_lock_timeouts=True)
        except StatementFailed as failed:
            raise self._undo_partial(migration, failed) from None
        elapsed = time.monotonic() - started
        self._history.mark_clean(version=migration.version, execution_ms=int(elapsed * 1000))
        return elapsed

    def _undo_partial(self, migration: model.Migration, failed: StatementFailed) -> errors.MigrationError:
        if migration.down is None:
            return _migration_error(
                failed,
                undone="statements before it were committed and the migration has no down part, "
                f"so the database is left DIRTY at version {migration.version}",
                hint=f"check which statements of {migration.filename} took effect, undo or complete them by hand, "
                "then run `dbmigrate repair`",
            )
        try:
            self._run_statements(migration.down)
        except StatementFailed as down_failed:
            return _migration_error(
                failed,
                undone=f"its down part also failed ({down_failed.describe()}), "
                f"so the database is left DIRTY at version {migration.version}",
                hint=f"check the schema against {migration.filename}, fix it by hand, then run `dbmigrate repair`",
            )
        self._history.delete([migration.version])
        return _migration_error(failed, undone="its down part was run to undo the statements already committed")

    def _control(self, sql: str) -> None:
        """BEGIN / COMMIT / ROLLBACK; a failure here (a lost connection, say) is a migration error, not a crash."""
        try:
            self._cursor.execute(sql)
        except self._driver_error as exc:
            raise errors.MigrationError(f"database error on {sql}: {database.driver_message(exc)}") from exc

    def _run_statements(self, script: model.Script, *, retry_lock_timeouts: bool = False) -> None:
        """Run the script's statements one by one, outside any transaction of ours."""
        for statement in split_statements(script.sql, dialect=self._dialect.name, first_line=script.first_line):
            self._report.statement_started(statement)
            for attempt in range(self._options.lock_retries + 1):
                try:
                    self._cursor.execute(statement.text)
                    break
                except self._driver_error as exc:
                    failed = StatementFailed(
                        script=script,
                        statement=statement,
                        cause=exc,
                        lock_timeout=self._dialect.is_lock_timeout(exc),
                    )
                    if not (retry_lock_timeouts and self._should_retry(failed, attempt)):
                        raise failed from exc

    def _should_retry(self, failed: StatementFailed, attempt: int) -> bool:
        """Lock timeouts are retried with exponential backoff; the sleep lets queued application queries through."""
        if attempt >= self._options.lock_retries or not failed.lock_timeout:
            return False
        delay = self._options.retry_backoff * (2**attempt)
        self._report.notice(
            f"lock timeout at {failed.script.filename}:{failed.statement.line}; "
            f"retry {attempt + 1}/{self._options.lock_retries} in {delay:g}s"
        )
        time.sleep(delay)
        return True


def _culprit(group: list[_Step]) -> _Step:
    """The group's statement (a group holds at most one), else its first step."""
    return next((step for step in group if step.statement is not None), group[0])


def _history_step(query: history.Query) -> _Step:
    return _Step(query.sql, query.params, label="the history table")


def _migration_error(failed: StatementFailed, *, undone: str, hint: str | None = None) -> errors.MigrationError:
    """The error for a failed statement; a table-lock wait that outlived every retry is a lock timeout."""
    message = f"{failed.describe()}\n  {undone}"
    error: errors.MigrationError
    if failed.lock_timeout:
        error = errors.TableLockTimeoutError(
            message, hint=hint or "a long transaction holds a lock on that table; retry when it is quieter"
        )
    else:
        error = errors.MigrationError(message, hint=hint)
    error.__cause__ = failed
    return error
