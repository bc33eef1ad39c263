"""``dbmigrate [action] [target]``: argument parsing and output; the work is in :mod:`dbmigrate.commands`.

Only argparse is imported at start-up so ``dbmigrate --help`` answers at once; the engine (SQLAlchemy, drivers,
rich) loads once an action runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from dbmigrate import __version__, errors

if TYPE_CHECKING:
    from dbmigrate import config, outcome

EXIT_CODES_HELP = """exit codes:
  0  success            1  migration failed      2  usage or configuration error
  3  refused by a safety gate (backup, destructive change, plan approval)
  4  lock timeout       5  drift (edited applied migration, dirty state, out of order)
  6  cannot connect to the database
"""


def _common_options() -> _Parser:
    """Options every action takes, before or after the action name (SUPPRESS keeps either placement)."""
    common = _Parser(add_help=False, argument_default=argparse.SUPPRESS)
    common.add_argument("-d", "--database", help="database URL (default: $DATABASE_URL, dbmigrate.yaml, SQLite)")
    common.add_argument("--dir", dest="directory", help="migrations directory (default ./migrations)")
    common.add_argument(
        "--framework", choices=("auto", "sql", "alembic", "django", "rails", "flyway"), help="skip detection"
    )
    common.add_argument("--history-table", help="history table name (default dbmigrate_history)")
    common.add_argument("--config", dest="config_file", help="config file (default ./dbmigrate.yaml)")
    common.add_argument("-o", "--output", choices=("text", "json"), help="report format (default text)")
    common.add_argument(
        "--lock-wait", type=_number(float, positive=True), help="seconds to wait for another runner's lock (default 60)"
    )
    common.add_argument(
        "--lock-timeout",
        type=_number(float),
        help="seconds a statement may wait for a table lock (default 5; 0 = no limit)",
    )
    common.add_argument(
        "--statement-timeout", type=_number(float), help="seconds a statement may run (default no limit)"
    )
    common.add_argument("--lock-retries", type=_number(int), help="retries after a table lock timeout (default 3)")
    common.add_argument(
        "--session-pooler",
        action="store_true",
        help="the PostgreSQL URL is a connection pooler in session mode (one server session per client): allow it",
    )
    common.add_argument(
        "--termination-log", help="also write a compact JSON summary (< 4 KiB) here, e.g. /dev/termination-log"
    )
    return common


def _number(kind: type[float] | type[int], *, positive: bool = False) -> Callable[[str], float]:
    """An argparse type: a number of ``kind``, never negative (and above 0 if ``positive``), as in dbmigrate.yaml."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {'whole ' if kind is int else ''}number") from None
        if value < 0 or (positive and value == 0):
            raise argparse.ArgumentTypeError(f"{text} must be {'more than 0' if positive else 'at least 0'}")
        return value

    return parse


_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def _digest(text: str) -> str:
    """An argparse type: a plan hash or schema fingerprint as dbmigrate prints them, so a typo is not taken for a
    changed plan or a drifted schema."""
    if not _DIGEST.fullmatch(text.strip().lower()):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not sha256:<64 hex digits>, as dbmigrate prints plan hashes and fingerprints"
        )
    return text.strip().lower()


def _safety_options() -> _Parser:
    """The gates of a run that changes the schema (up, down, plan)."""
    safety = _Parser(add_help=False, argument_default=argparse.SUPPRESS)
    safety.add_argument("--backup-policy", choices=("require", "create", "skip"), help="backup freshness gate")
    safety.add_argument("--backup-max-age", help="newest backup must be younger than this (default 1h)")
    safety.add_argument("--backup-dir", help="directory of pg_dump/mysqldump files; `create` writes dumps here")
    safety.add_argument("--backup-command", help="shell command printing the time of the last backup")
    safety.add_argument("--allow-destructive", action="store_true", help="run destructive changes without approval")
    safety.add_argument("--approve", metavar="PLAN_HASH", type=_digest, help="run only if the plan still has this hash")
    safety.add_argument(
        "--no-rollback-on-failure",
        dest="rollback_on_failure",
        action="store_false",
        help="keep migrations applied earlier in a run that fails (default: roll them back)",
    )
    safety.add_argument("--fail-on-drift", action="store_true", help="refuse if the schema changed outside dbmigrate")
    safety.add_argument(
        "--expected-fingerprint", type=_digest, help="fail verification unless the schema has this fingerprint"
    )
    safety.add_argument("--out-of-order", action="store_true", help="apply pending migrations older than applied ones")
    return safety


