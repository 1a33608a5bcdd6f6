"""The Conveyor API: pydantic models of Deployment and Execution, the single source of truth.

The CRDs in `crds/` are generated from these models (`conveyor crds`), so a field, its default, its
description and its validation are written once, here. Python names are snake_case; the wire names
are camelCase aliases (`dry_run` is `dryRun` in YAML). Parse objects from the API with
`Execution.model_validate(obj)` and write them with `to_wire(model)`.

Two rules hold for the CRD generation to stay structural (see `conveyor.api.crds`):
- a free-form value is typed `dict[str, Any]` (an object of anything) or `Any` (any JSON value);
- a model that must keep unknown keys (a Kubernetes EnvVar) says `extra="allow"`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import AliasGenerator, BaseModel, ConfigDict, Field, JsonValue
from pydantic.alias_generators import to_camel


class ApiModel(BaseModel):
    """Base of every API model: camelCase on the wire, either spelling accepted in Python."""

    model_config = ConfigDict(
        alias_generator=AliasGenerator(alias=to_camel),
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        use_enum_values=False,
    )


def to_wire(model: BaseModel) -> dict[str, Any]:
    """The JSON-ready dict of a model as the API stores it: camelCase, unset optional fields left out."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


# --------------------------------------------------------------------------------------------------
# Phases and conditions


class ExecutionPhase(StrEnum):
    """The ten statuses of an Execution (DESIGN.md, "Resources"); names as the reference system's."""

    PENDING = "pending"
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    STARTED = "started"
    CANCELLING = "cancelling"
    FORCE_CANCELLING = "force_cancelling"
    KILL_CANCELLING = "kill_cancelling"
    TERMINATED = "terminated"
    FAILED = "failed"
    CANCELLED = "cancelled"


RUNNING_PHASES: frozenset[ExecutionPhase] = frozenset(
    {
        ExecutionPhase.PENDING,
        ExecutionPhase.STARTED,
        ExecutionPhase.CANCELLING,
        ExecutionPhase.FORCE_CANCELLING,
        ExecutionPhase.KILL_CANCELLING,
    }
)
"""Admitted and not yet final: these hold a lease and count against S1, S2 and the cap."""
WAITING_PHASES: frozenset[ExecutionPhase] = frozenset({ExecutionPhase.QUEUED, ExecutionPhase.SCHEDULED})
"""Not admitted yet; cancelling one ends it `cancelled` at once (L3)."""
FINAL_PHASES: frozenset[ExecutionPhase] = frozenset(
    {ExecutionPhase.TERMINATED, ExecutionPhase.FAILED, ExecutionPhase.CANCELLED}
)
"""Final: never change again; a resume starts a new attempt."""


class CancelMode(StrEnum):
    """How hard to cancel: each mode may escalate the previous one, never the reverse."""

    GRACEFUL = "graceful"
    FORCE = "force"
    KILL = "kill"


_CONDITIONS_LIST_MAP: dict[str, JsonValue] = {
    "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": ["type"],
}
"""Conditions are keyed by type (at most one of each), as Kubernetes lists of conditions are."""


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class ConditionType(StrEnum):
    """Condition types on an Execution; `kubectl wait --for=condition=Succeeded` relies on these."""

    ADMITTED = "Admitted"
    SUCCEEDED = "Succeeded"


class ConditionReason(StrEnum):
    """Reasons on Execution conditions; the same words are the reasons of its Events."""

    QUEUED = "Queued"
    SCHEDULED = "Scheduled"
    ADMITTED = "Admitted"
    STARTED = "Started"
    REJECTED = "Rejected"
    INVALID = "Invalid"
    CANCELLING = "Cancelling"
    CANCELLED = "Cancelled"
    SUCCEEDED = "Succeeded"
    WORKFLOW_FAILED = "WorkflowFailed"
    WORKER_LOST = "WorkerLost"
    WORKER_UNAVAILABLE = "WorkerUnavailable"


class Condition(ApiModel):
    """A Kubernetes condition (the shape of metav1.Condition), so generic tooling understands it."""

    type: str = Field(description="Type of the condition, such as Admitted or Succeeded.")
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str = Field(min_length=1, description="One CamelCase word saying why the condition is so.")
    message: str = Field(default="", description="What happened, for humans.")
    last_transition_time: datetime = Field(description="When the status last changed.")
    observed_generation: int | None = Field(
        default=None, ge=0, description="The metadata.generation this condition was set for."
    )


