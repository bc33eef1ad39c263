"""The events a run reports while it works, so the terminal report, plain logs and JSON can each listen."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from dbmigrate import outcome
from dbmigrate.sqltext import Statement


class Progress(Protocol):
    def checks(self, checks: Sequence[outcome.Check]) -> None: ...

    def migration_started(self, *, index: int, total: int, label: str) -> None: ...

    def statement_started(self, statement: Statement) -> None: ...

    def migration_finished(self, *, seconds: float) -> None: ...

    def migration_failed(self, *, seconds: float, message: str) -> None: ...

    def notice(self, message: str) -> None: ...


class Silent:
    """Progress that reports nothing (JSON output, library use)."""

    def checks(self, checks: Sequence[outcome.Check]) -> None:
        pass

    def migration_started(self, *, index: int, total: int, label: str) -> None:
        pass

    def statement_started(self, statement: Statement) -> None:
        pass

    def migration_finished(self, *, seconds: float) -> None:
        pass

    def migration_failed(self, *, seconds: float, message: str) -> None:
        pass

    def notice(self, message: str) -> None:
        pass
