"""The MIGRATION STATUS report: live progress while migrations run, then the closing lines.

On a terminal the running migration shows its elapsed time live (rich); piped output (CI logs, Kubernetes Job
logs) gets plain lines only, one per event, so logs stay greppable.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from dbmigrate import outcome

if TYPE_CHECKING:
    from rich.console import Console
    from rich.live import Live
    from rich.text import Text

    from dbmigrate.sqltext import Statement

TITLE = "MIGRATION STATUS"
RULE = "━" * len(TITLE)
_SYMBOL = {True: "✓", False: "✗", None: "-"}


def check_line(check: outcome.Check) -> str:
    return f"{'⚠' if check.warning else _SYMBOL[check.ok]} {check.message}"


class TextProgress:
    """Prints the report as the run goes; implements :class:`dbmigrate.progress.Progress`."""

    def __init__(self, *, heading: str, stream: TextIO | None = None, live: bool | None = None) -> None:
        self._stream = stream or sys.stdout
        self._heading = heading
        self._live_enabled = self._stream.isatty() if live is None else live
        self._console: Console | None = None
        if self._live_enabled:  # rich loads only for a terminal; piped logs are plain lines
            from rich.console import Console

            self._console = Console(file=self._stream, highlight=False)
        self._live: Live | None = None
        self._prefix = ""
        self._last = False
        self._started = 0.0
        self._statement: Statement | None = None
        self.header_printed = False
        self._heading_due = False

    def checks(self, checks: Sequence[outcome.Check]) -> None:
        self._print(f"{TITLE}\n{RULE}")
        for check in checks:
            self._print(check_line(check))
        self.header_printed = True
        self._heading_due = True

    def migration_started(self, *, index: int, total: int, label: str) -> None:
        if self._heading_due:
            self._print(f"\n{self._heading}")
            self._heading_due = False
        self._prefix = f"[{index}/{total}] {label}..."
        self._last = index == total
        self._started = time.monotonic()
        self._statement = None
        if self._console is not None:
            if self._live is None:  # one live line for the whole run: starting one per migration costs a thread
                from rich.live import Live

                self._live = Live(self, console=self._console, refresh_per_second=8, transient=True)
                self._live.start()
        else:
            self._stream.write(self._prefix)
            self._stream.flush()

    def statement_started(self, statement: Statement) -> None:
        self._statement = statement

    def migration_finished(self, *, seconds: float) -> None:
        self._end(f"✓ Complete ({seconds:.1f}s)")

    def migration_failed(self, *, seconds: float, message: str) -> None:
        lines = "\n".join(f"      {line}" for line in message.splitlines())
        self._end(f"✗ Failed ({seconds:.1f}s)\n{lines}", last=True)

    def notice(self, message: str) -> None:
        if self._live is not None:
            self._live.console.print(f"      {message}", highlight=False, markup=False)
        else:
            self._stream.write(f"\n      {message}\n{self._prefix}")
            self._stream.flush()

    def close(self) -> None:
        """Stop the live line if a run ended without finishing its migration (Ctrl-C): rich hides the cursor."""
        if self._live is not None:
            self._live.stop()
            self._live = None

    def __rich__(self) -> Text:
        """The live line: elapsed time, and where in the file a long statement is."""
        from rich.text import Text

        if self._prefix == "":  # between two migrations
            return Text("")
        elapsed = time.monotonic() - self._started
        where = f"  (statement at line {self._statement.line})" if self._statement else ""
        return Text(f"{self._prefix} {elapsed:.1f}s{where}")

    def _end(self, text: str, *, last: bool = False) -> None:
        if self._live is not None:
            line, self._prefix = f"{self._prefix} {text}", ""
            if last or self._last:  # the live line goes first, so that no blank line is left where it was
                self._live.stop()
                self._live = None
                self._print(line)
            else:
                self._live.console.print(line, highlight=False, markup=False)
        else:
            self._stream.write(f" {text}\n")
            self._stream.flush()

    def _print(self, text: str) -> None:
        if self._console is not None:
            self._console.print(text, highlight=False, markup=False)
        else:
            self._stream.write(text + "\n")
            self._stream.flush()


def closing_lines(result: outcome.Outcome) -> list[str]:
    """The lines after the migrations: integrity, history, and the error with its hint."""
    lines = [""]
    integrity = result.check("integrity")
    if integrity is None:
        lines.append("Schema integrity: - Not checked")
    else:
        lines.append(f"Schema integrity: {check_line(integrity)}")
    lines.append(f"Migration history: {'Updated' if result.history_updated else 'Unchanged'}")
    for name, label in (("rollback", "Rollback"), ("run_lock", "Run lock")):
        check = result.check(name)
        if check is not None:
            lines.append(f"{label}: {check_line(check)}")
    return lines


def error_lines(result: outcome.Outcome) -> list[str]:
    if result.error is None:
        return []
    message = result.error.message.removeprefix("✗ ")
    lines = [f"✗ {line}" if i == 0 else f"  {line}" for i, line in enumerate(message.splitlines())]
    if result.error.hint:
        lines.append(f"  hint: {result.error.hint}")
    return lines
