"""kstatus conditions: transition times move only on a status flip; the summary follows the phase."""

from __future__ import annotations

from dbmigrate.controller import conditions as conds


def test_transition_time_kept_unless_status_flips() -> None:
    first = conds.upsert([], type_="Ready", status="False", reason="A", message="a", generation=1, now="t1")
    same = conds.upsert(first, type_="Ready", status="False", reason="B", message="b", generation=2, now="t2")
    flipped = conds.upsert(same, type_="Ready", status="True", reason="C", message="c", generation=2, now="t3")
    assert same == [
        {
            "type": "Ready",
            "status": "False",
            "reason": "B",
            "message": "b",
            "lastTransitionTime": "t1",
            "observedGeneration": 2,
        }
    ]
    assert flipped[0]["lastTransitionTime"] == "t3" and len(flipped) == 1


def test_upsert_keeps_other_conditions_in_place() -> None:
    listed = conds.upsert([], type_="Planned", status="True", reason="P", message="", generation=1, now="t")
    listed = conds.upsert(listed, type_="Ready", status="False", reason="R", message="", generation=1, now="t")
    listed = conds.upsert(listed, type_="Planned", status="False", reason="P2", message="", generation=1, now="t")
    assert [c["type"] for c in listed] == ["Planned", "Ready"]


def _summary(phase: str, *, stalled: bool = False) -> dict[str, str]:
    listed = conds.summarize([], phase=phase, reason="Why", message="m", stalled=stalled, generation=3, now="t")
    return {c["type"]: c["status"] for c in listed}


def test_summary_by_phase() -> None:
    assert _summary("Succeeded") == {"Ready": "True", "Reconciling": "False", "Stalled": "False"}
    assert _summary("Migrating") == {"Ready": "False", "Reconciling": "True", "Stalled": "False"}
    assert _summary("Blocked", stalled=True) == {"Ready": "False", "Reconciling": "False", "Stalled": "True"}
    assert _summary("Pending", stalled=True) == {"Ready": "False", "Reconciling": "True", "Stalled": "True"}
