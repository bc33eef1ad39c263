"""The wheel as a user installs it: built from the source tree, installed into a fresh virtualenv, its console
scripts run. Dependencies come from the project's virtualenv (a .pth line), so nothing is downloaded, while
``dbmigrate`` itself must come from the wheel — an editable install or the source tree would hide a packaging bug.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = ("dbmigrate", "dbmigrate-operator", "kubectl-dbmigrate")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out), str(REPO)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    (built,) = out.glob("dbmigrate-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv holding only the wheel; returns its bin directory."""
    root = tmp_path_factory.mktemp("venv")
    venv.create(root, with_pip=False)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(root), "platbase": str(root)}))
    # dependencies from the project's environment; .pth files there (the editable dbmigrate) are not processed
    (site / "project-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    bin_dir = root / "bin"
    pip = [sys.executable, "-m", "pip", "--python", str(bin_dir / "python")]
    result = subprocess.run(
        [*pip, "install", "--no-deps", "--quiet", str(wheel)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return bin_dir


def test_wheel_holds_the_package_and_not_the_tests(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    for module in ("dbmigrate/cli/main.py", "dbmigrate/controller/main.py", "dbmigrate/kubectl_plugin/main.py"):
        assert module in names
    assert not [name for name in names if name.startswith(("tests/", "bench/"))]


def test_version_runs_from_the_installed_wheel(installed: Path) -> None:
    result = subprocess.run([str(installed / "dbmigrate"), "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "dbmigrate 0.1.0"
    where = subprocess.run(
        [str(installed / "python"), "-c", "import dbmigrate; print(dbmigrate.__file__)"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert where.stdout.startswith(str(installed.parent)), f"dbmigrate imported from {where.stdout}, not the wheel"


@pytest.mark.parametrize("script", SCRIPTS)
def test_console_scripts_are_installed(installed: Path, script: str) -> None:
    result = subprocess.run([str(installed / script), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout
