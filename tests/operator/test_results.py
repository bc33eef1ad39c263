"""Reading the CLI's JSON contract from termination messages, including the broken cases."""

from __future__ import annotations

import json

from dbmigrate.controller import results

PLAN = {
    "action": "plan",
    "ok": True,
    "exit_code": 0,
    "plan_hash": "sha256:ab",
    "current_version": None,
    "pending": ["3", "4"],
    "irreversible": ["4"],
    "blocking": 1,
    "findings_truncated": 2,
    "error": None,
    "findings": [{"rule": "drop_column", "severity": "destructive", "file": "004.sql", "line": None, "allowed": False}],
}


def test_plan_status_keeps_declared_fields_and_drops_nulls() -> None:
    plan = results.plan_status(results.parse(exit_code=0, message=json.dumps(PLAN)), direction="up")
    assert plan == {
        "hash": "sha256:ab",
        "direction": "up",
        "pending": ["3", "4"],
        "irreversible": ["4"],
        "blocking": 1,
        "findings": [{"rule": "drop_column", "severity": "destructive", "file": "004.sql", "allowed": False}],
        "findingsTruncated": 2,
    }


def test_a_log_tail_instead_of_json_is_a_failure_with_its_text() -> None:
    result = results.parse(exit_code=1, message="Traceback ...\nKeyError: 'x'\n")
    assert not result.ok and result.reason == "MigrationFailed"
    assert result.error_message.endswith("KeyError: 'x'")


def test_error_from_the_document() -> None:
    doc = {"ok": False, "exit_code": 4, "error": {"type": "LockTimeoutError", "message": "lock held by pid 7"}}
    result = results.parse(exit_code=4, message=json.dumps(doc))
    assert (result.reason, result.error_type, result.error_message) == (
        "LockTimeout",
        "LockTimeoutError",
        "lock held by pid 7",
    )
    assert result.exit_code in results.RETRYABLE


def test_killed_pod_exit_code_has_a_reason() -> None:
    assert results.parse(exit_code=137, message="").reason == "JobFailed"
    terminated = results.parse(exit_code=143, message='{"error": {"type": "TerminatedRunError", "message": "x"}}')
    assert terminated.reason == "Terminated" and terminated.exit_code not in results.RETRYABLE


def test_versions_compare_numerically() -> None:
    assert results.is_downgrade(target="2", current="10")
    assert not results.is_downgrade(target="10", current="2")
    assert not results.is_downgrade(target="latest", current="5")
    assert not results.is_downgrade(target="3", current=None)
    assert results.is_downgrade(target="20240101_a", current="20240102_b")
    assert results.version_key("1.10") > results.version_key("1.9")
