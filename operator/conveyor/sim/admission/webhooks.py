"""Validating admission webhooks: every ValidatingWebhookConfiguration webhook that matches a write
is called, in parallel, and any of them can refuse it, as kube-apiserver's validating dispatcher
does.

What must hold:
- Matching (matching, webhook_conditions) is decided for every webhook before any is
  called; a matchCondition error under failurePolicy Fail refuses the write without calls.
- A dry-run write is never sent to a webhook that may have side effects: one whose sideEffects is
  not None or NoneOnDryRun refuses the write (400, whatever its failurePolicy).
- A call that fails (unreachable, TLS, timeout, bad answer, uid mismatch) is skipped under
  failurePolicy Ignore and refuses the write under Fail with 500 InternalError,
  `Internal error occurred: failed calling webhook "<name>": <why>`.
- A webhook that answers allowed=false refuses the write with its own Status (webhook_review.denial).
- Warnings of every webhook that answered are added to the write's warnings, refused or not (the
  server sends them with the error too, as kube does). Of several refusals, the first in
  configuration-name then webhook order is returned (kube returns whichever finished first; the
  sim stays deterministic).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conveyor.sim.admission.matching import ADMISSION_GROUP, MatchedAs, Subject, match
from conveyor.sim.admission.webhook_client import CallFailure, post_review
from conveyor.sim.admission.webhook_conditions import conditions_match
from conveyor.sim.admission.webhook_config import ValidatingWebhook, read_configurations
from conveyor.sim.admission.webhook_review import (
    InvalidResponse,
    build_request,
    build_review,
    denial,
    new_uid,
    verify_response,
)
from conveyor.sim.errors import StatusError, bad_request

if TYPE_CHECKING:
    from conveyor.sim.api import ApiService

log = logging.getLogger(__name__)

CONFIGURATIONS = "validatingwebhookconfigurations"
DRY_RUN_SAFE = ("None", "NoneOnDryRun")


@dataclass(frozen=True)
class Invocation:
    """A webhook to call, and what it sees the write at."""

    webhook: ValidatingWebhook
    matched: MatchedAs


@dataclass
class Outcome:
    warnings: list[str] = field(default_factory=list)
    error: StatusError | None = None


def _failed_call(name: str, why: str) -> StatusError:
    """kube's NewInternalError around ErrCallingWebhook."""
    text = f'failed calling webhook "{name}": {why}'
    return StatusError(500, "InternalError", f"Internal error occurred: {text}",
                       {"causes": [{"message": text}]})


async def _call(api: ApiService, invocation: Invocation, request: dict[str, Any], dry_run: bool) -> Outcome:
    hook = invocation.webhook
    try:
        if dry_run and hook.side_effects is None:
            raise CallFailure("Webhook SideEffects is nil")
        if dry_run and hook.side_effects not in DRY_RUN_SAFE:
            return Outcome(error=bad_request(f'admission webhook "{hook.name}" does not support dry run'))
        body = await post_review(api, hook, build_review(request))
        verdict = verify_response(request["uid"], body)
    except CallFailure as exc:
        why = str(exc)
    except InvalidResponse as exc:
        why = f"received invalid webhook response: {exc}"
    else:
        if verdict.allowed:
            return Outcome(verdict.warnings)
        return Outcome(verdict.warnings, denial(hook.name, verdict.status))
    if hook.fails_open:
        log.warning("Failed calling webhook, failing open %s: %s", hook.name, why)
        return Outcome()
    return Outcome(error=_failed_call(hook.name, why))


async def validate_with_webhooks(api: ApiService, subject: Subject, warnings: list[str]) -> None:
    """Calls every matching ValidatingWebhookConfiguration webhook; adds their warnings to
    `warnings`, raises StatusError when one denies (or fails under failurePolicy Fail)."""
    attrs = subject.attrs
    hooks = read_configurations(api.store.objects(ADMISSION_GROUP, CONFIGURATIONS))
    calls: list[tuple[Invocation, dict[str, Any]]] = []
    for hook in hooks:
        matched = match(hook.criteria, subject)
        if matched is None or not conditions_match(hook, attrs, matched):
            continue
        calls.append((Invocation(hook, matched), build_request(attrs, matched, new_uid())))
    if not calls:
        return
    outcomes = await asyncio.gather(*(_call(api, inv, req, attrs.dry_run) for inv, req in calls))
    warnings.extend(w for outcome in outcomes for w in outcome.warnings)
    for outcome in outcomes:
        if outcome.error is not None:
            raise outcome.error
