"""The few operations a run needs from a migration framework, so one loop serves Alembic, Django and CLIs."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Protocol


@dataclasses.dataclass(frozen=True)
class Step:
    """What the report times separately: an Alembic revision, a Django migration or one delegated CLI run."""

    #: What the framework calls it: a revision id, ``app.0001_initial``, or the delegated command.
    key: str
    #: What the report shows, usually the file name (``ae1027a6acf_add_users.py``, ``0001_initial.py``).
    label: str
    path: Path | None = None
    #: A human name (the revision message, ``app.0001_initial``); the key when the framework has none.
    name: str = ""
    reversible: bool = True
    #: Whether a failure leaves nothing behind (transactional DDL and the framework wrapping the step).
    transactional: bool = True


class Adapter(Protocol):
    """A framework bound to one database for the length of a run."""

    #: Where the framework keeps its migrations (Alembic's script directory, the project for Django).
    location: Path

    def current(self) -> list[str]:
        """The applied heads: Alembic's current revisions, Django's newest applied migration per app."""
        ...

    def applied(self) -> list[str]:
        """Every applied step's key, oldest first."""
        ...

    def steps_pending(self, target: str | None) -> list[Step]:
        """What ``up`` would apply, in order, to reach ``target`` (everything when None)."""
        ...

    def steps_to_revert(self, target: str | None, steps: int | None) -> list[Step]:
        """What ``down`` would revert, newest first: ``steps`` of them (default 1) or all above ``target``."""
        ...

    def unknown(self) -> list[str]:
        """Applied steps no migration file defines: the database is ahead of the code, or a file was removed."""
        ...

    def history(self) -> list[dict[str, object]] | None:
        """The applied steps oldest first (``version``, ``name``, ``applied_at`` when recorded); None for a tool
        whose history dbmigrate does not read."""
        ...

    def describe(self) -> str | None:
        """The framework's own status listing, for delegated tools whose history dbmigrate does not read."""
        ...

    def apply(self, step: Step) -> None: ...

    def revert(self, step: Step) -> None: ...
