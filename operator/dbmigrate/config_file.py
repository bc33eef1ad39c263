"""The schema of ``dbmigrate.yaml`` (pydantic), kept apart so runs without a config file never import pydantic."""

from __future__ import annotations

from typing import Literal

import pydantic


class FileConfig(pydantic.BaseModel):
    """The accepted keys of ``dbmigrate.yaml``; unknown keys are errors, so a typo never silently does nothing."""

    model_config = pydantic.ConfigDict(extra="forbid")

    database: str | None = None
    dir: str | None = None
    framework: Literal["auto", "sql", "alembic", "django", "rails", "flyway"] | None = None
    history_table: str | None = None
    lock_wait: float | None = pydantic.Field(default=None, gt=0)
    lock_timeout: float | None = pydantic.Field(default=None, ge=0)
    statement_timeout: float | None = pydantic.Field(default=None, ge=0)
    lock_retries: int | None = pydantic.Field(default=None, ge=0)
    session_pooler: bool | None = None
    backup_policy: Literal["require", "create", "skip"] | None = None
    backup_max_age: str | None = None
    backup_dir: str | None = None
    backup_command: str | None = None
