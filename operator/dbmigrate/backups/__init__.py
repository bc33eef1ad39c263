"""Backups: providers that know when the last backup was taken (and can take one), and the freshness gate.

The CLI's providers are a dump directory and a user command; the operator adds VolumeSnapshot, AWS RDS and GCP
Cloud SQL providers against the same :class:`dbmigrate.backups.base.Provider` interface.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dbmigrate import config
    from dbmigrate.backups import base


def provider_for(settings: config.Settings) -> base.Provider | None:
    """The provider the settings name (a command wins over a directory: it reports the real backup system)."""
    from dbmigrate.backups import command, dumps

    if settings.backup.command:
        return command.BackupCommand(settings.backup.command)
    if settings.backup.directory:
        return dumps.DumpDirectory(directory=settings.backup.directory, url=settings.url)
    return None
