"""``kubectl dbmigrate status`` and ``plan`` against the real API server, on statuses written through the status
subresource exactly as the operator writes them."""

from __future__ import annotations

import pytest

from tests.kubectl_plugin import statuses
from tests.kubectl_plugin.conftest import Plugin, set_status
from tests.operator import harness

pytestmark = pytest.mark.e2e


def test_status_of_a_succeeded_migration(kube: harness.Kube, plugin: Plugin) -> None:
    kube.apply("orders", harness.spec())
    set_status(kube, "orders", statuses.succeeded())

    run = plugin("status", "orders")

    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines[:2] == ["MIGRATION STATUS", "━━━━━━━━━━━━━━━━"]
    assert f"Resource:   {kube.namespace}/orders" in lines
    assert "Phase:      Succeeded (Succeeded): schema at version 002, verified" in lines
    assert "Applied:    002" in lines
    backup = next(line for line in lines if "Backup:" in line)
    assert backup.startswith("✓ Backup: orders-db-nightly taken ") and backup.endswith("(12m ago)")
    assert "✓ No pending migrations" in lines
    assert "✓ Ready=True (Succeeded): schema at version 002, verified" in lines
    assert "✓ Reconciling=False (Idle)" in lines
    assert "✓ Stalled=False (NotStalled)" in lines
    assert "✓ SchemaVerified=True (Verified): fingerprint sha256:abc123" in lines
    assert "Schema integrity: ✓ fingerprint sha256:abc123" in lines
    assert not [line for line in lines if line.startswith(("✗", "⚠"))]


def test_status_awaiting_approval_shows_what_is_pending_and_how_to_approve(kube: harness.Kube, plugin: Plugin) -> None:
    kube.apply("orders", harness.spec())
    set_status(kube, "orders", statuses.awaiting_approval())

    lines = plugin("status", "orders").out.splitlines()

    assert "✗ 2 pending: 002, 003" in lines
    assert any(line.startswith("✓ Backup: orders-db-nightly taken ") and "(3h5m ago)" in line for line in lines)
    assert "- Reconciling=True (AwaitingApproval): " + statuses.awaiting_approval()["message"] in lines
    assert any(line.startswith("✗ Approved=False (AwaitingApproval)") for line in lines)
    assert "- Migrated=Unknown (Pending): not reached yet in this run" in lines
    assert f"Plan hash: {statuses.PLAN_HASH}" in lines
    assert "  review with `kubectl dbmigrate plan orders`, then `kubectl dbmigrate approve orders`" in lines


def test_status_of_a_blocked_migration_shows_the_failed_backup(kube: harness.Kube, plugin: Plugin) -> None:
    kube.apply("orders", harness.spec())
    set_status(kube, "orders", statuses.blocked_without_backup())

    lines = plugin("status", "orders").out.splitlines()

    assert "✗ Backup: Backup too old: newest is 2d4h old, maxAge is 1h" in lines
    assert "✗ Stalled=True (BackupTooOld): Backup too old: newest is 2d4h old, maxAge is 1h" in lines
    assert "- Pending: not planned yet" in lines


def test_status_flags_a_status_of_an_older_generation(kube: harness.Kube, plugin: Plugin) -> None:
    kube.apply("orders", harness.spec())
    set_status(kube, "orders", statuses.succeeded())
    kube.patch_spec("orders", {"targetVersion": "003"})  # generation 2, not yet observed

    lines = plugin("status", "orders").out.splitlines()

    assert "⚠ This status is for generation 1; the operator has not observed 2 yet" in lines


def test_status_before_the_operator_wrote_any(kube: harness.Kube, plugin: Plugin) -> None:
    kube.apply("orders", harness.spec())
    run = plugin("status", "orders")
    assert run.code == 0
    assert "no status yet (is the operator running" in run.out


def test_status_of_a_missing_resource_fails_like_kubectl(kube: harness.Kube, plugin: Plugin) -> None:
    run = plugin("status", "nope")
    assert run.code == 1
    assert run.err == 'error: Error from server (NotFound): databasemigrations.dbmigrate.io "nope" not found\n'


def test_plan_lists_pending_findings_and_hash(kube: harness.Kube, plugin: Plugin) -> None:
    kube.apply("orders", harness.spec())
    set_status(kube, "orders", statuses.awaiting_approval())

    run = plugin("plan", "orders")

    assert run.code == 0, run.err
    assert run.out.splitlines() == [
        "PLAN (up, from version 001):",
        "  • 002",
        "  • 003  (irreversible: no down part)",
        "",
        "FINDINGS:",
        "  [destructive] 003_drop_fax.up.sql:1 drop_column",
        "  [risky] 002_index.up.sql:2 create_index_not_concurrently (allowed by comment)",
        "",
        f"Plan hash: {statuses.PLAN_HASH}",
        "  1 destructive change(s), not approved: approve with `kubectl dbmigrate approve orders`",
    ]


def test_plan_before_planning(kube: harness.Kube, plugin: Plugin) -> None:
    kube.apply("orders", harness.spec())
    run = plugin("plan", "orders")
    assert run.code == 0
    assert run.out == f"- No plan yet for {kube.namespace}/orders (phase Pending)\n"