def build_parser() -> argparse.ArgumentParser:
    common = _common_options()
    safety = _safety_options()
    parser = _Parser(
        prog="dbmigrate",
        description="Safe database schema migrations for PostgreSQL, MySQL/MariaDB and SQLite.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"dbmigrate {__version__}")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    create = actions.add_parser("create", parents=[common], help="write the next migration's up and down files")
    create.add_argument("name")
    create.add_argument("--timestamp", action="store_true", help="version by UTC timestamp, not sequence")

    up = actions.add_parser("up", parents=[common, safety], help="apply pending migrations (up to TARGET)")
    up.add_argument("target", nargs="?")
    up.add_argument("--dry-run", action="store_true", help="run in a transaction that is rolled back (= plan)")

    down = actions.add_parser(
        "down", parents=[common, safety], help="revert one migration, --steps N, or down to TARGET"
    )
    how_far = down.add_mutually_exclusive_group()
    how_far.add_argument("target", nargs="?", help="revert every migration above this version (0 = all)")
    how_far.add_argument("--steps", type=_number(int, positive=True), help="revert the N newest migrations")
    down.add_argument("--dry-run", action="store_true", help="run in a transaction that is rolled back (= plan)")

    plan = actions.add_parser(
        "plan", parents=[common, safety], help="dry run: what would run, findings, schema changes, plan hash"
    )
    plan.add_argument("--down", action="store_true", help="plan a downgrade to TARGET instead")
    how_far = plan.add_mutually_exclusive_group()
    how_far.add_argument("target", nargs="?")
    how_far.add_argument("--steps", type=_number(int, positive=True), help="with --down: plan reverting N migrations")

    verify = actions.add_parser("verify", parents=[common], help="check schema integrity and drift")
    verify.add_argument("--fail-on-drift", action="store_true", help="exit 5 if the schema changed outside dbmigrate")
    verify.add_argument("--expected-fingerprint", type=_digest, help="fail unless the schema has this fingerprint")
    verify.add_argument(
        "--show-schema", action="store_true", help="print the schema snapshot too (to compare two databases)"
    )

    actions.add_parser("operator", help="run the Kubernetes operator (dbmigrate-operator --help for its options)")
    actions.add_parser("status", parents=[common], help="applied, pending, dirty and edited migrations")
    actions.add_parser("history", parents=[common], help="the history table with timings")
    baseline = actions.add_parser("baseline", parents=[common], help="adopt an existing database at VERSION")
    baseline.add_argument("version")
    repair = actions.add_parser("repair", parents=[common], help="clear dirty state, accept edited checksums")
    repair.add_argument(
        "--mark-applied", action="store_true", help="record dirty migrations as applied instead of pending"
    )
    repair.add_argument(
        "--accept-schema",
        action="store_true",
        help="record the schema as it is now as the baseline of drift checks (after you have looked at the drift)",
    )
    return parser


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM as :class:`errors.Terminated`, which the run handles as Ctrl-C."""
    raise errors.Terminated


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["operator"]:
        _exec_operator(args[1:])
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return _main(argv)
    except BrokenPipeError:  # `dbmigrate status | head`: the reader left; not an error of ours
        sys.stderr.close()
        return 0
    except KeyboardInterrupt as stop:  # outside a database session (one turns it into the report's error)
        terminated = isinstance(stop, errors.Terminated)
        sys.stderr.write(f"\n✗ {'terminated (SIGTERM)' if terminated else 'interrupted'}: nothing more was started\n")
        return errors.ExitCode.TERMINATED if terminated else errors.ExitCode.INTERRUPTED


def _exec_operator(args: list[str]) -> NoReturn:
    """`dbmigrate operator ...` becomes `dbmigrate-operator ...`: the operator sits above the CLI and the CLI never
    imports it, so it is started as its own program (the image's single entrypoint stays `dbmigrate`)."""
    program = Path(sys.executable).with_name("dbmigrate-operator")
    executable = str(program) if program.exists() else shutil.which("dbmigrate-operator")
    if executable is None:
        sys.stderr.write("dbmigrate-operator is not installed; install dbmigrate[operator]\n")
        raise SystemExit(2)
    os.execv(executable, [executable, *args])


class _Parser(argparse.ArgumentParser):
    """argparse that raises its usage errors instead of exiting, so `-o json` gets them as a JSON document too."""

    def error(self, message: str) -> NoReturn:
        raise _BadArguments(self, message)


class _BadArguments(Exception):
    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser = parser


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        options = vars(parser.parse_args(argv))
        if options["action"] == "plan" and options.get("steps") is not None and not options.get("down"):
            parser.error("argument --steps: only with --down (a plan reverting N migrations)")
    except _BadArguments as bad:
        return _bad_arguments(bad, argv)
    output = options.pop("output", "text")
    action = options.pop("action")
    termination_log = options.pop("termination_log", None)

    from dbmigrate import config
    from dbmigrate.outcome import Outcome

    try:
        settings = config.resolve(**{k: options.pop(k) for k in list(options) if k in _SETTING_KEYS})
    except errors.DbmigrateError as exc:
        result = Outcome(action=action, error=exc)
        _emit(result, output=output, progress=None)
    else:
        result = _ACTIONS[action](settings, options, output)
    if termination_log:
        from dbmigrate.cli import summary

        try:
            summary.write(result, termination_log)
        except OSError as exc:  # the action's own outcome stands; whoever reads the file is told why it is missing
            sys.stderr.write(f"✗ cannot write the termination log {termination_log}: {exc.strerror}\n")
    return result.exit_code


def _bad_arguments(bad: _BadArguments, argv: Sequence[str] | None) -> int:
    """A usage error as argparse prints it, or as the JSON document when `-o json` / `--output json` was asked for."""
    known, _ = _output_option().parse_known_args(argv)
    if known.output != "json":
        bad.parser.print_usage(sys.stderr)
        sys.stderr.write(f"{bad.parser.prog}: error: {bad}\n")
        return errors.ExitCode.USAGE
    from dbmigrate.outcome import Outcome

    words = [arg for arg in (sys.argv[1:] if argv is None else argv) if not arg.startswith("-")]
    action = next((word for word in words if word in _ACTIONS), "dbmigrate")
    _emit(Outcome(action=action, error=errors.UsageError(str(bad))), output="json", progress=None)
    return errors.ExitCode.USAGE


def _output_option() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("-o", "--output", default="text")
    return parser


_SETTING_KEYS = {
    "database",
    "directory",
    "framework",
    "history_table",
    "config_file",
    "lock_wait",
    "lock_timeout",
    "statement_timeout",
    "lock_retries",
    "session_pooler",
    "backup_policy",
    "backup_max_age",
    "backup_dir",
    "backup_command",
}

_RUN_OPTION_KEYS = {
    "target",
    "steps",
    "out_of_order",
    "dry_run",
    "allow_destructive",
    "approve",
    "rollback_on_failure",
    "fail_on_drift",
    "expected_fingerprint",
}


def _run_migrations(
    settings: config.Settings, options: dict[str, object], output: str, *, action: str
) -> outcome.Outcome:
    from dbmigrate import commands, migrating
    from dbmigrate.cli import report

    run_options = migrating.RunOptions(**{k: v for k, v in options.items() if k in _RUN_OPTION_KEYS})  # type: ignore[arg-type]
    progress = None
    dry_run = action == "plan" or run_options.dry_run
    if output == "text" and not dry_run:
        progress = report.TextProgress(heading="APPLYING MIGRATIONS:" if action == "up" else "REVERTING MIGRATIONS:")
    try:
        if dry_run:
            direction = "down" if action == "down" or options.get("down") else "up"
            result = commands.plan(settings, options=run_options, direction=direction)
        elif action == "up":
            result = commands.up(settings, options=run_options, report=progress)
        else:
            result = commands.down(settings, options=run_options, report=progress)
    finally:
        if progress is not None:
            progress.close()
    _emit(result, output=output, progress=progress)
    return result


def _simple(
    run: Callable[[config.Settings, dict[str, object]], outcome.Outcome],
) -> Callable[[config.Settings, dict[str, object], str], outcome.Outcome]:
    def action(settings: config.Settings, options: dict[str, object], output: str) -> outcome.Outcome:
        result = run(settings, options)
        _emit(result, output=output, progress=None)
        return result

    return action


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def _emit(result: outcome.Outcome, *, output: str, progress: object | None) -> None:
    if output == "json":
        json.dump(result.to_json(), sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return
    from dbmigrate.cli import render

    render.text(result, header_printed=bool(getattr(progress, "header_printed", False)))


def _status(settings: config.Settings, options: dict[str, object]) -> outcome.Outcome:
    from dbmigrate import commands

    return commands.status(settings)


def _history(settings: config.Settings, options: dict[str, object]) -> outcome.Outcome:
    from dbmigrate import commands

    return commands.history_rows(settings)


def _create(settings: config.Settings, options: dict[str, object]) -> outcome.Outcome:
    from dbmigrate import commands

    return commands.create(settings, name=str(options["name"]), timestamp=bool(options.get("timestamp")))


def _baseline(settings: config.Settings, options: dict[str, object]) -> outcome.Outcome:
    from dbmigrate import commands

    return commands.baseline(settings, version=str(options["version"]))


def _repair(settings: config.Settings, options: dict[str, object]) -> outcome.Outcome:
    from dbmigrate import commands

    return commands.repair(
        settings, mark_applied=bool(options.get("mark_applied")), accept_schema=bool(options.get("accept_schema"))
    )


def _verify(settings: config.Settings, options: dict[str, object]) -> outcome.Outcome:
    from dbmigrate import commands

    return commands.verify(
        settings,
        expected=_str(options.get("expected_fingerprint")),
        fail_on_drift=bool(options.get("fail_on_drift")),
        show_schema=bool(options.get("show_schema")),
    )


_ACTIONS: dict[str, Callable[[config.Settings, dict[str, object], str], outcome.Outcome]] = {
    "up": lambda s, o, out: _run_migrations(s, o, out, action="up"),
    "down": lambda s, o, out: _run_migrations(s, o, out, action="down"),
    "plan": lambda s, o, out: _run_migrations(s, o, out, action="plan"),
    "verify": _simple(_verify),
    "status": _simple(_status),
    "history": _simple(_history),
    "create": _simple(_create),
    "baseline": _simple(_baseline),
    "repair": _simple(_repair),
}
