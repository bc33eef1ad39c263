"""The operator's command line and environment settings."""

from __future__ import annotations

import pytest

from dbmigrate.controller import main
from dbmigrate.controller.settings import Settings


def test_flags() -> None:
    flags = "-n a --namespace b --selector team=x --configmap-selector app=y --standalone --priority 5 --metrics-port 9"
    args = main.build_parser().parse_args(flags.split())
    assert (args.namespace, args.standalone, args.priority, args.metrics_port) == (["a", "b"], True, 5, 9)
    assert main.parse_selector(args.selector) == {"team": "x"}
    assert main.parse_selector(args.configmap_selector) == {"app": "y"}


def test_namespaces_and_all_namespaces_exclude_each_other() -> None:
    with pytest.raises(SystemExit):
        main.build_parser().parse_args(["-n", "a", "--all-namespaces"])


def test_selector_needs_a_value() -> None:
    with pytest.raises(SystemExit, match="LABEL=VALUE"):
        main.parse_selector(["team"])
    with pytest.raises(SystemExit, match="--configmap-selector needs LABEL=VALUE"):
        main.parse_selector(["=x"], flag="--configmap-selector")


def test_settings_from_environment() -> None:
    settings = Settings.from_env({"DBMIGRATE_OPERATOR_POLL_SECONDS": "0.5", "DBMIGRATE_OPERATOR_RETRY_LIMIT": "2"})
    assert (settings.poll_seconds, settings.retry_limit, settings.resync_seconds) == (0.5, 2, 300.0)


def test_security_contexts_are_json_objects() -> None:
    settings = Settings.from_env({"DBMIGRATE_OPERATOR_JOB_POD_SECURITY_CONTEXT": '{"runAsNonRoot": true}'})
    assert settings.job_pod_security_context == {"runAsNonRoot": True}
    assert settings.job_container_security_context == {}
    with pytest.raises(ValueError, match="JSON object"):
        Settings.from_env({"DBMIGRATE_OPERATOR_JOB_CONTAINER_SECURITY_CONTEXT": "[1]"})
