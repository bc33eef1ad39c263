"""The Argo CD health script, run by a real Lua interpreter on the statuses the operator writes."""

from __future__ import annotations

from typing import Any

import lupa
import pytest

from tests.operator.harness import REPO

SCRIPT = (REPO / "crds" / "argocd" / "health-dbmigrate.io_DatabaseMigration.lua").read_text()


def health(obj: dict[str, Any]) -> tuple[str, str]:
    """Evaluate the script as Argo CD does: a chunk with ``obj`` in scope, returning {status, message}."""
    lua = lupa.LuaRuntime(unpack_returned_tuples=True)
    lua.globals().obj = lua.table_from(obj, recursive=True)
    result = lua.execute(SCRIPT)
    return str(result.status), str(result.message)


def resource(phase: str | None, *, generation: int = 2, observed: int | None = 2, message: str = "m") -> dict[str, Any]:
    status: dict[str, Any] = {"message": message}
    if phase is not None:
        status["phase"] = phase
    if observed is not None:
        status["observedGeneration"] = observed
    return {"metadata": {"generation": generation}, "status": status}


@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        ("Succeeded", "Healthy"),
        ("AwaitingApproval", "Suspended"),
        ("Blocked", "Degraded"),
        ("RolledBack", "Degraded"),
        ("Failed", "Degraded"),
        ("Migrating", "Progressing"),
        ("Pending", "Progressing"),  # also a missing Secret: retried, so not Degraded
    ],
)
def test_phase_maps_to_health(phase: str, expected: str) -> None:
    status, message = health(resource(phase, message="why"))
    assert status == expected and message == f"{phase}: why"


def test_an_unobserved_generation_is_progressing_even_if_the_old_one_succeeded() -> None:
    assert health(resource("Succeeded", generation=3, observed=2))[0] == "Progressing"
    assert health({"metadata": {"generation": 1}})[0] == "Progressing"
