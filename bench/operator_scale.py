"""How the operator copes with many resources: time from apply until every plan Job exists, CPU, memory.

Starts the local control plane (``make controlplane`` binaries) *without* the test kubelet, so Job pods stay
Pending and only the operator's own work is measured; creates RESOURCES DatabaseMigrations (backup policy Skip)
spread over NAMESPACES namespaces; runs one operator process watching all namespaces; reports the seconds from the
first create until every plan Job exists, the operator's CPU seconds per resource (after its idle start-up) and
its peak RSS. ``--unrelated-configmaps N`` first fills the namespaces with N ConfigMaps that are not migrations (a
busy cluster), and ``--configmap-selector`` is passed to the operator, to compare its idle memory with and without.

    .venv/bin/python bench/operator_scale.py [--resources 500] [--namespaces 10] [--unrelated-configmaps 5000]
        [--configmap-selector dbmigrate.io/migrations=true]
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

from dbmigrate.controller.main import parse_selector  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    """Resident memory now (VmRSS) or at its peak (VmHWM), from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def prepare(api: client.ApiClient, namespaces: list[str], *, unrelated: int, labels: dict[str, str]) -> None:
    for namespace in namespaces:
        client.CoreV1Api(api).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
        kube = harness.Kube(api, namespace)
        kube.secret("db", {"url": "postgresql://bench:bench@127.0.0.1:1/bench"})
        kube.configmap("migrations", {"001_t.up.sql": "CREATE TABLE t (id INTEGER);"}, labels=labels)
    filler = {"settings.yaml": "x" * 1024}  # about the size of a typical application ConfigMap
    with ThreadPoolExecutor(16) as pool:
        list(
            pool.map(
                lambda i: harness.Kube(api, namespaces[i % len(namespaces)]).configmap(f"app-config-{i}", filler),
                range(unrelated),
            )
        )


def plan_jobs(batch: client.BatchV1Api) -> int:
    listed = batch.list_job_for_all_namespaces(label_selector="dbmigrate.io/step=plan", limit=10000)
    return len(listed.items)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=500)
    parser.add_argument("--namespaces", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--unrelated-configmaps", type=int, default=0)
    parser.add_argument("--configmap-selector", action="append", default=[], metavar="LABEL=VALUE")
    args = parser.parse_args(argv)
    selector = parse_selector(args.configmap_selector, flag="--configmap-selector")  # the operator's own parsing
    flags = [f"--configmap-selector={item}" for item in args.configmap_selector]
    namespaces = [f"bench-{index}" for index in range(args.namespaces)]

    with ControlPlane(ensure_binaries()) as control_plane:
        api = control_plane.api_client()
        harness.install_crds(api)
        prepare(api, namespaces, unrelated=args.unrelated_configmaps, labels=selector)
        log = Path(control_plane.kubeconfig).with_name("operator.log")
        with log.open("wb") as output:
            operator = subprocess.Popen(
                [sys.executable, "-m", "dbmigrate.controller.main", "--all-namespaces", "--standalone", *flags],
                env={**os.environ, "KUBECONFIG": str(control_plane.kubeconfig)},
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            time.sleep(10)  # start-up (imports, discovery, watches, the initial lists) is not per-resource work
            idle_cpu, idle_rss = cpu_seconds(operator.pid), rss_mib(operator.pid)
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
                "unrelated_configmaps": args.unrelated_configmaps,
                "configmap_selector": args.configmap_selector,
                "operator_idle_rss_mib": round(idle_rss, 1),
                "apply_seconds": round(applied, 2),
                "all_plan_jobs_seconds": round(elapsed, 2),
                "operator_cpu_seconds_per_resource": round(busy / args.resources, 4),
                "operator_peak_rss_mib": round(rss_mib(operator.pid, "VmHWM"), 1),
            }
            print(json.dumps(report, indent=2))
        finally:
            operator.terminate()
            operator.wait(30)
            api.close()  # type: ignore[no-untyped-call]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