# --------------------------------------------------------------------------------------------------
# Deployment


class ParameterType(StrEnum):
    """Declared parameter types; a given value is converted to its type when it can be (strings)."""

    INTEGER = "integer"
    FLOAT = "float"
    BOOLEAN = "boolean"
    STRING = "string"
    LIST = "list"
    DICT = "dict"


class ValueRange(ApiModel):
    """Inclusive bounds; either may be left out."""

    min: float | None = Field(default=None, description="Smallest accepted value (inclusive).")
    max: float | None = Field(default=None, description="Largest accepted value (inclusive).")


class ParameterConstraints(ApiModel):
    """Constraints on a parameter's value, all of which must hold (the reference system's names)."""

    valid_values: list[Any] | None = Field(default=None, description="The value must be one of these.")
    in_range: ValueRange | None = Field(default=None, description="A number within these bounds.")
    pattern: str | None = Field(
        default=None, description="A regular expression (Python syntax) the whole string must match."
    )
    min_length: int | None = Field(
        default=None, ge=0, description="Shortest accepted length of a string, list or dict."
    )
    max_length: int | None = Field(
        default=None, ge=0, description="Longest accepted length of a string, list or dict."
    )


class ParameterDeclaration(ApiModel):
    """One declared parameter of a workflow.

    A parameter is required when `required` says so, or, when `required` is left out, when it has
    no `default` (the reference system's rule). `default: null` is a default (the value None).
    """

    type: ParameterType | None = Field(
        default=None, description="integer, float, boolean, string, list or dict; left out: any value."
    )
    default: Any = Field(default=None, description="Value used when the execution does not give one.")
    description: str | None = Field(default=None, description="What the parameter means, for humans.")
    required: bool | None = Field(
        default=None,
        description="Whether an execution must give it; left out: required unless it has a default.",
    )
    secret: bool = Field(default=False, description="Masked in the Execution's status, events and logs.")
    constraints: ParameterConstraints | None = Field(default=None, description="Rules the value must meet.")

    @property
    def has_default(self) -> bool:
        """Whether the declaration gives a default (possibly null), as opposed to leaving it out."""
        return "default" in self.model_fields_set

    @property
    def is_required(self) -> bool:
        return self.required if self.required is not None else not self.has_default


WORKFLOW_MAPPING_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$"


class WorkflowDeclaration(ApiModel):
    """A workflow a Deployment offers: the Python function that runs it, and its parameters."""

    mapping: str = Field(
        pattern=WORKFLOW_MAPPING_PATTERN,
        description='The workflow function as "module.function", importable from the source or the image.',
    )
    description: str | None = Field(default=None, description="What the workflow does, for humans.")
    parameters: dict[str, ParameterDeclaration] = Field(
        default_factory=dict, description="Declared parameters by name."
    )


class SourceSpec(ApiModel):
    """Where workflow code comes from besides the worker image."""

    config_map: str | None = Field(
        default=None,
        description="A ConfigMap in the same namespace whose keys are Python files put on the import path.",
    )


class EnvVar(ApiModel):
    """A container environment variable, kept as Kubernetes writes it (value or valueFrom)."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1, description="Name of the environment variable.")
    value: str | None = Field(default=None, description="Its value; or use valueFrom.")


class ResourceRequirements(ApiModel):
    """The worker container's resources, as a Kubernetes ResourceRequirements."""

    model_config = ConfigDict(extra="allow")

    limits: dict[str, int | str] | None = Field(default=None, description="Resource limits, e.g. cpu: 500m.")
    requests: dict[str, int | str] | None = Field(default=None, description="Resource requests.")


DEFAULT_IDLE_TIMEOUT_SECONDS = 300


