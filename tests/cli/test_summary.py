"""The termination-log summary: whatever the run, it fits the 4 KiB Kubernetes keeps, and what the operator
decides on (outcome, exit code, plan hash, versions, the error) survives the trimming."""

from __future__ import annotations

import json

from dbmigrate import errors, outcome
from dbmigrate.cli import summary
from dbmigrate.controller import results

KUBELET_KEEPS = 4096  # bytes of a termination message; the kubelet keeps the last ones of a longer file
VERSIONS = [f"20240101{n:06d}" for n in range(1, 301)]


def _finding(version: str) -> dict[str, object]:
    return {"rule": "drop_column", "severity": "destructive", "file": f"{version}_x.sql", "line": 3, "allowed": False}


def _run(action: str, *, error: errors.DbmigrateError | None = None, applied: int = 300) -> outcome.Outcome:
    """A run over 300 migrations: all pending, each with a destructive finding and irreversible."""
    plan = {
        "hash": "sha256:" + "a" * 64,
        "pending": [{"version": v} for v in VERSIONS],
        "irreversible": VERSIONS,
        "findings": [_finding(v) for v in VERSIONS],
        "blocking": 300,
    }
    migrations = [outcome.MigrationResult(v, "x", f"{v}_x.sql", "up", "applied", 0.1) for v in VERSIONS[:applied]]
    return outcome.Outcome(
        action=action,
        migrations=migrations if action == "up" else [],
        details={"plan": plan, "current_version": VERSIONS[applied - 1] if applied else None},
        error=error,
    )


def _as_kubelet_reports(document: dict[str, object]) -> str:
    text = json.dumps(document, separators=(",", ":")).encode()
    assert len(text) <= summary.LIMIT_BYTES
    return text[-KUBELET_KEEPS:].decode()


def test_a_plan_of_300_migrations_fits_and_keeps_its_count_and_target() -> None:
    fitted = summary.build(_run("plan"))
    result = results.parse(exit_code=0, message=_as_kubelet_reports(fitted))
    assert result.ok and result.text("plan_hash") == "sha256:" + "a" * 64
    assert result.count("pending") == 300 and result.strings("pending")[-1] == VERSIONS[-1]
    assert result.count("irreversible") == 300 and fitted["blocking"] == 300
    assert fitted["findings_truncated"] + len(fitted["findings"]) == 300


def test_a_successful_run_of_300_migrations_reads_as_a_success() -> None:
    fitted = summary.build(_run("up"))
    result = results.parse(exit_code=0, message=_as_kubelet_reports(fitted))
    assert result.ok and result.count("applied") == 300
    assert result.strings("applied")[-1] == VERSIONS[-1] and result.text("current_version") == VERSIONS[-1]


def test_a_failure_keeps_its_error_and_dirty_mark_however_long() -> None:
    """The error is kept over any list; its message (non-ASCII escapes to six bytes each) is shortened last."""
    failure = errors.MigrationError("é" * 1500)
    failure.left_dirty = True
    fitted = summary.build(_run("up", error=failure, applied=150))
    result = results.parse(exit_code=1, message=_as_kubelet_reports(fitted))
    assert not result.ok and result.left_dirty and result.error_type == "MigrationError"
    assert result.error_message.startswith("éé") and result.count("applied") == 150


def test_trimming_leaves_the_run_itself_alone() -> None:
    """The full JSON document on stdout is rendered from the same outcome, possibly after the summary."""
    run = _run("up")
    before = json.dumps(run.to_json())
    summary.build(run)
    assert json.dumps(run.to_json()) == before
