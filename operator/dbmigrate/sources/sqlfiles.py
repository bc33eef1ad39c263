"""Reading a directory of plain SQL migrations, in every layout our users bring.

Accepted, and mixable in one directory:

- ``NNN_name.up.sql`` + ``NNN_name.down.sql`` (also golang-migrate's layout);
- ``NNN_name.sql``: up only, unless it holds dbmate's ``-- migrate:up`` / ``-- migrate:down`` sections;
- Flyway's ``V1__name.sql`` / ``V1.1__name.sql`` with ``U1__name.sql`` undo files.

A first-comment directive ``-- dbmigrate:no-transaction`` (or dbmate's ``-- migrate:up transaction:false``) runs a
migration outside a transaction, for statements such as ``CREATE INDEX CONCURRENTLY``.
"""

from __future__ import annotations

import codecs
import dataclasses
import hashlib
import os
import re
from pathlib import Path
from typing import NamedTuple

from dbmigrate import errors
from dbmigrate.sources import model

# Extensions in any case: a `.SQL` file skipped silently would be a migration never run.
_UP_DOWN = re.compile(r"^(?P<version>\d+)_(?P<name>.+)\.(?P<direction>(?i:up|down))\.(?i:sql)$")
_FLYWAY = re.compile(r"^(?P<prefix>[VU])(?P<version>\d+(?:[._]\d+)*)__(?P<name>.+)\.(?i:sql)$")
_PLAIN = re.compile(r"^(?P<version>\d+)_(?P<name>.+)\.(?i:sql)$")
_NO_TRANSACTION = re.compile(r"^\s*--\s*dbmigrate:no-transaction\b", re.MULTILINE)
_FIRST_READ = 1 << 16
_DBMATE_SECTION = re.compile(r"^--\s*migrate:(?P<direction>up|down)\b(?P<options>[^\n]*)$", re.MULTILINE)


@dataclasses.dataclass
class _Parts:
    """The file names found for one version while scanning."""

    name: str
    up: str | None = None
    down: str | None = None


def load(directory: Path) -> list[model.Migration]:
    """All migrations in ``directory``, sorted by version.

    Refuses (with every offending file listed) names that fit no layout, two files claiming one version, and down
    files without an up file, because guessing there is how migrations get skipped or run twice.
    """
    if not directory.is_dir():
        raise errors.UsageError(
            f"migrations directory {directory} {'is not a directory' if directory.exists() else 'does not exist'}",
            hint="pass --dir, set `dir:` in dbmigrate.yaml, or run `dbmigrate create NAME` to start one",
        )
    found: dict[str, _Parts] = {}
    unreadable: list[str] = []
    duplicates: list[str] = []
    mismatched: list[str] = []
    # os.scandir, not Path.iterdir + is_file: one syscall per directory instead of one stat per file.
    with os.scandir(directory) as entries:
        sql_entries = [entry for entry in entries if entry.name.lower().endswith(".sql")]
    names = sorted(entry.name for entry in sql_entries if entry.is_file())
    if len(names) < len(sql_entries):  # skipping one would skip a migration: a broken link, a directory
        others = sorted(entry.name for entry in sql_entries if not entry.is_file())
        raise errors.UsageError(
            f"not a readable file in {directory}: " + ", ".join(others),
            hint="a symbolic link whose target is missing, or a directory named like a migration; fix or remove it",
        )
    for filename in names:
        parsed = _parse_name(filename)
        if parsed is None:
            unreadable.append(filename)
            continue
        version, name, direction = parsed
        parts = found.setdefault(version, _Parts(name=name))
        if getattr(parts, direction) is not None:
            duplicates.append(f"{version}: {filename}")
        elif parts.name != name:  # a down file must be its up file's: one named otherwise undoes something else
            mismatched.append(f"{getattr(parts, 'up' if direction == 'down' else 'down')} and {filename}")
        setattr(parts, direction, filename)
    if unreadable:
        raise errors.UsageError(
            f"cannot read the version from {len(unreadable)} file name(s) in {directory}: " + ", ".join(unreadable),
            hint="name files NNN_name.up.sql / NNN_name.down.sql, NNN_name.sql (dbmate sections allowed) "
            "or V1__name.sql / U1__name.sql",
        )
    if duplicates:
        raise errors.UsageError(
            "more than one migration file claims the same version: " + "; ".join(duplicates),
            hint="give each migration its own version number",
        )
    if mismatched:
        raise errors.UsageError(
            "up and down files of one version have different names: " + "; ".join(mismatched),
            hint="name a down (or undo) file exactly like its up file",
        )
    orphans = [parts.down for parts in found.values() if parts.up is None and parts.down is not None]
    if orphans:
        raise errors.UsageError("down/undo files without a matching up file: " + ", ".join(orphans))
    # Files are opened relative to the directory's descriptor: no path to build and resolve per file.
    directory_fd = os.open(directory, os.O_RDONLY)
    try:
        migrations = [_migration(_File(directory, directory_fd), version, parts) for version, parts in found.items()]
    finally:
        os.close(directory_fd)
    if not migrations:
        raise errors.UsageError(
            f"no migrations found in {directory}",
            hint="run `dbmigrate create NAME` to write the first one, or point --dir at your migrations",
        )
    return sorted(migrations, key=lambda m: m.sort_key)


