"""The plugin's command line: kubectl's flags are accepted before and after the action, as with kubectl itself."""

from __future__ import annotations

import pytest

from dbmigrate.kubectl_plugin import main


@pytest.mark.parametrize(
    "argv",
    [
        ["-n", "orders", "--context", "prod", "--kubeconfig", "/k", "status", "db"],
        ["status", "db", "-n", "orders", "--context", "prod", "--kubeconfig", "/k"],
        ["--namespace", "orders", "status", "--context", "prod", "db", "--kubeconfig", "/k"],
    ],
)
def test_flags_before_or_after_the_action(argv: list[str]) -> None:
    args = main.build_parser().parse_args(argv)
    assert (args.action, args.name, args.namespace, args.context, args.kubeconfig) == (
        "status",
        "db",
        "orders",
        "prod",
        "/k",
    )


def test_flags_left_out_fall_back_to_the_kubeconfig() -> None:
    args = main.build_parser().parse_args(["approve", "db"])
    assert not hasattr(args, "namespace") and args.plan_hash is None


def test_an_unknown_action_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main.main(["drop", "db"])
    assert exited.value.code == 2
    assert "invalid choice: 'drop'" in capsys.readouterr().err
