"""Applying and reverting single migrations on one connection: transactions, dirty marks, retries on lock timeouts.

On PostgreSQL and SQLite a migration and its history row commit together or not at all. On MySQL/MariaDB, and for
migrations that opt out of the transaction, the row is written ``dirty`` first and cleaned after; if a statement
fails, the migration's down part (if any) undoes it, otherwise the row stays dirty and further runs are refused.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import TYPE_CHECKING, NamedTuple

import sqlalchemy

from dbmigrate import database, errors, history, progress
from dbmigrate.dialects import base
from dbmigrate.sources import model
from dbmigrate.sqltext import NO_TRANSACTION_HINT, Statement, copies_with_client

if TYPE_CHECKING:
    from dbmigrate.dialects import pgpipeline

_STATEMENT_PREVIEW = 200


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


_HISTORY = "the history table"
#: How PostgreSQL and SQLite refuse a statement inside a transaction (those not caught before the run).
_OUTSIDE_ONLY = ("cannot run inside a transaction block", "cannot VACUUM from within a transaction")
_INSERT_NAME = b"dbmigrate_history_insert"


class _Step(NamedTuple):
    """One query of a migration's transaction: a statement of the script, or BEGIN/COMMIT/the history write."""

    sql: str
    params: dict[str, object] | None = None
    statement: Statement | None = None
    label: str = ""


