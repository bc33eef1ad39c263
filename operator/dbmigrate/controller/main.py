"""``dbmigrate-operator``: the process entry point — flags, metrics server, then kopf's reactor.

The flags mirror ``kopf run``'s where kopf has them (namespaces, standalone, liveness, priority), so the Helm chart
and docs speak one vocabulary; ``--selector`` restricts the resources handled (several operators, one cluster).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

import kopf

from dbmigrate.controller import handlers, metrics
from dbmigrate.controller.settings import Settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dbmigrate-operator", description="Reconcile DatabaseMigration resources.")
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("-n", "--namespace", action="append", default=[], help="namespace to watch (repeatable)")
    scope.add_argument("-A", "--all-namespaces", action="store_true", help="watch every namespace (default)")
    parser.add_argument(
        "--selector", action="append", default=[], metavar="LABEL=VALUE", help="only resources with this label"
    )
    parser.add_argument(
        "--configmap-selector",
        action="append",
        default=[],
        metavar="LABEL=VALUE",
        help="watch only ConfigMaps with this label, filtered by the API server (large clusters); a change to an "
        "unlabelled migrations ConfigMap is then seen at the next resync",
    )
    parser.add_argument("--standalone", action="store_true", help="no peering: act even if other replicas run")
    parser.add_argument("--liveness", metavar="URL", help="liveness endpoint, e.g. http://0.0.0.0:8080/healthz")
    parser.add_argument("--priority", type=int, default=0, help="peering priority (replicas need distinct ones)")
    parser.add_argument("--peering", default="dbmigrate-operator", help="(Cluster)KopfPeering object name")
    parser.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on this port")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def parse_selector(items: Sequence[str], *, flag: str = "--selector") -> dict[str, str]:
    selector = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"dbmigrate-operator: {flag} needs LABEL=VALUE, got {item!r}")
        selector[key] = value
    return selector


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    if not args.verbose:  # kopf logs every handler call per object at INFO: noise (and CPU) at scale
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    registry = kopf.OperatorRegistry()
    handlers.register(
        registry,
        settings=Settings.from_env(),
        selector=parse_selector(args.selector),
        configmap_selector=parse_selector(args.configmap_selector, flag="--configmap-selector"),
    )
    if args.metrics_port is not None:
        metrics.serve(args.metrics_port)
    kopf.run(
        registry=registry,
        clusterwide=not args.namespace,
        namespaces=args.namespace,
        standalone=args.standalone,
        priority=args.priority,
        peering_name=None if args.standalone else args.peering,  # a given name makes peering mandatory
        liveness_endpoint=args.liveness,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
