"""matchConditions: CEL expressions that must all be true for a webhook to be called.

Evaluated with the sim's cel-python setup (the one CRD x-kubernetes-validations use), over the
variables kube gives them: `object`, `oldObject` (null when absent) and `request` (the
AdmissionRequest every admission check sees, cel_activation). What must hold, as in kube-apiserver:
- any condition false: the webhook is skipped, whatever else failed;
- otherwise, a condition that errors: failurePolicy Ignore skips the webhook, Fail refuses the write
  with 403 Forbidden naming the errors;
- all true: the webhook is called.
"""

from __future__ import annotations

from typing import Any

from conveyor.sim.admission.attributes import AdmissionAttributes
from conveyor.sim.admission.cel_activation import condition_activation, request_object
from conveyor.sim.admission.matching import MatchedAs
from conveyor.sim.admission.webhook_config import ValidatingWebhook
from conveyor.sim.errors import StatusError, group_resource
from conveyor.sim.schema import cel


def _forbidden(attrs: AdmissionAttributes, errors: list[str]) -> StatusError:
    what = group_resource(attrs.resource, attrs.group)
    named = f'{what} "{attrs.name}"' if attrs.name else what
    summary = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
    details: dict[str, Any] = {"kind": attrs.resource, **({"name": attrs.name} if attrs.name else {}),
                               **({"group": attrs.group} if attrs.group else {})}
    return StatusError(403, "Forbidden", f"{named} is forbidden: {summary}", details)


def conditions_match(hook: ValidatingWebhook, attrs: AdmissionAttributes, matched: MatchedAs) -> bool:
    """True when the webhook must be called; raises 403 when a condition errors under Fail."""
    if not hook.match_conditions or not cel.AVAILABLE:
        return True
    activation = condition_activation(attrs, matched, request_object(attrs, matched))
    errors: list[str] = []
    for condition in hook.match_conditions:
        try:
            result = cel.evaluate(condition.expression, activation)
        except cel.RuleError as exc:
            errors.append(f"expression '{condition.expression}' resulted in error: {exc}")
            continue
        if not isinstance(result, cel.celtypes.BoolType):
            errors.append(f"expression '{condition.expression}' must evaluate to a bool")
        elif not bool(result):
            return False
    if not errors:
        return True
    if hook.fails_open:
        return False
    raise _forbidden(attrs, errors)
