"""The errors dbmigrate reports, each tied to a documented process exit code.

Every failure a user can cause or meet (bad files, SQL errors, refused gates, a busy lock, drift, an unreachable
server) is one of these, so the CLI can print one clear message and exit with a code scripts and the operator can
act on. Messages never contain passwords: URLs are redacted before they reach an error.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Process exit codes of the ``dbmigrate`` command (documented in docs/cli.md)."""

    OK = 0
    MIGRATION_FAILED = 1
    USAGE = 2
    SAFETY_GATE = 3
    LOCK_TIMEOUT = 4
    DRIFT = 5
    CONNECTION = 6
    INTERRUPTED = 130  # the shell's 128 + SIGINT
    TERMINATED = 143  # 128 + SIGTERM


class DbmigrateError(Exception):
    """Base of all errors with a user-facing message; ``hint`` says what to do about it."""

    exit_code = ExitCode.MIGRATION_FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class UsageError(DbmigrateError):
    """Bad arguments, configuration or migration files: nothing was run."""

    exit_code = ExitCode.USAGE


class MigrationError(DbmigrateError):
    """A migration failed while running; the message names the file, line and statement."""

    exit_code = ExitCode.MIGRATION_FAILED
    #: Part of the migration was committed and could not be undone: the database is marked dirty at its version.
    left_dirty = False


class SafetyGateError(DbmigrateError):
    """A safety gate (backup freshness, destructive change, plan approval) refused the run before it started."""

    exit_code = ExitCode.SAFETY_GATE


class LockTimeoutError(DbmigrateError):
    """Another runner held the migration lock (or a table lock) for longer than the timeout."""

    exit_code = ExitCode.LOCK_TIMEOUT


class TableLockTimeoutError(MigrationError):
    """A statement waited for a table lock past ``--lock-timeout`` on every retry; nothing further was applied."""

    exit_code = ExitCode.LOCK_TIMEOUT


class DriftError(DbmigrateError):
    """History and files (or the live schema) disagree: edited applied migrations, dirty state, out-of-order."""

    exit_code = ExitCode.DRIFT


class ConnectionFailedError(DbmigrateError):
    """The database could not be reached or refused our credentials."""

    exit_code = ExitCode.CONNECTION


class Terminated(KeyboardInterrupt):
    """SIGTERM, how Kubernetes stops a Job's pod (deleted, evicted, past its deadline), raised by the CLI's signal
    handler and handled as Ctrl-C is: the running statement is cancelled on the server and nothing more starts.
    Left to Python's default the process would vanish while the server ran the statement on, with its locks."""


class InterruptedRunError(DbmigrateError):
    """Ctrl-C stopped the run: the running statement was cancelled, nothing more was started."""

    exit_code = ExitCode.INTERRUPTED


class TerminatedRunError(InterruptedRunError):
    """SIGTERM stopped the run, as Ctrl-C does."""

    exit_code = ExitCode.TERMINATED


def interrupted(stop: KeyboardInterrupt) -> InterruptedRunError:
    """The run's error for Ctrl-C, or for SIGTERM (:class:`Terminated`)."""
    kind, how = (
        (TerminatedRunError, "terminated (SIGTERM)")
        if isinstance(stop, Terminated)
        else (InterruptedRunError, "interrupted")
    )
    return kind(
        f"{how}: nothing more was started, and the running statement was cancelled",
        hint="`dbmigrate status` shows what was applied; on MySQL/MariaDB check the migration it left dirty, "
        "then `dbmigrate repair`",
    )