class WorkerSpec(ApiModel):
    """How the deployment's worker Job runs."""

    image: str | None = Field(default=None, description="Worker image; left out: the operator's workerImage.")
    idle_timeout_seconds: int = Field(
        default=DEFAULT_IDLE_TIMEOUT_SECONDS,
        ge=0,
        description="The worker ends after this many seconds with nothing to run.",
    )
    service_account_name: str | None = Field(default=None, description="Service account of the worker pod.")
    env: list[EnvVar] | None = Field(default=None, description="Extra environment variables of the worker.")
    resources: ResourceRequirements | None = Field(default=None, description="Worker container resources.")


DEFAULT_TASK_RETRIES = 3
DEFAULT_RETRY_INTERVAL_SECONDS = 15


class RetryPolicy(ApiModel):
    """Defaults for task retries in this deployment's workflows; a task may set its own."""

    task_retries: int = Field(
        default=DEFAULT_TASK_RETRIES,
        ge=-1,
        description="How many times a failed task is retried after a recoverable error; -1: no limit.",
    )
    retry_interval_seconds: float = Field(
        default=DEFAULT_RETRY_INTERVAL_SECONDS, ge=0, description="Seconds between two attempts of a task."
    )


class DeploymentSpec(ApiModel):
    """What a Deployment declares: its inputs, its workflows, and how its worker runs them."""

    inputs: dict[str, Any] = Field(
        default_factory=dict, description="Free-form inputs, available to workflows as ctx.inputs."
    )
    source: SourceSpec | None = Field(default=None, description="Where workflow code comes from.")
    worker: WorkerSpec = Field(default_factory=WorkerSpec, description="The worker Job's settings.")
    retries: RetryPolicy = Field(default_factory=RetryPolicy, description="Task retry defaults.")
    workflows: dict[str, WorkflowDeclaration] = Field(
        default_factory=dict, description="The workflows this deployment offers, by name."
    )


class DeploymentPhase(StrEnum):
    READY = "Ready"
    DELETING = "Deleting"


class DeploymentStatus(ApiModel):
    """What the operator reports about a Deployment."""

    phase: DeploymentPhase | None = Field(
        default=None, description="Ready, or Deleting (waiting for its executions to end)."
    )
    message: str | None = Field(default=None, description="Why the deployment is in this phase.")
    conditions: list[Condition] | None = Field(
        default=None, description="Conditions of the deployment.", json_schema_extra=_CONDITIONS_LIST_MAP
    )
    workflows: list[str] | None = Field(default=None, description="The declared workflow names.")
    running: int | None = Field(default=None, ge=0, description="How many executions run now.")
    queued: int | None = Field(default=None, ge=0, description="How many executions wait in the queue.")
    worker: str | None = Field(default=None, description="The worker Job, while there is one.")
    observed_generation: int | None = Field(
        default=None, ge=0, description="The metadata.generation this status was computed for."
    )


# --------------------------------------------------------------------------------------------------
# Execution

# `queue` with `force` or `dryRun` is invalid (DESIGN.md). The API server refuses it with the words
# of conveyor.admission.messages.queue_combined_with, which the operator uses for objects that did not
# pass through this rule; keep the two in step.
_FORCE = "(has(self.force) && self.force)"
_DRY_RUN = "(has(self.dryRun) && self.dryRun)"
_QUEUE_CONFLICT_RULE = f"!(has(self.queue) && self.queue && ({_FORCE} || {_DRY_RUN}))"
_QUEUE_CONFLICT_REASON = ": a forced or dry-run execution starts now or fails, it never waits in the queue."
QUEUE_CONFLICT_MESSAGE = (
    "queue: true cannot be combined with force: true or dryRun: true" + _QUEUE_CONFLICT_REASON
)
"""The rule's fixed message, for API servers that do not evaluate messageExpression."""
_QUEUE_CONFLICT_MESSAGE_EXPRESSION = (
    '"queue: true cannot be combined with " + '
    f'({_FORCE} ? ({_DRY_RUN} ? "force: true and dryRun: true" : "force: true") : "dryRun: true")'
    f' + "{_QUEUE_CONFLICT_REASON}"'
)
_IMMUTABLE_TARGET_RULE = (
    "has(self.deployment) == has(oldSelf.deployment)"
    " && (!has(self.deployment) || self.deployment == oldSelf.deployment)"
    " && self.workflow == oldSelf.workflow"
)
IMMUTABLE_TARGET_MESSAGE = "deployment and workflow cannot be changed; create a new Execution"


