"""From an Execution object to what admission needs: its policy Request, or why it is invalid.

Pure. What must hold: an execution is checked against what it asks to run before the policy sees it
(unknown deployment or workflow, undeclared or ill-typed parameters, a system-wide request outside
the operator's namespace), so the policy only ever weighs requests that could run.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError

from conveyor.admission.parameters import InvalidParameters, validate_parameters
from conveyor.admission.policy import DeploymentKey, ExecKey, Phase, Request
from conveyor.api.config import OperatorConfig
from conveyor.api.models import Deployment, Execution, ExecutionPhase, ParameterDeclaration
from conveyor.kube.times import parse_time

BUILTIN_DEPLOYMENT_WORKFLOWS = frozenset({"execute_operation"})
"""Workflows every Deployment offers without declaring them; they take any parameters."""
BUILTIN_SYSTEM_WORKFLOWS = frozenset({"create_snapshot", "restore_snapshot"})
"""System-wide workflows every operator offers (DESIGN.md, "Workflow framework")."""


def exec_key(obj: dict[str, Any]) -> ExecKey:
    metadata = obj["metadata"]
    return ExecKey(metadata["namespace"], metadata["name"])


def phase_of(obj: dict[str, Any]) -> ExecutionPhase | None:
    raw = (obj.get("status") or {}).get("phase")
    try:
        return ExecutionPhase(raw) if raw else None
    except ValueError:
        return None


def policy_phase(phase: ExecutionPhase | None) -> Phase | None:
    return None if phase is None else Phase(phase.value)


def created_at(obj: dict[str, Any], observed: datetime) -> datetime:
    """The creation order admission uses: `status.createdAt` once an admitter wrote it (microsecond
    precision, the same for every later admitter and after restarts), else when this admitter first
    saw the request (watch events arrive in creation order; creationTimestamp has only seconds)."""
    written = parse_time((obj.get("status") or {}).get("createdAt"))
    return written or observed


def to_request(obj: dict[str, Any], created: datetime) -> Request:
    """The policy's view of an Execution; tolerant of a spec the CRD should have refused."""
    spec = obj.get("spec") or {}
    key = exec_key(obj)
    deployment = spec.get("deployment")
    return Request(
        key=key,
        deployment=DeploymentKey(key.namespace, deployment) if deployment else None,
        created=created,
        force=bool(spec.get("force")),
        queue=bool(spec.get("queue")),
        dry_run=bool(spec.get("dryRun")),
        scheduled_time=parse_time(spec.get("scheduledTime")),
        submitted=parse_time((obj.get("metadata") or {}).get("creationTimestamp")),
    )


def unknown_deployment(namespace: str, name: str) -> str:
    return f"Deployment {name} does not exist in namespace {namespace}"


def unknown_workflow(workflow: str, where: str, declared: list[str]) -> str:
    offered = ", ".join(sorted(declared)) or "none"
    return f"Workflow {workflow} is not declared by {where} (declared: {offered})"


def system_wide_outside(namespace: str, operator_namespace: str) -> str:
    return (
        f"A system-wide execution (no deployment) may only be created in the operator's namespace "
        f"{operator_namespace}, not in {namespace}"
    )


def first_error(error: ValidationError) -> str:
    """The first problem, with the field it is in (`spec.scheduledTime: ...`), as the API server's
    422 messages name theirs; values the CRD schema lets through can still fail the model."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    return f"{where}: {first['msg']}" if where else str(first["msg"])


def admissible_deployment(deployment: dict[str, Any] | None) -> dict[str, Any] | None:
    """The Deployment as admission sees it: one being deleted takes no new executions, so it counts
    as absent (the controller and the webhook must agree on this)."""
    if deployment is None or (deployment.get("metadata") or {}).get("deletionTimestamp"):
        return None
    return deployment


def invalid_reason(
    obj: dict[str, Any], deployment: dict[str, Any] | None, operator_namespace: str, config: OperatorConfig
) -> str | None:
    """Why the execution may not be admitted at all, or None. `deployment` is its Deployment object
    as just read (None: it does not exist)."""
    try:
        execution = Execution.model_validate(obj)
    except ValidationError as error:
        return f"Invalid Execution spec: {first_error(error)}"
    spec = execution.spec
    namespace = execution.metadata["namespace"]
    declared: dict[str, ParameterDeclaration]
    if spec.deployment is None:
        if namespace != operator_namespace:
            return system_wide_outside(namespace, operator_namespace)
        if spec.workflow in BUILTIN_SYSTEM_WORKFLOWS:
            return None
        system = config.system_workflows.get(spec.workflow)
        if system is None:
            names = list(BUILTIN_SYSTEM_WORKFLOWS | set(config.system_workflows))
            return unknown_workflow(spec.workflow, "the operator's system workflows", names)
        declared = system.parameters
    else:
        if deployment is None:
            return unknown_deployment(namespace, spec.deployment)
        try:
            parsed = Deployment.model_validate(deployment)
        except ValidationError as error:
            return f"Deployment {spec.deployment} is invalid: {first_error(error)}"
        if spec.workflow in BUILTIN_DEPLOYMENT_WORKFLOWS and spec.workflow not in parsed.spec.workflows:
            return None
        workflow = parsed.spec.workflows.get(spec.workflow)
        if workflow is None:
            names = list(parsed.spec.workflows) + list(BUILTIN_DEPLOYMENT_WORKFLOWS)
            return unknown_workflow(spec.workflow, f"deployment {spec.deployment}", names)
        declared = workflow.parameters
    try:
        validate_parameters(declared, spec.parameters, spec.allow_custom_parameters, workflow=spec.workflow)
    except InvalidParameters as error:
        return error.message
    return None
