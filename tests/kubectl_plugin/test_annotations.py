"""``approve``, ``reject`` and ``retry`` write the annotations the operator watches, on the real API server."""

from __future__ import annotations

import pytest

from dbmigrate.kubectl_plugin import resources
from tests.kubectl_plugin import statuses
from tests.kubectl_plugin.conftest import Plugin, set_status
from tests.operator import harness

pytestmark = pytest.mark.e2e


def written(kube: harness.Kube, name: str) -> dict[str, str]:
    return dict(kube.get(name)["metadata"].get("annotations") or {})


def test_approve_writes_the_current_plan_hash(kube: harness.Kube, plugin: Plugin) -> None:
    kube.apply("orders", harness.spec())
    set_status(kube, "orders", statuses.awaiting_approval())

    run = plugin("approve", "orders")

    assert run.code == 0, run.err
    assert run.out == f"databasemigration.dbmigrate.io/orders approved plan {statuses.PLAN_HASH}\n"
    assert written(kube, "orders")[resources.APPROVED_PLAN] == statuses.PLAN_HASH


def test_approve_refuses_a_plan_other_than_the_reviewed_one(kube: harness.Kube, plugin: Plugin) -> None:
    kube.apply("orders", harness.spec())
    set_status(kube, "orders", statuses.awaiting_approval())

    run = plugin("approve", "orders", "--plan-hash", "sha256:reviewed-yesterday")

    assert run.code == 1
    assert f"the current plan of orders is {statuses.PLAN_HASH}, not sha256:reviewed-yesterday" in run.err
    assert resources.APPROVED_PLAN not in written(kube, "orders")
    assert plugin("approve", "orders", "--plan-hash", statuses.PLAN_HASH).code == 0


def test_approve_without_a_plan_fails(kube: harness.Kube, plugin: Plugin) -> None:
    kube.apply("orders", harness.spec())
    run = plugin("approve", "orders")
    assert run.code == 1
    assert "has no plan to approve yet" in run.err
    assert resources.APPROVED_PLAN not in written(kube, "orders")


def test_an_approval_is_not_written_over_a_resource_that_changed_after_it_was_read(kube: harness.Kube) -> None:
    """The operator re-planned between reading and writing: the API server refuses the stale write (409)."""
    kube.apply("orders", harness.spec())
    set_status(kube, "orders", statuses.awaiting_approval())
    migrations = resources.Migrations(resources.Connection(api=kube.api, namespace=kube.namespace))
    read = migrations.get("orders")
    replanned = statuses.awaiting_approval()
    replanned["plan"]["hash"] = "sha256:new-plan"
    set_status(kube, "orders", replanned)

    with pytest.raises(resources.PluginError, match="changed while this command ran"):
        migrations.annotate(read, {resources.APPROVED_PLAN: statuses.PLAN_HASH})
    assert resources.APPROVED_PLAN not in written(kube, "orders")


def test_reject_withdraws_approval_and_records_the_rejected_plan(kube: harness.Kube, plugin: Plugin) -> None:
    kube.apply("orders", harness.spec(), annotations={resources.APPROVED_PLAN: statuses.PLAN_HASH})
    set_status(kube, "orders", statuses.awaiting_approval())

    run = plugin("reject", "orders")

    assert run.code == 0, run.err
    assert run.out == f"databasemigration.dbmigrate.io/orders rejected plan {statuses.PLAN_HASH}\n"
    after = written(kube, "orders")
    assert resources.APPROVED_PLAN not in after
    assert after[resources.REJECTED_PLAN] == statuses.PLAN_HASH


def test_reject_after_the_run_warns_that_it_is_too_late(kube: harness.Kube, plugin: Plugin) -> None:
    kube.apply("orders", harness.spec())
    set_status(kube, "orders", statuses.succeeded())
    run = plugin("reject", "orders")
    assert run.code == 0
    assert "⚠ it is already Succeeded: the rejection no longer stops this run" in run.out


def test_reject_while_migrating_says_a_started_job_runs_on(kube: harness.Kube, plugin: Plugin) -> None:
    kube.apply("orders", harness.spec(), annotations={resources.APPROVED_PLAN: statuses.PLAN_HASH})
    set_status(kube, "orders", {**statuses.awaiting_approval(), "phase": "Migrating"})
    run = plugin("reject", "orders")
    assert run.code == 0
    assert "⚠ it is Migrating: a migrate Job already started runs to its end; one not started yet is not" in run.out


def test_retry_sets_a_new_token_each_time(kube: harness.Kube, plugin: Plugin) -> None:
    kube.apply("orders", harness.spec())
    set_status(kube, "orders", statuses.blocked_without_backup())

    assert plugin("retry", "orders").code == 0
    first = written(kube, "orders")[resources.RETRY]
    assert plugin("retry", "orders").code == 0
    second = written(kube, "orders")[resources.RETRY]

    assert first and second and first != second


def test_context_flag_selects_a_kubeconfig_context(kube: harness.Kube, plugin: Plugin) -> None:
    kube.apply("orders", harness.spec())
    run = plugin("status", "orders", "--context", "no-such-context")
    assert run.code == 1
    assert "no-such-context" in run.err
