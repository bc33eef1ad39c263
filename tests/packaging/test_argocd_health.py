"""The Argo CD health script shipped in the chart, run by a real Lua interpreter over the statuses the operator
writes (conditions built by the operator's own :func:`conditions.summarize`, so the fixtures cannot drift from it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lupa
import pytest

from dbmigrate.controller import conditions

REPO = Path(__file__).resolve().parents[2]
CHART_SCRIPT = REPO / "charts" / "dbmigrate-operator" / "argocd" / "health.lua"
DOCS_SCRIPT = REPO / "docs" / "argocd-health.lua"
NOW = "2026-11-24T12:00:00Z"


def health(obj: dict[str, Any]) -> tuple[str, str]:
    """Evaluate the script as Argo CD does: a chunk with ``obj`` in scope, returning {status, message}."""
    lua = lupa.LuaRuntime(unpack_returned_tuples=True)
    lua.globals().obj = lua.table_from(obj, recursive=True)
    result = lua.execute(CHART_SCRIPT.read_text())
    return str(result.status), str(result.message)


def resource(
    phase: str,
    *,
    generation: int = 2,
    observed: int = 2,
    reason: str | None = None,
    message: str = "why",
    stalled: bool | None = None,
) -> dict[str, Any]:
    """A DatabaseMigration as the operator leaves it in ``phase`` (Stalled as the operator decides, unless given)."""
    summary = conditions.summarize(
        [],
        phase=phase,
        reason=reason or phase,
        message=message,
        stalled=phase in conditions.STALLED if stalled is None else stalled,
        generation=observed,
        now=NOW,
    )
    status = {"phase": phase, "reason": reason or phase, "message": message, "observedGeneration": observed}
    return {"metadata": {"name": "orders", "generation": generation}, "status": {**status, "conditions": summary}}


def test_the_docs_copy_is_the_chart_script() -> None:
    assert DOCS_SCRIPT.read_text() == CHART_SCRIPT.read_text()


@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        ("Pending", "Progressing"),
        ("CheckingBackup", "Progressing"),
        ("Planning", "Progressing"),
        ("AwaitingApproval", "Suspended"),
        ("Migrating", "Progressing"),
        ("Verifying", "Progressing"),
        ("Succeeded", "Healthy"),
        ("Failed", "Degraded"),
        ("RolledBack", "Degraded"),
        ("Blocked", "Degraded"),
    ],
)
def test_every_phase_maps_to_a_health(phase: str, expected: str) -> None:
    assert health(resource(phase)) == (expected, f"{phase}: why")


def test_every_phase_of_the_crd_is_covered() -> None:
    """A phase added to the operator must be added to the script's tests (and maybe the script)."""
    assert conditions.IN_PROGRESS | conditions.STALLED | {"Succeeded"} == {
        "Pending", "CheckingBackup", "Planning", "AwaitingApproval", "Migrating", "Verifying",
        "Succeeded", "Failed", "RolledBack", "Blocked",
    }  # fmt: skip


def test_a_stale_observed_generation_is_progressing_even_after_success() -> None:
    status, message = health(resource("Succeeded", generation=3, observed=2))
    assert status == "Progressing"
    assert "generation 3" in message


def test_a_stale_failure_is_progressing_not_degraded() -> None:
    """The user fixed the spec (generation 3); the failure of generation 2 must not fail the new sync."""
    assert health(resource("Failed", generation=3, observed=2))[0] == "Progressing"


def test_no_status_yet_is_progressing() -> None:
    assert health({"metadata": {"name": "orders", "generation": 1}})[0] == "Progressing"


def test_a_ready_condition_of_an_older_generation_is_not_healthy() -> None:
    obj = resource("Succeeded")
    obj["status"]["conditions"] = [dict(c, observedGeneration=1) for c in obj["status"]["conditions"]]
    assert health(obj)[0] == "Progressing"


@pytest.mark.parametrize("phase", ["CheckingBackup", "Planning", "Migrating", "Verifying"])
def test_a_transient_retry_is_progressing(phase: str) -> None:
    """Lock timeouts and connection errors are retried with backoff: Degraded would fail the sync at once."""
    obj = resource(phase, reason="Retrying", message="LockTimeout: lock not acquired in 5s; retry 2 in 20s")
    assert health(obj) == ("Progressing", f"{phase}: LockTimeout: lock not acquired in 5s; retry 2 in 20s")


def test_a_missing_secret_is_progressing_though_stalled() -> None:
    """The operator looks for the Secret again (it may be created by another tool in the same sync)."""
    obj = resource("Pending", reason="SecretNotFound", message="Secret 'db' not found; retrying", stalled=True)
    assert health(obj) == ("Progressing", "Pending: stalled, retrying: Secret 'db' not found; retrying")


def test_a_dry_run_that_succeeded_is_healthy() -> None:
    assert health(resource("Succeeded", reason="DryRun", message="dry run: 2 to apply"))[0] == "Healthy"


def _retried(obj: dict[str, Any], *, token: str, recorded: str | None) -> dict[str, Any]:
    obj["metadata"]["annotations"] = {"dbmigrate.io/retry": token}
    if recorded is not None:
        obj["status"]["retryToken"] = recorded
    return obj


@pytest.mark.parametrize("phase", ["Succeeded", "Failed", "Blocked", "RolledBack"])
def test_a_retry_the_operator_has_not_taken_up_yet_is_progressing(phase: str) -> None:
    """The retry annotation moves no generation: until the operator records the token, the old outcome (a stale
    Healthy that would let the next wave roll out, or a Degraded that fails the sync) must not be reported."""
    status, message = health(_retried(resource(phase), token="2", recorded="1"))
    assert status == "Progressing" and "dbmigrate.io/retry=2" in message
    assert health(_retried(resource(phase), token="1", recorded=None))[0] == "Progressing"


def test_a_retry_token_the_operator_recorded_is_read_as_usual() -> None:
    assert health(_retried(resource("Succeeded"), token="2", recorded="2"))[0] == "Healthy"
    assert health(_retried(resource("Failed"), token="2", recorded="2"))[0] == "Degraded"
    unannotated = resource("Succeeded")
    unannotated["status"]["retryToken"] = "2"  # the annotation was removed: nothing requested
    assert health(unannotated)[0] == "Healthy"