def _parse_name(filename: str) -> tuple[str, str, str] | None:
    """(canonical version, name, "up"|"down") for a file name, or None if it fits no layout."""
    if match := _UP_DOWN.match(filename):
        return model.canonical_version(match["version"]), match["name"], match["direction"].lower()
    if match := _FLYWAY.match(filename):
        direction = "up" if match["prefix"] == "V" else "down"
        return model.canonical_version(match["version"]), match["name"], direction
    if match := _PLAIN.match(filename):
        return model.canonical_version(match["version"]), match["name"], "up"
    return None


class _File(NamedTuple):
    """Where a migration's files are: the directory, and its open descriptor to read them through."""

    directory: Path
    fd: int

    def read(self, name: str) -> bytes:
        """The file's bytes with plain os calls: `status` reads every migration to check checksums, and at 10,000
        files the file-object machinery of open() is a third of its time."""
        fd = os.open(name, os.O_RDONLY, dir_fd=self.fd)
        try:
            chunks = [os.read(fd, _FIRST_READ)]
            if len(chunks[0]) < _FIRST_READ:  # a short read of a regular file is its end: no second call
                return chunks[0]
            while chunks[-1]:
                chunks.append(os.read(fd, 1 << 20))
        finally:
            os.close(fd)
        return b"".join(chunks)

    def text(self, name: str, raw: bytes | None = None) -> str:
        data = self.read(name) if raw is None else raw
        try:  # the BOM by hand: the utf-8-sig codec is Python code, plain utf-8 is C
            return (data[3:] if data.startswith(codecs.BOM_UTF8) else data).decode()
        except UnicodeDecodeError as exc:
            raise errors.UsageError(f"{self.directory / name} is not valid UTF-8 (byte {exc.start})") from None


def _migration(files: _File, version: str, parts: _Parts) -> model.Migration:
    assert parts.up is not None
    raw = files.read(parts.up)
    text = files.text(parts.up, raw)
    sections = _dbmate_sections(text, files.directory, parts.up)
    if sections is not None:
        up, down = sections
    else:
        up = _script(text, parts.up)
        down_text = files.text(parts.down) if parts.down else ""
        down = _script(down_text, parts.down) if parts.down and _holds_sql(down_text) else None
    return model.Migration(version=version, name=parts.name, up=up, down=down, checksum=hashlib.sha256(raw).hexdigest())


def _script(text: str, filename: str, *, first_line: int = 1, transactional: bool | None = None) -> model.Script:
    if transactional is None:  # the substring test first: most files have no directive, and this runs per file
        transactional = "dbmigrate:no-transaction" not in text or not _NO_TRANSACTION.search(_leading_comments(text))
    return model.Script(sql=text, filename=filename, first_line=first_line, transactional=transactional)


def _leading_comments(text: str) -> str:
    """The comment lines before the first statement: where file-level directives are read from."""
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("--"):
            break
        lines.append(stripped)
    return "\n".join(lines)


def _dbmate_sections(text: str, directory: Path, filename: str) -> tuple[model.Script, model.Script | None] | None:
    """dbmate's up and down sections, or None for a file that is not in dbmate's format."""
    markers = list(_DBMATE_SECTION.finditer(text)) if "migrate:" in text else []
    if not markers:
        return None
    sections: dict[str, model.Script] = {}
    for index, marker in enumerate(markers):
        end = markers[index + 1].start() if index + 1 < len(markers) else len(text)
        body_start = marker.end()
        direction = marker["direction"]
        if direction in sections:
            raise errors.UsageError(f"{directory / filename} has more than one `-- migrate:{direction}` section")
        sections[direction] = _script(
            text[body_start:end],
            filename,
            first_line=text.count("\n", 0, body_start) + 1,
            transactional="transaction:false" not in marker["options"].replace(" ", ""),
        )
    if "up" not in sections:
        raise errors.UsageError(
            f"{directory / filename} has a `-- migrate:down` section but no `-- migrate:up` section"
        )
    down = sections.get("down")
    return sections["up"], down if down is not None and _holds_sql(down.sql) else None


_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)


def _holds_sql(text: str) -> bool:
    """Whether a down part holds more than comments: `dbmigrate create` writes its down file as a comment, and one
    left so must count as no down part (irreversible), not as a revert that does nothing and reports success.
    A comment marker inside a string only makes the text look fuller, never empty."""
    return bool(_COMMENTS.sub("", text).strip())
