"""The plugin's command line: kubectl's flags are accepted before and after the action, as with kubectl itself."""

from __future__ import annotations

from pathlib import Path

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


def test_an_unreachable_api_server_is_an_error_message_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: x\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}}]\n"
        "users: [{name: u, user: {token: not-printed}}]\n"
        "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
    )
    assert main.main(["status", "db", "--kubeconfig", str(kubeconfig)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot reach https://127.0.0.1:1: ") and "Connection refused" in err
    assert "not-printed" not in err
