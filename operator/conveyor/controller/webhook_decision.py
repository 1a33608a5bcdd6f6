"""What the validating admission webhook refuses, and with which words: pure, no I/O.

The webhook is a courtesy, not a guard: it refuses up front what the admission loop would end
`failed` anyway, so `kubectl create` says why at once instead of leaving a failed object behind.
The controller stays the authority (DESIGN.md, "Resources"): the state the webhook judges by is read
a few milliseconds before the object exists, so a request it allows may still be rejected, and one
it refuses might have started a moment later. What must hold, so the two never disagree in words:

- every message is the one the controller would write into `status.error`: the Invalid texts come
  from `controller.requests.invalid_reason` and the rejection texts from the admission policy itself
  (`AdmissionPolicy.submit` on a policy rebuilt from the observed state), never from a copy;
- it only ever refuses a *new request*: a CREATE of an Execution without a status, which is not a
  restore of a snapshot (`conveyor.dev/restored-from`: the system worker recreating history), and a
  Deployment whose spec is new or changed. Writes by the operator and the workers (status, labels,
  finalizers, annotations) are never judged here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from conveyor.admission.parameters import InvalidParameters, validate_parameters
from conveyor.admission.policy import (
    AdmissionPolicy,
    DeploymentKey,
    ExecKey,
    Invalid,
    Phase,
    Reject,
    Request,
)
from conveyor.api.config import OperatorConfig
from conveyor.api.models import ConditionReason, Deployment
from conveyor.api.names import ANNOTATION_RESTORED_FROM
from conveyor.controller.requests import created_at, first_error, invalid_reason, phase_of, to_request

INVALID_CODE = 422
"""HTTP code of a refused invalid request (Unprocessable Entity, as the API server's own 422s)."""
REJECTED_CODE = 409
"""HTTP code of a request refused because of what runs now (Conflict: it conflicts with the state)."""


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused: the condition reason the controller would give, and its message."""

    reason: ConditionReason
    message: str

    @property
    def code(self) -> int:
        return INVALID_CODE if self.reason is ConditionReason.INVALID else REJECTED_CODE


@dataclass(frozen=True)
class ObservedState:
    """What the webhook read of the cluster for one request, as the admission policy needs it.

    `running`: running executions (the holders of Conveyor's Leases: what the leader's policy counts
    as running, admissions in flight included), each with its deployment (None: system-wide). It must
    hold every holder of the request's deployment Lease and of the system Lease; every watched one
    when the request is system-wide or `max_running` is set. `queued_system_wide`: the queued
    system-wide Execution objects (they block requests without `queue`). `max_running`: the cap of
    the operator's configuration (0: none).
    """

    running: Mapping[ExecKey, DeploymentKey | None] = field(default_factory=dict)
    queued_system_wide: Sequence[dict[str, Any]] = ()
    max_running: int = 0


def is_new_request(obj: Mapping[str, Any]) -> bool:
    """An Execution the admission loop has still to decide, and that a user (not a restore) made."""
    metadata = obj.get("metadata") or {}
    if ANNOTATION_RESTORED_FROM in (metadata.get("annotations") or {}):
        return False
    return phase_of(dict(obj)) is None


def needs_state(obj: Mapping[str, Any]) -> bool:
    """Whether the decision depends on what runs: only for a request that must start now or fail.
    A queued or scheduled request is never rejected, so the webhook need not read anything for it."""
    spec = obj.get("spec") or {}
    return not spec.get("queue") and not spec.get("scheduledTime")


def execution_refusal(
    obj: Mapping[str, Any],
    *,
    deployment: Mapping[str, Any] | None,
    config: OperatorConfig | None,
    operator_namespace: str,
    state: ObservedState,
    now: datetime,
) -> Refusal | None:
    """The refusal of a new Execution, or None to let it through.

    `deployment`: its Deployment as just read (None: absent or being deleted). `config`: the
    operator's configuration, None when it could not be read; a system-wide request is then let
    through, since its workflows are declared there. `state` matters only when `needs_state`.
    """
    body = dict(obj)
    if not (body.get("spec") or {}).get("deployment") and config is None:
        return None
    why = invalid_reason(body, dict(deployment) if deployment is not None else None,
                         operator_namespace, config or OperatorConfig())
    if why is not None:
        return Refusal(ConditionReason.INVALID, why)
    request = to_request(body, created_at(body, now))
    policy = _policy_of(state, request, now)
    for decision in policy.submit(request, now):
        if decision.key != request.key:
            continue
        if isinstance(decision, Invalid):
            return Refusal(ConditionReason.INVALID, decision.message)
        if isinstance(decision, Reject):
            return Refusal(ConditionReason.REJECTED, decision.message)
    return None


def _policy_of(state: ObservedState, request: Request, now: datetime) -> AdmissionPolicy:
    """The admission policy as the leader would hold it, as far as `state` tells: its running
    executions and queued system-wide ones. Rebuilding drains it, as the leader's is; so a queued
    system-wide execution with nothing left to wait for counts as started (it will be, at once)."""
    before = now - timedelta(microseconds=1)  # every observed execution came before the request
    records: list[tuple[Request, Phase | None]] = []
    for key, deployment in state.running.items():
        if key != request.key:
            records.append((Request(key=key, deployment=deployment, created=before), Phase.PENDING))
    for queued in state.queued_system_wide:
        queued_request = to_request(dict(queued), created_at(dict(queued), before))
        if queued_request.key != request.key and queued_request.key not in state.running:
            records.append((queued_request, Phase.QUEUED))
    policy, _ = AdmissionPolicy.from_records(records, state.max_running, now)
    return policy


def deployment_refusal(new: Mapping[str, Any], old: Mapping[str, Any] | None) -> Refusal | None:
    """The refusal of a Deployment's CREATE (`old` None) or UPDATE, or None.

    Refused: a spec the controller cannot read (every Execution of it would fail `Deployment <name>
    is invalid: ...`), and a declared default that breaks its own declaration (every Execution that
    leaves the parameter out would fail with that message). Only a new or changed spec is judged:
    the operator's finalizer and the status writes never are, nor is a Deployment being deleted, nor
    one recreated by a snapshot restore (its secret defaults are masked on purpose).
    """
    metadata = new.get("metadata") or {}
    if metadata.get("deletionTimestamp") or ANNOTATION_RESTORED_FROM in (metadata.get("annotations") or {}):
        return None
    if old is not None and (old.get("spec") or {}) == (new.get("spec") or {}):
        return None
    name = metadata.get("name") or metadata.get("generateName") or "?"
    try:
        parsed = Deployment.model_validate(dict(new))
    except ValidationError as error:
        return Refusal(ConditionReason.INVALID, f"Deployment {name} is invalid: {first_error(error)}")
    problems: list[str] = []
    for workflow, declaration in sorted(parsed.spec.workflows.items()):
        with_defaults = {
            parameter: declared
            for parameter, declared in declaration.parameters.items()
            if declared.has_default and not declared.secret
        }
        try:
            validate_parameters(with_defaults, {}, False, workflow=workflow)
        except InvalidParameters as error:
            problems.extend(error.problems)
    if problems:
        return Refusal(ConditionReason.INVALID, "\n".join(problems))
    return None
