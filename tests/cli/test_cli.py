"""The `dbmigrate` command as users run it: the report to the character, JSON, exit codes, bad input."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyte
import pytest

from tests.fixtures.databases import execute, query, table_names
from tests.fixtures.migrations import EXE, busy, cli_env, run_cli, start_busy_run, write
from tests.fixtures.polling import wait_for

REPO = Path(__file__).resolve().parents[2]


def demo_project(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "examples" / "demo" / "migrations", tmp_path / "migrations")
    return tmp_path


def test_up_prints_the_migration_status_report(tmp_path: Path) -> None:
    project = demo_project(tmp_path)
    result = run_cli("up", "--backup-policy", "create", "--backup-dir", "backups", cwd=project)
    assert result.returncode == 0, result.stderr
    report = re.sub(r"\(\d+\.\ds\)", "(T)", result.stdout)
    report = re.sub(r"created /\S+/backups/dbmigrate-\d{8}T\d{6}Z\.sqlite3 \(\d+\.\d KB\)", "created BACKUP", report)
    assert report == (
        "MIGRATION STATUS\n"
        "━━━━━━━━━━━━━━━━\n"
        "✓ Backup verified (just now: created BACKUP)\n"
        "✓ 3 pending migrations\n"
        "\n"
        "APPLYING MIGRATIONS:\n"
        "[1/3] 001_add_users_table.sql... ✓ Complete (T)\n"
        "[2/3] 002_add_indexes.sql... ✓ Complete (T)\n"
        "[3/3] 003_update_schema.sql... ✓ Complete (T)\n"
        "\n"
        "Schema integrity: ✓ Valid\n"
        "Migration history: Updated\n"
    )
    assert (project / "dbmigrate.sqlite3").is_file()  # the embedded default database
    (dump,) = (project / "backups").iterdir()
    assert dump.name.startswith("dbmigrate-") and dump.suffix == ".sqlite3" and dump.stat().st_size > 0


def test_without_a_backup_policy_the_report_says_it_did_not_check(tmp_path: Path) -> None:
    result = run_cli("up", cwd=demo_project(tmp_path))
    assert result.returncode == 0
    assert "- Backup not checked (no backup policy configured)\n✓ 3 pending migrations\n" in result.stdout


def test_json_output_is_one_parseable_document(tmp_path: Path) -> None:
    project = demo_project(tmp_path)
    up = json.loads(run_cli("up", "--output", "json", cwd=project).stdout)
    assert up["schema_version"] == 1 and up["ok"] is True and up["exit_code"] == 0
    assert [m["file"] for m in up["migrations"]] == [
        "001_add_users_table.sql",
        "002_add_indexes.sql",
        "003_update_schema.sql",
    ]
    assert up["database"]["dialect"] == "sqlite" and up["database"]["source"] == "default"
    status = json.loads(run_cli("status", "-o", "json", cwd=project).stdout)
    assert status["status"]["current_version"] == "3" and status["status"]["pending"] == []
    history = json.loads(run_cli("-o", "json", "history", cwd=project).stdout)
    assert [row["version"] for row in history["history"]] == ["1", "2", "3"]


def test_failure_prints_the_file_line_statement_and_database_message(tmp_path: Path) -> None:
    write(tmp_path / "migrations", {"001_ok.sql": "CREATE TABLE a (id INTEGER);", "002_bad.sql": "\nSELEC 1;"})
    result = run_cli("up", cwd=tmp_path)
    assert result.returncode == 1
    assert "[2/2] 002_bad.sql... ✗ Failed" in result.stdout
    assert "002_bad.sql:2: SELEC 1" in result.stdout and 'near "SELEC": syntax error' in result.stdout
    assert "Migration history: Updated" in result.stdout


def test_create_numbers_the_next_migration(tmp_path: Path) -> None:
    assert run_cli("create", "Add users", cwd=tmp_path).returncode == 0
    assert run_cli("create", "add-index", cwd=tmp_path).returncode == 0
    assert sorted(p.name for p in (tmp_path / "migrations").iterdir()) == [
        "001_add_users.down.sql",
        "001_add_users.up.sql",
        "002_add_index.down.sql",
        "002_add_index.up.sql",
    ]
    assert "003_unicode_naive.up.sql" in run_cli("create", "Ünïcode naïve", cwd=tmp_path).stdout
    cyrillic = run_cli("create", "таблица", cwd=tmp_path)
    assert cyrillic.returncode == 2 and "no letters or digits that a file name can hold" in cyrillic.stdout
    result = run_cli("create", "ts", "--timestamp", cwd=tmp_path)
    assert re.search(r"Created .*/\d{14}_ts\.up\.sql", result.stdout)


def test_create_next_to_flyway_and_numbered_files_takes_a_free_version(tmp_path: Path) -> None:
    write(tmp_path / "migrations", {"V3__a.sql": "SELECT 1;", "004_b.up.sql": "SELECT 1;"})
    assert run_cli("create", "x", cwd=tmp_path).returncode == 0
    assert (tmp_path / "migrations" / "V5__x.sql").exists()
    assert run_cli("status", cwd=tmp_path).returncode == 0  # the directory still loads


@pytest.mark.parametrize("where", ["a-file", "/proc/no/such/place"])
def test_create_where_nothing_can_be_written_is_a_usage_error(where: str, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    result = run_cli("create", "x", "--dir", where, cwd=tmp_path)
    assert result.returncode == 2 and "cannot write the migration in" in result.stdout
    assert "Traceback" not in result.stderr


def test_argument_errors_with_json_output_are_a_json_document(tmp_path: Path) -> None:
    result = run_cli("down", "--steps", "abc", "-o", "json", cwd=tmp_path)
    assert result.returncode == 2
    document = json.loads(result.stdout)
    assert document["action"] == "down" and document["error"]["type"] == "UsageError"
    assert "'abc' is not a whole number" in document["error"]["message"]
    text = run_cli("down", "1", "--steps", "1", cwd=tmp_path)
    assert text.returncode == 2 and "argument --steps: not allowed with argument target" in text.stderr
    plan = run_cli("plan", "--steps", "1", cwd=tmp_path)
    assert plan.returncode == 2 and "argument --steps: only with --down" in plan.stderr


def test_an_unwritable_termination_log_keeps_the_actions_exit_code(tmp_path: Path) -> None:
    write(tmp_path / "migrations", {"001_a.sql": "CREATE TABLE a (id INTEGER);"})
    result = run_cli("up", "--termination-log", str(tmp_path / "no" / "such" / "dir"), cwd=tmp_path)
    assert result.returncode == 0 and "cannot write the termination log" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("action", ["status", "history", "verify"])
def test_reading_a_sqlite_file_that_does_not_exist_creates_nothing(action: str, tmp_path: Path) -> None:
    """status answers (nothing applied yet, and says the file is not there); history and verify refuse."""
    write(tmp_path / "migrations", {"001_a.sql": "CREATE TABLE a (id INTEGER);"})
    result = run_cli(action, "-d", f"sqlite:///{tmp_path}/typo.db", cwd=tmp_path)
    if action == "status":
        assert (
            result.returncode == 0 and f"- No SQLite database at {tmp_path}/typo.db yet: read as empty" in result.stdout
        )
        assert "0 applied, 1 pending" in result.stdout
    else:
        assert result.returncode == 6 and f"no SQLite database at {tmp_path}/typo.db" in result.stdout
    assert not (tmp_path / "typo.db").exists()


def test_wrong_password_exits_6_and_never_prints_the_password(tmp_path: Path, pg_url: str) -> None:
    write(tmp_path / "migrations", {"001_a.sql": "SELECT 1;"})
    bad = pg_url.replace("dbmigrate:dbmigrate@", "dbmigrate:Sup3rS3cret@")
    for output in ("text", "json"):
        result = run_cli("up", "-o", output, cwd=tmp_path, env={"DATABASE_URL": bad})
        assert result.returncode == 6
        assert "Sup3rS3cret" not in result.stdout + result.stderr
        assert "refused the credentials" in result.stdout and "password authentication failed" in result.stdout


def test_a_password_given_as_a_url_option_is_not_shown(tmp_path: Path, pg_url: str) -> None:
    write(tmp_path / "migrations", {"001_a.sql": "SELECT 1;"})
    as_option = pg_url.replace(":dbmigrate@", "@") + "?password=dbmigrate&application_name=x"
    for output in ("text", "json"):
        result = run_cli("status", "-o", output, "--database", as_option, cwd=tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "password=dbmigrate" not in result.stdout and "password=***" in result.stdout


def test_unreachable_server_exits_6_with_a_hint(tmp_path: Path) -> None:
    write(tmp_path / "migrations", {"001_a.sql": "SELECT 1;"})
    result = run_cli("status", "--database", "postgresql://u:pw@127.0.0.1:1/db", cwd=tmp_path)
    assert result.returncode == 6
    assert "cannot reach postgresql at 127.0.0.1:1" in result.stdout and "hint:" in result.stdout
    not_a_port = run_cli("status", "--database", "mysql://u:pw@127.0.0.1:db/x", cwd=tmp_path)
    assert not_a_port.returncode == 2 and "could not be parsed" in not_a_port.stdout


@pytest.mark.parametrize("fixture", ["pg_url", "mysql_url"])
def test_a_missing_database_and_a_user_without_access_are_told_apart(
    fixture: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Both reach the server: "check the host and port" would send the user the wrong way."""
    url: str = request.getfixturevalue(fixture)
    write(tmp_path / "migrations", {"001_a.sql": "SELECT 1;"})
    base, _, name = url.rpartition("/")

    missing = run_cli("status", "--database", f"{base}/no_such_db", cwd=tmp_path)

    assert missing.returncode == 6
    assert "has no database 'no_such_db'" in missing.stdout and "create the database first" in missing.stdout
    with _limited_user(url) as limited_url:
        denied = run_cli("status", "--database", limited_url, cwd=tmp_path)
    assert denied.returncode == 6
    assert f"accepted user 'dbm_limited' but not on database '{name}'" in denied.stdout, denied.stdout
    assert "Limited-Secret" not in denied.stdout + denied.stderr


