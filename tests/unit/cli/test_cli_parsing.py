"""What the CLI makes of what a user types: parameters, schedules, the Execution it creates, and the
refusals it gives before touching a cluster (the operator's own words)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from conveyor.admission import messages
from conveyor.cli.execution_request import (
    build_execution,
    generate_name,
    load_parameters,
    parse_parameter_pairs,
    parse_schedule,
)
from conveyor.cli.executions import executions
from conveyor.cli.precheck import queue_conflict

NOW = datetime(2030, 1, 1, 10, 0, tzinfo=UTC)


def test_parameter_pairs_keep_values_as_strings_for_the_operator_to_convert() -> None:
    assert parse_parameter_pairs(["a=1", "b=true", "c=x y"]) == {"a": "1", "b": "true", "c": "x y"}


def test_parameter_pair_value_may_contain_equals_signs() -> None:
    assert parse_parameter_pairs(["query=a=b"]) == {"query": "a=b"}


def test_parameter_pair_later_value_wins() -> None:
    assert parse_parameter_pairs(["a=1", "a=2"]) == {"a": "2"}


@pytest.mark.parametrize("pair", ["novalue", "=1", " =1"])
def test_parameter_pair_without_key_and_equals_is_a_usage_error(pair: str) -> None:
    with pytest.raises(click.BadParameter):
        parse_parameter_pairs([pair])


def test_parameters_from_json_text_keep_their_types() -> None:
    loaded = load_parameters('{"count": 3, "tags": ["a"], "on": true}')
    assert loaded == {"count": 3, "tags": ["a"], "on": True}


def test_parameters_from_a_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("target: prod\nreplicas: 2\n")
    assert load_parameters(str(path)) == {"target": "prod", "replicas": 2}


def test_parameters_from_a_json_file(tmp_path: Path) -> None:
    path = tmp_path / "params.json"
    path.write_text(json.dumps({"x": {"y": 1}}))
    assert load_parameters(str(path)) == {"x": {"y": 1}}


@pytest.mark.parametrize("text", ["[1, 2]", "just words", "{unclosed"])
def test_parameters_that_are_not_a_mapping_are_a_usage_error(text: str) -> None:
    with pytest.raises(click.BadParameter):
        load_parameters(text)


def test_schedule_accepts_rfc3339_with_zone() -> None:
    assert parse_schedule("2030-01-02T03:04:05Z", NOW) == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_schedule_accepts_relative_times() -> None:
    assert parse_schedule("+5m", NOW) == NOW + timedelta(minutes=5)
    assert parse_schedule("+2h", NOW) == NOW + timedelta(hours=2)


def test_schedule_rejects_other_text() -> None:
    with pytest.raises(click.BadParameter):
        parse_schedule("tomorrow", NOW)


def test_execution_leaves_default_flags_out_and_names_the_workflow() -> None:
    built = build_execution("shop", "install", "web", {"target": "prod"})
    assert built["metadata"] == {"generateName": "install-", "namespace": "shop"}
    assert built["spec"] == {"workflow": "install", "deployment": "web", "parameters": {"target": "prod"}}


def test_execution_carries_every_flag_in_wire_names() -> None:
    built = build_execution(
        "shop", "install", "web", {}, force=True, dry_run=True, allow_custom_parameters=True,
        scheduled_time=NOW,
    )
    assert built["spec"] == {
        "workflow": "install", "deployment": "web", "force": True, "dryRun": True,
        "allowCustomParameters": True, "scheduledTime": "2030-01-01T10:00:00Z",
    }


def test_system_wide_execution_has_no_deployment() -> None:
    assert "deployment" not in build_execution("conveyor-system", "create_snapshot", None, {})["spec"]


def test_generated_name_is_a_dns_label_prefix() -> None:
    assert generate_name("create_snapshot") == "create-snapshot-"
    assert generate_name("Deploy.All") == "deploy-all-"


def test_queue_with_force_or_dry_run_is_refused_with_the_operators_message() -> None:
    assert queue_conflict(True, True, False) == messages.queue_combined_with(["force"])
    assert queue_conflict(True, True, True) == messages.queue_combined_with(["force", "dryRun"])
    assert queue_conflict(True, False, False) is None
    assert queue_conflict(False, True, True) is None


def test_start_refuses_queue_with_force_before_reaching_any_cluster(tmp_path: Path) -> None:
    missing = tmp_path / "no-kubeconfig"
    result = CliRunner().invoke(
        executions, ["start", "install", "-d", "web", "--queue", "--force", "--kubeconfig", str(missing)]
    )
    assert result.exit_code == 1
    assert result.stderr.strip() == messages.queue_combined_with(["force"])


def test_start_with_a_malformed_parameter_is_a_usage_error() -> None:
    result = CliRunner().invoke(executions, ["start", "install", "-d", "web", "-p", "oops"])
    assert result.exit_code == 2
    assert "is not key=value" in result.stderr


def test_start_without_a_workflow_is_a_usage_error() -> None:
    assert CliRunner().invoke(executions, ["start"]).exit_code == 2


def test_unknown_status_filter_is_a_usage_error() -> None:
    assert CliRunner().invoke(executions, ["list", "--status", "running"]).exit_code == 2


def test_missing_kubeconfig_is_reported_in_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(executions, ["list", "--kubeconfig", str(tmp_path / "absent")])
    assert result.exit_code == 1
    assert "cannot load the kubeconfig" in result.stderr
    assert "Traceback" not in result.output
