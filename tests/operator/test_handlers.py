"""What the operator asks kopf to watch, read off the registry and the settings its start-up handler makes."""

from __future__ import annotations

from typing import Any

import kopf
import pytest

from dbmigrate.controller import handlers, jobs
from dbmigrate.controller.settings import Settings

JOBS = kopf.Resource(group="batch", version="v1", plural="jobs", kind="Job", namespaced=True)
CONFIGMAPS = kopf.Resource(group="", version="v1", plural="configmaps", kind="ConfigMap", namespaced=True)


def _started(monkeypatch: pytest.MonkeyPatch, **selectors: Any) -> kopf.OperatorSettings:
    """The settings the operator's start-up handler makes."""
    monkeypatch.setattr(handlers, "_api_client", lambda: None)
    registry = kopf.OperatorRegistry()
    handlers.register(registry, settings=Settings(), selector=None, **selectors)
    settings = kopf.OperatorSettings()
    for handler in registry._activities.get_all_handlers():
        if handler.activity == "startup":
            fn: Any = handler.fn
            fn(settings=settings)
    return settings


def test_only_our_jobs_are_watched_filtered_by_the_api_server(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _started(monkeypatch)
    assert settings.watching.label_selectors.collect(JOBS) == [f"{jobs.LABEL_MANAGED_BY}={jobs.MANAGED_BY}"]
    assert settings.watching.label_selectors.collect(CONFIGMAPS) == []


def test_configmaps_filtered_by_the_api_server_when_a_selector_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _started(monkeypatch, configmap_selector={"team": "orders", "dbmigrate.io/migrations": "true"})
    assert settings.watching.label_selectors.collect(CONFIGMAPS) == ["dbmigrate.io/migrations=true,team=orders"]


def test_a_daemons_own_status_patch_does_not_wake_it() -> None:
    wakeups = handlers._Wakeups()
    event = wakeups.event("uid-1")
    wakeups.wrote("uid-1", version="41")

    wakeups.changed("uid-1", version="41")
    assert not event.is_set()

    wakeups.changed("uid-1", version="42")  # anyone else's change: the user's, kopf's annotations
    assert event.is_set()
    wakeups.begin("uid-1")
    wakeups.changed("uid-1", version=None)
    assert event.is_set()


def test_the_own_patchs_event_arriving_before_its_response_is_withdrawn_unless_something_else_woke_it() -> None:
    wakeups = handlers._Wakeups()
    event = wakeups.event("uid-1")
    wakeups.begin("uid-1")  # a step starts and patches the status: its watch event comes first
    wakeups.changed("uid-1", version="43")
    wakeups.wrote("uid-1", version="43")
    assert not event.is_set()

    wakeups.begin("uid-1")
    wakeups.changed("uid-1", version="44")
    wakeups.wake("uid-1")  # meanwhile one of its Jobs changed
    wakeups.wrote("uid-1", version="44")
    assert event.is_set()