class ExecutionSpec(ApiModel):
    """A request to run one workflow of one deployment (or a system-wide workflow)."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": _QUEUE_CONFLICT_RULE,
                    "message": QUEUE_CONFLICT_MESSAGE,
                    "messageExpression": _QUEUE_CONFLICT_MESSAGE_EXPRESSION,
                },
                {"rule": _IMMUTABLE_TARGET_RULE, "message": IMMUTABLE_TARGET_MESSAGE},
            ]
        }
    )

    deployment: str | None = Field(
        default=None,
        max_length=253,
        description="The Deployment in the same namespace; left out: a system-wide workflow.",
    )
    workflow: str = Field(min_length=1, description="The workflow to run.")
    parameters: dict[str, Any] = Field(default_factory=dict, description="Workflow parameters by name.")
    force: bool = Field(default=False, description="Run even if another execution of this deployment runs.")
    queue: bool = Field(
        default=False, description="Wait in the queue instead of failing when the execution cannot start now."
    )
    dry_run: bool = Field(
        default=False, description="Run the workflow but skip its operations, logging what would run."
    )
    allow_custom_parameters: bool = Field(
        default=False, description="Accept parameters the workflow does not declare."
    )
    scheduled_time: datetime | None = Field(
        default=None, description="RFC 3339 time to start at; the execution is scheduled until then."
    )
    cancel: CancelMode | None = Field(
        default=None, description="Set to graceful, force or kill to ask for cancellation."
    )

    @property
    def system_wide(self) -> bool:
        return self.deployment is None


class OperationsProgress(ApiModel):
    total: int = Field(default=0, ge=0, description="Operations in the workflow's task graph so far.")
    finished: int = Field(default=0, ge=0, description="Operations that have ended.")


class ExecutionStatus(ApiModel):
    """What the operator and the worker report about an Execution."""

    phase: ExecutionPhase | None = Field(default=None, description="The execution's status.")
    system_wide: bool | None = Field(default=None, description="Whether it runs a system-wide workflow.")
    error: str | None = Field(default=None, description="Why it failed or was rejected.")
    waiting_for: str | None = Field(
        default=None, description="While queued: the execution it waits for (namespace/name)."
    )
    created_at: datetime | None = Field(default=None, description="When the operator first saw the request.")
    admitted_at: datetime | None = Field(default=None, description="When it was admitted (pending).")
    started_at: datetime | None = Field(default=None, description="When a worker started it.")
    ended_at: datetime | None = Field(default=None, description="When it reached a final status.")
    worker: str | None = Field(default=None, description="The worker pod that runs it.")
    attempt: int | None = Field(default=None, ge=1, description="1, then one more for each resume.")
    resumable: bool | None = Field(
        default=None,
        description="Whether its workflow is declared @workflow(resumable=True); written by the worker.",
    )
    resume_token: str | None = Field(
        default=None, description="The conveyor.dev/resume annotation value last acted on."
    )
    succeeded_tasks: list[str] | None = Field(
        default=None, description="Tasks that succeeded in earlier attempts; a resume skips them."
    )
    operations: OperationsProgress | None = Field(default=None, description="Progress of the operations.")
    conditions: list[Condition] | None = Field(
        default=None, description="Admitted and Succeeded.", json_schema_extra=_CONDITIONS_LIST_MAP
    )
    observed_generation: int | None = Field(
        default=None, ge=0, description="The metadata.generation this status was written for."
    )


# --------------------------------------------------------------------------------------------------
# Whole objects, for reading what the API returns


class Deployment(ApiModel):
    api_version: Literal["conveyor.dev/v1alpha1"] = "conveyor.dev/v1alpha1"
    kind: Literal["Deployment"] = "Deployment"
    metadata: dict[str, Any] = Field(default_factory=dict)
    spec: DeploymentSpec
    status: DeploymentStatus | None = None


class Execution(ApiModel):
    api_version: Literal["conveyor.dev/v1alpha1"] = "conveyor.dev/v1alpha1"
    kind: Literal["Execution"] = "Execution"
    metadata: dict[str, Any] = Field(default_factory=dict)
    spec: ExecutionSpec
    status: ExecutionStatus | None = None
