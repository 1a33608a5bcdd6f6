"""The API models, names and operator configuration: what the rest of Conveyor relies on."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from conveyor.api.config import InvalidConfig, parse_operator_config
from conveyor.api.models import (
    FINAL_PHASES,
    RUNNING_PHASES,
    WAITING_PHASES,
    CancelMode,
    Condition,
    ConditionStatus,
    Deployment,
    DeploymentSpec,
    Execution,
    ExecutionPhase,
    ExecutionSpec,
    ExecutionStatus,
    ParameterDeclaration,
    WorkflowDeclaration,
    to_wire,
)
from conveyor.api.names import (
    LABEL_DEPLOYMENT,
    bounded_name,
    deployment_label,
    deployment_lease_name,
    label_value,
    worker_job_name,
)

# ---------------------------------------------------------------------------------------------- wire


def test_wire_names_are_camel_case() -> None:
    spec = ExecutionSpec(workflow="install", dry_run=True, allow_custom_parameters=True)
    assert to_wire(spec)["dryRun"] is True and to_wire(spec)["allowCustomParameters"] is True


def test_wire_form_leaves_out_unset_optional_fields() -> None:
    assert "scheduledTime" not in to_wire(ExecutionSpec(workflow="install"))


def test_camel_case_input_is_parsed() -> None:
    assert ExecutionSpec.model_validate({"workflow": "install", "dryRun": True}).dry_run is True


def test_snake_case_input_is_parsed_too() -> None:
    assert ExecutionSpec.model_validate({"workflow": "install", "dry_run": True}).dry_run is True


def test_wire_form_round_trips() -> None:
    status = ExecutionStatus(phase=ExecutionPhase.QUEUED, waiting_for="shop/install-1", attempt=1)
    assert ExecutionStatus.model_validate(to_wire(status)) == status


def test_cancel_accepts_only_the_three_modes() -> None:
    assert ExecutionSpec(workflow="w", cancel="kill").cancel is CancelMode.KILL  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        ExecutionSpec.model_validate({"workflow": "w", "cancel": "now"})


def test_execution_without_deployment_is_system_wide() -> None:
    assert ExecutionSpec(workflow="create_snapshot").system_wide


def test_scheduled_time_parses_rfc3339() -> None:
    spec = ExecutionSpec.model_validate({"workflow": "w", "scheduledTime": "2030-01-02T03:04:05Z"})
    assert spec.scheduled_time == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_the_design_example_deployment_parses() -> None:
    deployment = Deployment.model_validate(
        {
            "apiVersion": "conveyor.dev/v1alpha1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {
                "inputs": {"replicas": 3},
                "source": {"configMap": "web-workflows"},
                "workflows": {
                    "install": {
                        "mapping": "web_workflows.install",
                        "parameters": {
                            "timeout": {"type": "integer", "default": 60},
                            "target": {"type": "string"},
                        },
                    }
                },
            },
        }
    )
    assert deployment.spec.workflows["install"].parameters["target"].is_required


def test_worker_idle_timeout_defaults_to_300_seconds() -> None:
    assert DeploymentSpec().worker.idle_timeout_seconds == 300


def test_env_vars_keep_kubernetes_fields_the_model_does_not_name() -> None:
    env = {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}
    spec = DeploymentSpec.model_validate({"worker": {"env": [env]}})
    assert to_wire(spec)["worker"]["env"] == [env]


def test_workflow_mapping_must_be_module_dot_function() -> None:
    with pytest.raises(ValidationError):
        WorkflowDeclaration(mapping="install")


def test_an_execution_object_parses_with_its_status() -> None:
    execution = Execution.model_validate(
        {"metadata": {"name": "x"}, "spec": {"workflow": "w"}, "status": {"phase": "started"}}
    )
    assert execution.status is not None and execution.status.phase is ExecutionPhase.STARTED


def test_condition_has_the_kubernetes_shape() -> None:
    condition = Condition(
        type="Succeeded",
        status=ConditionStatus.TRUE,
        reason="Succeeded",
        last_transition_time=datetime(2030, 1, 1, tzinfo=UTC),
    )
    assert set(to_wire(condition)) == {"type", "status", "reason", "message", "lastTransitionTime"}


# -------------------------------------------------------------------------------------------- phases


def test_there_are_exactly_the_ten_statuses_of_the_design() -> None:
    assert {p.value for p in ExecutionPhase} == {
        "pending", "scheduled", "queued", "started", "cancelling", "force_cancelling",
        "kill_cancelling", "terminated", "failed", "cancelled",
    }  # fmt: skip


def test_running_phases_are_admitted_and_not_final() -> None:
    assert {p.value for p in RUNNING_PHASES} == {
        "pending",
        "started",
        "cancelling",
        "force_cancelling",
        "kill_cancelling",
    }


def test_final_phases() -> None:
    assert {p.value for p in FINAL_PHASES} == {"terminated", "failed", "cancelled"}


def test_running_waiting_and_final_phases_partition_all_statuses() -> None:
    assert set(ExecutionPhase) == RUNNING_PHASES | WAITING_PHASES | FINAL_PHASES
    assert not (
        RUNNING_PHASES & WAITING_PHASES or RUNNING_PHASES & FINAL_PHASES or WAITING_PHASES & FINAL_PHASES
    )


# ------------------------------------------------------------------------------- parameter declaration


def test_a_parameter_without_default_is_required() -> None:
    assert ParameterDeclaration(type="string").is_required  # type: ignore[arg-type]


def test_a_parameter_with_a_default_is_optional() -> None:
    assert not ParameterDeclaration.model_validate({"default": 60}).is_required


def test_a_null_default_is_a_default() -> None:
    declaration = ParameterDeclaration.model_validate({"default": None})
    assert declaration.has_default and not declaration.is_required


def test_required_false_makes_a_parameter_without_default_optional() -> None:
    assert not ParameterDeclaration.model_validate({"required": False}).is_required


def test_required_true_holds_even_with_a_default() -> None:
    assert ParameterDeclaration.model_validate({"required": True, "default": 1}).is_required


# --------------------------------------------------------------------------------------------- names


def test_short_names_are_kept_as_they_are() -> None:
    assert worker_job_name("web") == "conveyor-worker-web"
    assert deployment_lease_name("web") == "conveyor-deployment-web"


def test_long_names_are_cut_to_63_characters() -> None:
    assert len(worker_job_name("d" * 253)) == 63


def test_long_names_sharing_a_prefix_stay_distinct() -> None:
    assert worker_job_name("a" * 100 + "x") != worker_job_name("a" * 100 + "y")


def test_bounded_names_are_deterministic() -> None:
    assert bounded_name("n" * 80) == bounded_name("n" * 80)


def test_cut_names_end_with_an_alphanumeric_character_and_no_dash_before_the_hash() -> None:
    name = bounded_name("a" * 53 + "-" * 30)
    assert name[-1].isalnum() and "--" not in name


def test_label_values_fit_in_63_characters() -> None:
    assert len(label_value("x" * 200)) <= 63 and label_value("web") == "web"


def test_label_keys_live_in_the_conveyor_group() -> None:
    assert LABEL_DEPLOYMENT == "conveyor.dev/deployment"


# ------------------------------------------------------------------------------------- configuration


def test_no_config_means_defaults() -> None:
    config = parse_operator_config(None)
    assert config.max_running_executions == 0 and config.cap is None and config.system_workflows == {}


def test_config_yaml_is_parsed() -> None:
    config = parse_operator_config(
        {
            "config.yaml": (
                "maxRunningExecutions: 4\n"
                "workerImage: example/worker:1\n"
                "systemWorkflows:\n"
                "  maintenance:\n"
                "    mapping: ops.maintenance\n"
                "    source: {configMap: ops-workflows}\n"
                "    parameters: {window: {type: integer, default: 60}}\n"
            )
        }
    )
    assert config.cap == 4 and config.worker_image == "example/worker:1"
    maintenance = config.system_workflows["maintenance"]
    assert maintenance.source is not None and maintenance.source.config_map == "ops-workflows"


def test_broken_yaml_is_an_invalid_config() -> None:
    with pytest.raises(InvalidConfig, match="not valid YAML"):
        parse_operator_config({"config.yaml": "maxRunningExecutions: [1"})


def test_an_invalid_field_is_named_in_the_config_error() -> None:
    with pytest.raises(InvalidConfig, match="maxRunningExecutions"):
        parse_operator_config({"config.yaml": "maxRunningExecutions: -1"})


def test_an_execution_of_a_deployment_is_labelled_with_its_name() -> None:
    assert deployment_label("web") == {LABEL_DEPLOYMENT: "web"}
    assert deployment_label("w" * 200) == {LABEL_DEPLOYMENT: label_value("w" * 200)}


@pytest.mark.parametrize("name", ["", None, "caf\u00e9", "-web", "web app", "a/b"])
def test_a_name_no_object_can_have_gets_no_label_rather_than_a_refused_write(name: str | None) -> None:
    assert deployment_label(name) == {}
