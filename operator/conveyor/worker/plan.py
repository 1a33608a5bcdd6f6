"""What an execution runs: its workflow's mapping and source, deployment, parameters and task defaults.

Read when the execution starts, not when the worker starts: the Deployment (or the operator's
configuration, for system-wide workflows) may have changed since, and the next execution must see the
change. Anything that makes the execution impossible to run is a `PlanError` whose message ends the
execution `failed` and says what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from conveyor.admission.parameters import InvalidParameters, validate_parameters
from conveyor.api.config import InvalidConfig, parse_operator_config
from conveyor.api.models import Deployment, ExecutionSpec, ParameterDeclaration
from conveyor.api.names import CONFIG_MAP_NAME
from conveyor.kube.api import KubeApi
from conveyor.workflows import DeploymentInfo, TaskDefaults
from conveyor.workflows.builtin import BUILTIN_WORKFLOWS


class PlanError(Exception):
    """The execution cannot run; the message says why, for `status.error`."""


@dataclass(frozen=True)
class ExecutionPlan:
    workflow: str
    mapping: str
    source_namespace: str
    source_config_map: str | None
    deployment: DeploymentInfo | None
    parameters: dict[str, Any] = field(default_factory=dict)
    defaults: TaskDefaults = field(default_factory=TaskDefaults)
    dry_run: bool = False
    secrets: tuple[str, ...] = ()
    """The values of parameters declared `secret: true`, as text: masked wherever the worker writes
    (log lines, Events, the final error), since workflow code and the framework may echo them."""


MIN_MASKED_LENGTH = 3
"""Shorter secret values are not masked: masking every "1" or "ok" would garble the log and hide
nothing worth hiding."""


def secret_values(declared: dict[str, ParameterDeclaration], parameters: dict[str, Any]) -> tuple[str, ...]:
    values = {str(parameters[name]) for name, declaration in declared.items()
              if declaration.secret and parameters.get(name) is not None}
    # Longest first, so a secret that contains another is masked whole.
    return tuple(sorted((v for v in values if len(v) >= MIN_MASKED_LENGTH), key=len, reverse=True))


def _effective_parameters(
    declared: dict[str, ParameterDeclaration], spec: ExecutionSpec, builtin: bool
) -> dict[str, Any]:
    """The values the function is called with. The operator validated them at admission; validating
    again is a fixed point, and catches a Deployment edited in between. Built-ins take what is given."""
    if builtin:
        return dict(spec.parameters)
    try:
        return validate_parameters(
            declared, spec.parameters, spec.allow_custom_parameters, workflow=spec.workflow
        )
    except InvalidParameters as error:
        raise PlanError(error.message) from None


def _spec(execution: dict[str, Any]) -> ExecutionSpec:
    try:
        return ExecutionSpec.model_validate(execution.get("spec") or {})
    except ValidationError as error:
        raise PlanError(f"invalid execution spec: {error.errors()[0].get('msg')}") from None


async def _deployment_plan(api: KubeApi, namespace: str, spec: ExecutionSpec) -> ExecutionPlan:
    assert spec.deployment is not None
    raw = await api.get_deployment(namespace, spec.deployment)
    if raw is None:
        raise PlanError(f"deployment {namespace}/{spec.deployment} not found")
    try:
        deployment = Deployment.model_validate(raw)
    except ValidationError as error:
        raise PlanError(f"deployment {namespace}/{spec.deployment} is invalid: {error}") from None
    declared = deployment.spec.workflows.get(spec.workflow)
    if declared is None and spec.workflow not in BUILTIN_WORKFLOWS:
        raise PlanError(f"deployment {namespace}/{spec.deployment} has no workflow {spec.workflow!r}")
    mapping = declared.mapping if declared is not None else BUILTIN_WORKFLOWS[spec.workflow]
    retries = deployment.spec.retries
    return ExecutionPlan(
        workflow=spec.workflow,
        mapping=mapping,
        source_namespace=namespace,
        source_config_map=deployment.spec.source.config_map if deployment.spec.source else None,
        deployment=DeploymentInfo(spec.deployment, namespace, dict(deployment.spec.inputs)),
        parameters=(parameters := _effective_parameters(
            declared.parameters if declared else {}, spec, declared is None)),
        defaults=TaskDefaults(retries=retries.task_retries, retry_interval=retries.retry_interval_seconds),
        dry_run=spec.dry_run,
        secrets=secret_values(declared.parameters if declared else {}, parameters),
    )


async def _system_plan(api: KubeApi, operator_namespace: str, spec: ExecutionSpec) -> ExecutionPlan:
    config_map = await api.get_config_map(operator_namespace, CONFIG_MAP_NAME)
    try:
        config = parse_operator_config((config_map or {}).get("data"))
    except InvalidConfig as error:
        raise PlanError(f"operator configuration {operator_namespace}/{CONFIG_MAP_NAME}: {error}") from None
    declared = config.system_workflows.get(spec.workflow)
    if declared is None and spec.workflow not in BUILTIN_WORKFLOWS:
        raise PlanError(f"no system-wide workflow {spec.workflow!r} (built-in or in {CONFIG_MAP_NAME})")
    return ExecutionPlan(
        workflow=spec.workflow,
        mapping=declared.mapping if declared is not None else BUILTIN_WORKFLOWS[spec.workflow],
        source_namespace=operator_namespace,
        source_config_map=declared.source.config_map if declared is not None and declared.source else None,
        deployment=None,
        parameters=(parameters := _effective_parameters(
            declared.parameters if declared else {}, spec, declared is None)),
        dry_run=spec.dry_run,
        secrets=secret_values(declared.parameters if declared else {}, parameters),
    )


async def plan_execution(api: KubeApi, execution: dict[str, Any], operator_namespace: str) -> ExecutionPlan:
    """The plan of `execution` as the cluster says now; PlanError when it cannot run."""
    spec = _spec(execution)
    namespace = (execution.get("metadata") or {}).get("namespace", "")
    if spec.deployment is not None:
        return await _deployment_plan(api, namespace, spec)
    return await _system_plan(api, operator_namespace, spec)
