"""What a migration is, independent of the file layout it was read from."""

from __future__ import annotations

import dataclasses
import functools

# Plain slotted dataclasses, not frozen ones: a 10,000-migration directory builds 20,000 of these on every
# `status`, and frozen construction is several times slower. Treat them as read-only all the same.


@dataclasses.dataclass(slots=True)
class Script:
    """The SQL of one direction of a migration, with the file it came from (for error messages)."""

    sql: str
    filename: str
    first_line: int = 1
    transactional: bool = True


@dataclasses.dataclass(slots=True)
class Migration:
    """One versioned migration.

    ``version`` is canonical (``001`` and ``1`` are the same version, ``1_1`` and ``1.1`` too) so that history rows
    match files whatever zero-padding a team uses; ``checksum`` is the sha256 of the up file's bytes as written.
    """

    version: str
    name: str
    up: Script
    down: Script | None
    checksum: str
    sort_key: tuple[int, ...] = dataclasses.field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.sort_key = version_key(self.version)

    @property
    def filename(self) -> str:
        return self.up.filename


def canonical_version(raw: str) -> str:
    """``001`` → ``1``, ``1_2`` → ``1.2``: the form stored in history and compared."""
    if raw.isdigit():  # nearly every version, once per file
        return str(int(raw))
    return ".".join(str(int(part)) for part in raw.replace("_", ".").split("."))


@functools.cache
def version_key(version: str) -> tuple[int, ...]:
    """Sort key of a canonical version: numeric, part by part (so ``1.10`` comes after ``1.9``). Cached: a run
    compares every file's version with every history row's, several times over."""
    return tuple(int(part) for part in version.split("."))