class _Queued(NamedTuple):
    """One migration's transaction for a pipeline: its steps, the same as commands, and the history row it inserts
    (None: it deletes its row)."""

    steps: list[_Step]
    commands: list[pgpipeline.Command]
    row: history.Row | None


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
        self._conn = conn
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
        self._pipeline = dialect.pipeline(self._driver)
        self._insert_prepared = False  # on this connection, by the first pipelined `up`

    def run(
        self, todo: Sequence[model.Migration], *, direction: str
    ) -> Generator[tuple[model.Migration, float], None, None]:
        """Apply (``up``) or revert (``down``) ``todo`` in order, yielding each migration with its duration as it
        completes. Raises :class:`errors.MigrationError` at the first failure; nothing after it runs.

        Where the dialect has a pipeline, runs of transactional migrations are queued a few ahead (see
        :mod:`dbmigrate.dialects.pgpipeline`); every other migration runs on its own."""
        step = self.up if direction == "up" else self.down
        for queueable, group in itertools.groupby(todo, key=lambda m: self._pipelined(m, direction)):
            if queueable:
                yield from self._run_pipelined(list(group), direction=direction)
            else:
                for migration in group:
                    yield migration, step(migration)

    def up(self, migration: model.Migration) -> float:
        """Apply ``migration``; returns its duration in seconds. Raises :class:`errors.MigrationError`."""
        self._refuse_client_copy(migration.up)
        row = self._history.new_row(
            version=migration.version, name=migration.name, checksum=migration.checksum, applied_by=self._applied_by
        )
        if not self._atomic(migration.up):
            return self._run_marked_dirty(migration, row)

        return self._run_atomic(
            migration.up,
            change=lambda elapsed_ms: self._history.insert(dataclasses.replace(row, execution_ms=elapsed_ms)),
            done=lambda elapsed_ms: self._history.inserted(dataclasses.replace(row, execution_ms=elapsed_ms)),
        )

    def down(self, migration: model.Migration) -> float:
        """Revert ``migration`` with its down part and delete its history row."""
        if migration.down is None:
            raise errors.MigrationError(
                f"migration {migration.filename} has no down part (irreversible)",
                hint="write the reverse change in its down file (one holding only comments counts as none), or "
                "restore from a backup",
            )
        self._refuse_client_copy(migration.down)
        if self._atomic(migration.down):
            return self._run_atomic(
                migration.down,
                change=lambda _elapsed_ms: self._history.delete_query(migration.version),
                done=lambda _elapsed_ms: self._history.deleted(migration.version),
            )
        started = time.monotonic()
        self._history.mark_dirty(migration.version)
        try:
            self._run_statements(migration.down)
        except StatementFailed as failed:
            raise _migration_error(
                failed,
                undone="statements before it were committed, so the database is left DIRTY at version "
                f"{migration.version}, part-way through its revert",
                dirty=True,
                hint=f"check which statements of {migration.down.filename} took effect; finish the revert by hand "
                "and run `dbmigrate repair` (it then counts as not applied), or undo them and run "
                "`dbmigrate repair --mark-applied`",
            ) from None
        self._history.delete([migration.version])
        return time.monotonic() - started

    def _atomic(self, script: model.Script) -> bool:
        return self._dialect.atomic(script)

    def _refuse_client_copy(self, script: model.Script) -> None:
        """Stop before a ``COPY … FROM STDIN`` runs: the server would wait for data the file cannot send."""
        statement = self._client_copy(script)
        if statement is not None:
            raise errors.MigrationError(
                f"{script.filename}:{statement.line}: COPY with STDIN or STDOUT cannot run in a migration: its "
                "data would have to come from (or go to) dbmigrate; nothing from this migration ran",
                hint="load the rows with INSERT statements, or COPY from a file on the database server",
            )

    def _client_copy(self, script: model.Script) -> Statement | None:
        """The script's first ``COPY … FROM STDIN`` / ``TO STDOUT``, if any."""
        if "copy" not in script.sql.lower():  # most scripts: no need to split them (again) to know
            return None
        return next((s for s in self._statements(script) if copies_with_client(s, dialect=self._dialect.name)), None)

    def _pipelined(self, migration: model.Migration, direction: str) -> bool:
        """Whether ``migration`` can be queued: a transactional script, without COPY (its data would have to
        follow the statement, which a queue of commands cannot do; it runs on its own and is refused there)."""
        script = migration.up if direction == "up" else migration.down
        if self._pipeline is None or script is None or not self._atomic(script):
            return False
        return self._client_copy(script) is None

    def _run_pipelined(
        self, batch: Sequence[model.Migration], *, direction: str
    ) -> Iterator[tuple[model.Migration, float]]:
        """The transactions of ``batch`` through the pipeline, retried from a migration that hit a lock timeout."""
        from dbmigrate.dialects import pgpipeline

        assert self._pipeline is not None
        if direction == "up" and not self._insert_prepared:
            assert self._dialect.elapsed_ms_sql is not None
            self._pipeline.prepare(_INSERT_NAME, self._history.numbered_insert(self._dialect.elapsed_ms_sql))
            self._insert_prepared = True
        attempt = 0
        while batch:
            queued: list[_Queued] = []
            failure: pgpipeline.Failed | None = None
            done = 0
            with self._pipeline as pipeline:
                running = functools.partial(self._running, queued)
                for result in pipeline.run(self._transactions(batch, direction, queued), running=running):
                    if isinstance(result, pgpipeline.Failed):
                        failure = result
                        break
                    row = queued[result.index].row
                    if row is None:
                        self._history.deleted(batch[result.index].version)
                    else:
                        self._history.inserted(dataclasses.replace(row, execution_ms=int(result.seconds * 1000)))
                    done += 1
                    yield batch[result.index], result.seconds
            if failure is None:
                return
            step = queued[failure.index].steps[failure.command]
            failed = self._failed(_script(batch[failure.index], direction), step, failure.error)
            if not self._should_retry(failed, attempt):
                raise _migration_error(failed, undone="nothing from it was kept (rolled back)") from None
            attempt, batch = attempt + 1, batch[done:]

    def _transactions(
        self, batch: Sequence[model.Migration], direction: str, queued: list[_Queued]
    ) -> Iterator[list[pgpipeline.Command]]:
        """The pipeline commands of each migration of ``batch``, built (and kept in ``queued``) only as the pipeline
        takes them, so the first migration goes out before the last one is prepared."""
        for migration in batch:
            queued.append(self._queued(migration, direction))
            yield queued[-1].commands

    def _queued(self, migration: model.Migration, direction: str) -> _Queued:
        """BEGIN, the statements, the history write and COMMIT of one migration, for the pipeline."""
        pipeline = self._pipeline
        assert pipeline is not None
        begin, commit = self._dialect.begin_statement, "COMMIT"
        statements = self._statements(_script(migration, direction))
        row: history.Row | None = None
        if direction == "up":
            row = self._history.new_row(
                version=migration.version, name=migration.name, checksum=migration.checksum, applied_by=self._applied_by
            )
            change = pipeline.prepared(_INSERT_NAME, history.numbered_values(row))
        else:
            change = pipeline.command(self._history.numbered_delete(), [migration.version])
        steps = [
            _Step(begin, label=begin),
            *(_Step(statement.text, statement=statement) for statement in statements),
            _Step(_HISTORY, label=_HISTORY),
            _Step(commit, label=commit),
        ]
        # A statement followed by another has its result sent at once, so the next is shown as running in time.
        commands = [
            pipeline.command(begin),
            *(pipeline.command(s.text, flush=s is not statements[-1]) for s in statements),
            change,
            pipeline.command(commit),
        ]
        return _Queued(steps, commands, row)

    def _running(self, queued: list[_Queued], index: int, position: int) -> None:
        """Tell the report which statement the server is on. At BEGIN (sent with it, done in microseconds) that is
        already the first statement; later ones when the result of the one before arrives."""
        if position == 1:
            return  # announced with BEGIN
        statement = queued[index].steps[position + 1 if position == 0 else position].statement
        if statement is not None:
            self._report.statement_started(statement)

    def _statements(self, script: model.Script) -> Sequence[Statement]:
        return self._dialect.statements(script)

    def _run_atomic(
        self,
        script: model.Script,
        *,
        change: Callable[[int], history.Query],
        done: Callable[[int], None],
    ) -> float:
        """Statements and the history change in one transaction, retried whole when a table lock times out.

        ``change(elapsed_ms)`` is the history write, built after the last statement so that the time it records
        covers all of them; ``done`` runs once it committed."""
        for attempt in range(self._options.lock_retries + 1):
            started = time.monotonic()
            try:
                self._execute(script, _Step(self._dialect.begin_statement, label=self._dialect.begin_statement))
                for statement in self._statements(script):
                    self._report.statement_started(statement)
                    self._execute(script, _Step(statement.text, statement=statement))
                elapsed_ms = int((time.monotonic() - started) * 1000)
                query = change(elapsed_ms)
                self._execute(script, _Step(query.sql, query.params, label=_HISTORY))
                self._execute(script, _Step("COMMIT", label="COMMIT"))
                done(elapsed_ms)
                return time.monotonic() - started
            except StatementFailed as failed:
                self._control("ROLLBACK")
                if not self._should_retry(failed, attempt):
                    raise _migration_error(failed, undone="nothing from it was kept (rolled back)") from None
            except BaseException:
                self._control("ROLLBACK")
                raise
        raise AssertionError("unreachable: the last attempt either returns or raises")

    def _execute(self, script: model.Script, step: _Step) -> None:
        try:
            if step.params is None:
                self._cursor.execute(step.sql)  # no placeholders parsed: `%` and `:name` in migration SQL stay as is
            else:
                self._cursor.execute(step.sql, step.params)
        except self._driver_error as exc:
            raise self._failed(script, step, exc) from exc
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM while the server runs it: it must not run on without us
            self._dialect.cancel_running(self._conn)
            raise

    def _failed(self, script: model.Script, step: _Step, cause: Exception) -> StatementFailed:
        """A failed statement as :class:`StatementFailed`; any other failed step raises a migration error naming it
        (BEGIN, COMMIT and the history write fail because of a lost connection, or what the statements did)."""
        if step.statement is None:
            raise errors.MigrationError(f"database error on {step.label}: {database.driver_message(cause)}") from cause
        return StatementFailed(
            script=script, statement=step.statement, cause=cause, lock_timeout=self._dialect.is_lock_timeout(cause)
        )

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
                dirty=True,
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
                dirty=True,
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
        for statement in self._statements(script):
            self._report.statement_started(statement)
            for attempt in range(self._options.lock_retries + 1):
                try:
                    self._execute(script, _Step(statement.text, statement=statement))
                    break
                except StatementFailed as failed:
                    if not (retry_lock_timeouts and self._should_retry(failed, attempt)):
                        raise

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


def _script(migration: model.Migration, direction: str) -> model.Script:
    script = migration.up if direction == "up" else migration.down
    assert script is not None, "only migrations with a script for the direction are queued"
    return script


def _migration_error(
    failed: StatementFailed, *, undone: str, dirty: bool = False, hint: str | None = None
) -> errors.MigrationError:
    """The error for a failed statement; a table-lock wait that outlived every retry is a lock timeout."""
    message = f"{failed.describe()}\n  {undone}"
    error: errors.MigrationError
    if failed.lock_timeout:
        error = errors.TableLockTimeoutError(
            message, hint=hint or "a long transaction holds a lock on that table; retry when it is quieter"
        )
    else:
        outside_only = any(words in str(failed) for words in _OUTSIDE_ONLY)
        error = errors.MigrationError(message, hint=hint or (NO_TRANSACTION_HINT if outside_only else None))
    error.__cause__ = failed
    error.left_dirty = dirty
    return error
