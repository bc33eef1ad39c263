"""What the operator asks kopf to watch, read off the registry and the settings its start-up handler makes."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import kopf
import pytest
from kubernetes.client.exceptions import ApiException

from dbmigrate.controller import cluster, handlers, jobs
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


RAW: dict[str, Any] = {
    "apiVersion": "dbmigrate.io/v1alpha1",
    "kind": "DatabaseMigration",
    "metadata": {"name": "app", "namespace": "ns", "uid": "u-1", "generation": 1, "resourceVersion": "1"},
    "spec": {
        "database": {"engine": "postgresql", "secretRef": {"name": "db", "urlKey": "url"}},
        "migrations": {"configMapRef": {"name": "sql"}},
        "backup": {"policy": "Skip"},
    },
    "status": {"phase": "Pending", "observedGeneration": 1, "attempt": 0},
}


def _move(world: object) -> tuple[dict[str, Any] | None, float] | None:
    """One step of the daemon for RAW against ``world``."""
    return asyncio.run(
        handlers._move(
            body=kopf.Body(RAW),
            own=None,
            wakeups=handlers._Wakeups(),
            world=world,  # type: ignore[arg-type]
            settings=Settings(),
            logger=logging.getLogger("test"),
        )
    )


def test_an_api_error_is_logged_with_the_servers_own_message(caplog: pytest.LogCaptureFixture) -> None:
    """The Status message names what went wrong (which webhook, which field); "500 Internal Server Error" alone
    does not."""

    class Failing:
        def migrations_hash(self, namespace: str, name: str) -> str | None:
            body = json.dumps({"kind": "Status", "message": 'Internal error occurred: webhook "x" timed out'})
            raise ApiException(status=500, reason="Internal Server Error", body=body)

    assert _move(Failing()) == (None, Settings().retry_base_seconds)
    assert 'webhook "x" timed out' in caplog.text


def test_only_the_resource_itself_gone_ends_its_daemon() -> None:
    """A 404 of something a step reads (a ConfigMap, a snapshot class's objects) is retried; stopping the daemon
    would leave the resource unreconciled until the operator restarts."""

    class ReadFails:
        def migrations_hash(self, namespace: str, name: str) -> str | None:
            raise ApiException(status=404, reason="Not Found")

    class Gone:
        def migrations_hash(self, namespace: str, name: str) -> str | None:
            return "sha256:m"

        def secret_problem(self, namespace: str, name: str, keys: list[str]) -> str | None:
            return None

        def patch_status(self, obj: object, status: object) -> dict[str, Any]:
            raise ApiException(status=404, reason="Not Found")

    assert _move(ReadFails()) == (None, Settings().retry_base_seconds)
    assert _move(Gone()) is None


def _deletion_handler(monkeypatch: pytest.MonkeyPatch, running: list[str]) -> Any:
    monkeypatch.setattr(cluster.Cluster, "running_migrations", lambda *_: running)
    monkeypatch.setattr(handlers, "_api_client", lambda: None)
    registry = kopf.OperatorRegistry()
    handlers.register(registry, settings=Settings(poll_seconds=3), selector=None)
    for handler in registry._activities.get_all_handlers():
        if handler.activity == "startup":
            handler.fn(settings=kopf.OperatorSettings())  # type: ignore[call-arg]
    return next(h.fn for h in registry._changing.get_all_handlers() if h.id == "deletion")


BODY = kopf.Body({"metadata": {"name": "app", "namespace": "ns", "uid": "u-1"}})


def test_deletion_waits_for_a_running_migration_and_says_so_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its Jobs go with the resource: a migration killed mid-way can leave the database dirty."""
    warned: list[tuple[str, str]] = []
    monkeypatch.setattr(kopf, "warn", lambda _body, *, reason, message: warned.append((reason, message)))
    deleting = _deletion_handler(monkeypatch, ["dbm-app-u-1-g1a0-migrate"])
    for retry in (0, 1):
        with pytest.raises(kopf.TemporaryError) as waiting:
            asyncio.run(deleting(body=BODY, retry=retry))
        assert waiting.value.delay == 3 and "dbm-app-u-1-g1a0-migrate" in str(waiting.value)
    assert [reason for reason, _ in warned] == ["DeletionWaiting"]


def test_deletion_goes_on_when_no_migration_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    deleting = _deletion_handler(monkeypatch, [])
    assert asyncio.run(deleting(body=BODY, retry=0)) is None
