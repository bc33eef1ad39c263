"""How the operator copes with many resources: time from apply until every plan Job exists, CPU, memory.

Starts the local control plane (``make controlplane`` binaries) *without* the test kubelet, so Job pods stay
Pending and only the operator's own work is measured; creates RESOURCES DatabaseMigrations (backup policy Skip)
spread over NAMESPACES namespaces; runs one operator process watching all namespaces; reports the seconds from the
first create until every plan Job exists, the operator's CPU seconds per resource (after its idle start-up) and
its peak RSS.

    .venv/bin/python bench/operator_scale.py [--resources 500] [--namespaces 10]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kubernetes import client

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "operator")]

from tests.fixtures.controlplane import ControlPlane, ensure_binaries  # noqa: E402
from tests.operator import harness  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def prepare(api: client.ApiClient, namespaces: list[str]) -> None:
    for namespace in namespaces:
        client.CoreV1Api(api).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
        kube = harness.Kube(api, namespace)
        kube.secret("db", {"url": "postgresql://bench:bench@127.0.0.1:1/bench"})
        kube.configmap("migrations", {"001_t.up.sql": "CREATE TABLE t (id INTEGER);"})


def plan_jobs(batch: client.BatchV1Api) -> int:
    listed = batch.list_job_for_all_namespaces(label_selector="dbmigrate.io/step=plan", limit=10000)
    return len(listed.items)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=500)
    parser.add_argument("--namespaces", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args(argv)
    namespaces = [f"bench-{index}" for index in range(args.namespaces)]

    with ControlPlane(ensure_binaries()) as control_plane:
        api = control_plane.api_client()
        harness.install_crds(api)
        prepare(api, namespaces)
        log = Path(control_plane.kubeconfig).with_name("operator.log")
        with log.open("wb") as output:
            operator = subprocess.Popen(
                [sys.executable, "-m", "dbmigrate.controller.main", "--all-namespaces", "--standalone"],
                env={**os.environ, "KUBECONFIG": str(control_plane.kubeconfig)},
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            time.sleep(5)  # start-up (imports, discovery, watches) is not per-resource work
            idle_cpu = cpu_seconds(operator.pid)
            started = time.monotonic()
            with ThreadPoolExecutor(16) as pool:
                list(
                    pool.map(
                        lambda i: harness.Kube(api, namespaces[i % len(namespaces)]).apply(f"m{i}", harness.spec()),
                        range(args.resources),
                    )
                )
            applied = time.monotonic() - started
            batch = client.BatchV1Api(api)
            while plan_jobs(batch) < args.resources:
                if time.monotonic() - started > args.timeout or operator.poll() is not None:
                    raise SystemExit(f"gave up: {plan_jobs(batch)} plan Jobs; operator log: {log}")
                time.sleep(0.5)
            elapsed = time.monotonic() - started
            busy = cpu_seconds(operator.pid) - idle_cpu
            report = {
                "resources": args.resources,
                "namespaces": args.namespaces,
                "apply_seconds": round(applied, 2),
                "all_plan_jobs_seconds": round(elapsed, 2),
                "operator_cpu_seconds_per_resource": round(busy / args.resources, 4),
                "operator_peak_rss_mib": round(peak_rss_mib(operator.pid), 1),
            }
            print(json.dumps(report, indent=2))
        finally:
            operator.terminate()
            operator.wait(30)
            api.close()  # type: ignore[no-untyped-call]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