@contextlib.contextmanager
def _limited_user(url: str) -> Iterator[str]:
    """A login with no access to ``url``'s database (the fixtures' user is a superuser, which always has it)."""
    name = url.rpartition("/")[2]
    if url.startswith("postgresql"):
        setup = [
            "CREATE ROLE dbm_limited LOGIN PASSWORD 'Limited-Secret'",
            f'REVOKE CONNECT ON DATABASE "{name}" FROM PUBLIC',
        ]
        teardown = ["DROP ROLE IF EXISTS dbm_limited"]
    else:
        setup = ["CREATE USER 'dbm_limited'@'127.0.0.1' IDENTIFIED BY 'Limited-Secret'"]
        teardown = ["DROP USER IF EXISTS 'dbm_limited'@'127.0.0.1'"]
    execute(url, teardown + setup)
    try:
        yield re.sub(r"//[^@]*@", "//dbm_limited:Limited-Secret@", url)
    finally:
        execute(url, teardown)


@pytest.mark.parametrize(
    ("fixture", "option", "exit_code", "said"),
    [
        ("pg_url", "?foo=bar", 2, 'invalid connection option "foo"'),
        ("pg_url", "?sslmode=bogus", 2, 'invalid sslmode value: "bogus"'),
        ("pg_url", "?options=-c%20lock_timeout%3Dsoon", 2, 'invalid value for parameter "lock_timeout"'),
        ("mysql_url", "?foo=bar", 2, "unexpected keyword argument 'foo'"),
        ("mysql_url", "?connect_timeout=soon", 2, "invalid literal for int()"),
        ("pg_url", "?sslmode=verify-full&sslrootcert=/nowhere/ca.pem", 6, 'root certificate file "/nowhere/ca.pem"'),
        ("mysql_url", "?ssl_ca=/nowhere/ca.pem", 6, "No such file or directory"),
        # The snakeoil certificate that PostgreSQL from Debian serves; MariaDB from Debian offers no TLS.
        ("mysql_url", "?ssl_ca=/etc/ssl/certs/ssl-cert-snakeoil.pem", 6, "SSL is required but the server doesn't"),
    ],
)
def test_a_bad_url_option_or_tls_setting_gets_a_message_not_a_traceback(
    fixture: str, option: str, exit_code: int, said: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Bad options are usage errors (exit 2, not retried by the operator); TLS failures say TLS, not "unreachable"."""
    url: str = request.getfixturevalue(fixture)
    write(tmp_path / "migrations", {"001_a.sql": "SELECT 1;"})

    result = run_cli("status", "--database", url + option, cwd=tmp_path)

    assert result.returncode == exit_code, result.stdout + result.stderr
    assert said in result.stdout and "Traceback" not in result.stderr
    kind = "has an option that" if exit_code == 2 else "cannot set up TLS with"
    assert kind in result.stdout and "hint:" in result.stdout


def test_a_sqlite_file_in_a_missing_directory_names_the_directory(tmp_path: Path) -> None:
    write(tmp_path / "migrations", {"001_a.sql": "SELECT 1;"})
    result = run_cli("up", "--database", f"sqlite:///{tmp_path}/nowhere/app.db", cwd=tmp_path)
    assert result.returncode == 6
    assert f"the directory {tmp_path}/nowhere must exist and be writable" in result.stdout


def test_missing_migrations_directory_exits_2(tmp_path: Path) -> None:
    result = run_cli("up", cwd=tmp_path)
    assert result.returncode == 2
    assert "migrations directory" in result.stdout and "does not exist" in result.stdout


def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    assert run_cli("frobnicate", cwd=tmp_path).returncode == 2
    negative = run_cli("up", "--lock-wait", "-5", cwd=tmp_path)
    assert negative.returncode == 2 and "argument --lock-wait: -5 must be more than 0" in negative.stderr
    fraction = run_cli("status", "--lock-retries", "1.5", cwd=tmp_path)
    assert fraction.returncode == 2 and "'1.5' is not a whole number" in fraction.stderr
    typo = run_cli("verify", "--expected-fingerprint", "sha256:abc", cwd=tmp_path)  # not a drifted schema (5)
    assert typo.returncode == 2 and "'sha256:abc' is not sha256:<64 hex digits>" in typo.stderr
    assert run_cli("--version", cwd=tmp_path).stdout.startswith("dbmigrate ")


def test_plan_approve_flow_and_termination_log(tmp_path: Path) -> None:
    tables = "".join(f"CREATE TABLE t{n} (id INTEGER);\n" for n in range(2, 202))
    write(tmp_path / "migrations", {"001_a.sql": tables})
    assert run_cli("up", cwd=tmp_path).returncode == 0
    drops = {f"{n:03d}_drop{n}.sql": f"DROP TABLE t{n};" for n in range(2, 202)}  # tables of an earlier run
    write(tmp_path / "migrations", drops)

    plan = run_cli("plan", "-o", "json", "--termination-log", "summary.json", cwd=tmp_path)
    assert plan.returncode == 0
    document = json.loads(plan.stdout)
    summary_text = (tmp_path / "summary.json").read_text()
    summary = json.loads(summary_text)
    assert len(summary_text.encode()) <= 4096
    assert summary["plan_hash"] == document["plan"]["hash"] and summary["blocking"] == 200
    assert summary["findings_truncated"] > 0 and len(summary["findings"]) + summary["findings_truncated"] == 200
    assert summary["pending"][:2] == ["2", "3"] and summary["current_version"] == "1"
    text = run_cli("plan", cwd=tmp_path).stdout  # says what a run needs, not that an unpassed flag allowed it
    assert "⚠ 200 destructive change(s): a run needs the plan hash below approved" in text
    assert "--allow-destructive)" not in text

    refused = run_cli("up", cwd=tmp_path)
    assert refused.returncode == 3 and "200 destructive change(s) need confirmation" in refused.stdout
    approved = run_cli("up", "--approve", document["plan"]["hash"], "--termination-log", "up.json", cwd=tmp_path)
    assert approved.returncode == 0, approved.stdout
    up_summary = json.loads((tmp_path / "up.json").read_text())
    assert up_summary["ok"] is True and len(up_summary["applied"]) == 200
    assert up_summary["fingerprint"].startswith("sha256:") and up_summary["integrity_ok"] is True


def test_plan_text_report_lists_statements_changes_and_hash(tmp_path: Path) -> None:
    write(tmp_path / "migrations", {"001_a.sql": "CREATE TABLE a (id INTEGER);\nCREATE INDEX a_id ON a (id);"})
    result = run_cli("plan", cwd=tmp_path)
    assert result.returncode == 0
    assert "PLAN (up, executed in a transaction that was rolled back):" in result.stdout
    assert "✓ 001_a.sql:2 CREATE INDEX a_id ON a (id)" in result.stdout
    assert "+ table a" in result.stdout
    assert re.search(r"Plan hash: sha256:[0-9a-f]{64}", result.stdout)


def _on_a_terminal(
    args: list[str], *, cwd: Path, database_url: str, interrupt_after: float | None = None
) -> tuple[int, str]:
    """Run the CLI on a pseudo-terminal, as a user at a shell would (pressing Ctrl-C after ``interrupt_after``
    seconds); its exit code and everything it wrote."""
    main_fd, child_fd = pty.openpty()
    env = cli_env({"DATABASE_URL": database_url, "COLUMNS": "100"})
    process = subprocess.Popen([EXE, *args], cwd=cwd, env=env, stdout=child_fd, stderr=child_fd)
    os.close(child_fd)
    if interrupt_after is not None:
        threading.Timer(interrupt_after, process.send_signal, [signal.SIGINT]).start()
    chunks = []
    while True:
        try:
            chunk = os.read(main_fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk.decode(errors="replace"))
    process.wait(timeout=30)
    os.close(main_fd)
    return process.returncode, "".join(chunks)


def test_on_a_terminal_a_long_statement_shows_live_elapsed_time(tmp_path: Path, pg_url: str) -> None:
    write(tmp_path / "migrations", {"001_slow.sql": "SELECT 1;\nSELECT pg_sleep(1.5);"})
    code, screen = _on_a_terminal(["up"], cwd=tmp_path, database_url=pg_url)
    assert code == 0
    assert re.search(r"\[1/1\] 001_slow\.sql\.\.\. 1\.\ds  \(statement at line 2\)", screen), screen
    assert "[1/1] 001_slow.sql... ✓ Complete (1." in screen


def test_on_a_terminal_the_final_screen_reads_like_the_piped_report(tmp_path: Path, pg_url: str) -> None:
    """What stays on the screen once the live line is gone: one line per migration, no leftovers of the live line."""
    write(
        tmp_path / "migrations",
        {"001_a.sql": "CREATE TABLE a (id INTEGER);", "002_b.sql": "CREATE TABLE b (id INTEGER);"},
    )
    code, output = _on_a_terminal(["up"], cwd=tmp_path, database_url=pg_url)
    screen = pyte.Screen(100, 40)
    pyte.Stream(screen).feed(output)
    lines = [line.rstrip() for line in screen.display]
    start = lines.index("APPLYING MIGRATIONS:")
    assert code == 0
    assert lines[start : start + 6] == [
        "APPLYING MIGRATIONS:",
        "[1/2] 001_a.sql... ✓ Complete (0.0s)",
        "[2/2] 002_b.sql... ✓ Complete (0.0s)",
        "",
        "Schema integrity: ✓ Valid",
        "Migration history: Updated",
    ]


def test_ctrl_c_cancels_the_running_migration_and_starts_nothing_more(tmp_path: Path, pg_url: str) -> None:
    write(
        tmp_path / "migrations",
        {
            "001_a.sql": "CREATE TABLE a (id INTEGER);",
            "002_b.sql": "CREATE TABLE b (id INTEGER);\nSELECT pg_sleep(8);",
            "003_c.sql": "CREATE TABLE c (id INTEGER);",
        },
    )
    started = time.monotonic()
    code, output = _on_a_terminal(["up"], cwd=tmp_path, database_url=pg_url, interrupt_after=2.0)
    assert code == 130 and time.monotonic() - started < 6  # cancelled, not waited for
    assert "[2/3] 002_b.sql... ✗ Failed" in output and "✗ Stopped at 002_b.sql" in output
    assert "interrupted: nothing more was started, and the running statement was cancelled" in output
    assert "Traceback" not in output
    assert output.rfind("\x1b[?25h") > output.rfind("\x1b[?25l")  # the cursor rich hid is shown again
    assert table_names(pg_url) == {"a"}
    assert query(pg_url, "SELECT version FROM dbmigrate_history") == [("1",)]


@pytest.mark.parametrize(("fixture", "kept"), [("pg_url", {"a"}), ("mysql_url", {"a", "b"})])
def test_sigterm_cancels_the_running_statement_as_ctrl_c_does(
    fixture: str, kept: set[str], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """How Kubernetes stops a Job's pod: the statement must not run on in the server, with its locks, after us.
    (MySQL keeps what committed before it, table b, and the migration stays dirty, as after any failure there.)"""
    url: str = request.getfixturevalue(fixture)
    process = start_busy_run(url, tmp_path, "--termination-log", "run.json")

    process.terminate()
    stdout, stderr = process.communicate(timeout=15)

    assert process.returncode == 143, stdout + stderr
    assert "[1/2] 001_a.sql... ✓ Complete" in stdout and "[2/2] 002_slow.sql... ✗ Failed" in stdout
    assert "terminated (SIGTERM): nothing more was started, and the running statement was cancelled" in stdout
    assert "Traceback" not in stderr
    summary = json.loads((tmp_path / "run.json").read_text())  # what the operator reads: reason Terminated
    assert summary["error"]["type"] == "TerminatedRunError" and summary["applied"] == ["1"]
    wait_for("the statement to be gone from the server", lambda: True if not busy(url) else None, timeout=5)
    assert table_names(url) == kept
