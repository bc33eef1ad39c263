"""What the operator asks kopf to watch, read off the registry and the settings its start-up handler makes."""

from __future__ import annotations

from typing import Any

import kopf
import pytest

from dbmigrate.controller import handlers, jobs
from dbmigrate.controller.settings import Settings

JOBS = kopf.Resource(group="batch", version="v1", plural="jobs", kind="Job", namespaced=True)
CONFIGMAPS = kopf.Resource(group="", version="v1", plural="configmaps", kind="ConfigMap", namespaced=True)


def test_only_our_jobs_are_watched_filtered_by_the_api_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handlers, "_api_client", lambda: None)
    registry = kopf.OperatorRegistry()
    handlers.register(registry, settings=Settings(), selector=None)
    settings = kopf.OperatorSettings()
    for handler in registry._activities.get_all_handlers():
        if handler.activity == "startup":
            fn: Any = handler.fn
            fn(settings=settings)
    assert settings.watching.label_selectors.collect(JOBS) == [f"{jobs.LABEL_MANAGED_BY}={jobs.MANAGED_BY}"]
    assert settings.watching.label_selectors.collect(CONFIGMAPS) == []
