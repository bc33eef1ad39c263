"""The Helm chart as tests use it: the helm binary (built from the Go module proxy into ~/.cache by
hack/helm/build.sh) and rendering the chart into manifests; kustomize is built the same way."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "dbmigrate-operator"
BUILD_SCRIPTS = REPO / "hack"
KUBE_VERSION = "1.36.3"  # the local control plane's; helm template defaults to an old one otherwise

Manifest = dict[str, Any]


class ToolBuildError(Exception):
    """hack/<tool>/build.sh failed; the message carries its output."""


def build_tool(name: str) -> Path:
    """A Go tool (helm, kustomize), built first if missing (a no-op otherwise; a cold build of helm takes ~2 minutes
    on 2 cores)."""
    script = BUILD_SCRIPTS / name / "build.sh"
    result = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        raise ToolBuildError(f"{script} exited {result.returncode}:\n{result.stderr[-4000:]}")
    return Path(result.stdout.strip().splitlines()[-1])


def run(helm: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(helm), *args], capture_output=True, text=True, timeout=120)


def render(
    helm: Path,
    *,
    namespace: str = "dbmigrate-system",
    release: str = "dbm",
    values: Mapping[str, Any] | None = None,
    extra: Sequence[str] = (),
) -> list[Manifest]:
    """``helm template --include-crds`` with ``values`` (passed as a values file, so types survive)."""
    args = ["template", release, str(CHART), "--namespace", namespace, "--include-crds", "--kube-version", KUBE_VERSION]
    result = subprocess.run(
        [str(helm), *args, *extra, "--values", "-"],
        input=yaml.safe_dump(dict(values or {})),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise AssertionError(f"helm template failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def find(manifests: Sequence[Manifest], kind: str, name: str | None = None) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == kind and (name is None or m["metadata"]["name"] == name)]


def one(manifests: Sequence[Manifest], kind: str) -> Manifest:
    found = find(manifests, kind)
    assert len(found) == 1, f"expected one {kind}, rendered {len(found)}"
    return found[0]
