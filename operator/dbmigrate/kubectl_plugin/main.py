"""``kubectl-dbmigrate``: kubectl finds it on PATH and runs it for ``kubectl dbmigrate ...``.

Exit codes: 0 done, 1 the action could not be done (not found, refused, no plan), 2 usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

import urllib3

from dbmigrate.kubectl_plugin import commands, resources

STEPS = ("plan", "plan-down", "migrate", "verify")


def build_parser() -> argparse.ArgumentParser:
    # SUPPRESS: the options are accepted before and after the action (as kubectl's are); with a default, the
    # action's parser would overwrite a value given before the action.
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    common.add_argument("-n", "--namespace", help="the resource's namespace (default: the context's)")
    common.add_argument("--kubeconfig", help="path to the kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
    common.add_argument("--context", help="the kubeconfig context to use")
    parser = argparse.ArgumentParser(
        prog="kubectl dbmigrate", description="Inspect and approve DatabaseMigrations.", parents=[common]
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, text in (
        ("status", "the MIGRATION STATUS report of the resource"),
        ("plan", "the pending migrations, findings and plan hash"),
        ("reject", "withdraw approval and record the rejected plan"),
        ("retry", "start a new run (after a failure, or to re-check)"),
    ):
        actions.add_parser(action, parents=[common], help=text).add_argument("name")
    approve = actions.add_parser("approve", parents=[common], help="approve the current plan (destructive changes)")
    approve.add_argument("name")
    approve.add_argument("--plan-hash", help="approve only if the current plan has this hash (the one you reviewed)")
    logs = actions.add_parser("logs", parents=[common], help="the log of the newest Job's pod")
    logs.add_argument("name")
    logs.add_argument("--step", choices=STEPS, help="the newest Job of this step (default: of any step)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    now = datetime.now(UTC)
    notes: list[str] = []
    server = "the Kubernetes API server"
    try:
        connection = resources.connect(
            kubeconfig=getattr(args, "kubeconfig", None),
            context=getattr(args, "context", None),
            namespace=getattr(args, "namespace", None),
        )
        server = connection.api.configuration.host
        migrations = resources.Migrations(connection)
        if args.action == "status":
            lines = commands.status(migrations, args.name, now=now)
        elif args.action == "plan":
            lines = commands.plan(migrations, args.name)
        elif args.action == "approve":
            lines = commands.approve(migrations, args.name, expected_hash=args.plan_hash)
        elif args.action == "reject":
            lines = commands.reject(migrations, args.name)
        elif args.action == "retry":
            lines = commands.retry(migrations, args.name, now=now)
        else:
            lines, notes = commands.logs(migrations, args.name, step=args.step)
    except resources.PluginError as error:
        sys.stderr.write(f"error: {error}\n")
        return 1
    except urllib3.exceptions.HTTPError as error:  # no answer at all: unreachable, refused, TLS
        sys.stderr.write(f"error: cannot reach {server}: {getattr(error, 'reason', None) or error}\n")
        sys.stderr.write("  did you specify the right context (--context, --kubeconfig)? is the cluster up?\n")
        return 1
    if notes:
        sys.stderr.write("\n".join(notes) + "\n")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
