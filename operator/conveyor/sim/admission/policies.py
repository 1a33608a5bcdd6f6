"""ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1): CEL checks of every write that a
policy's `matchConstraints` and one of its bindings' `matchResources` select.

What must hold, as in kube-apiserver's validating policy dispatcher:
- a policy acts only through a ValidatingAdmissionPolicyBinding naming it (`spec.policyName`);
  policies are visited by name, each with its bindings by name, and every failing validation of
  every binding is collected; the first Deny decides the answer;
- `matchConditions` all true, or the binding does not apply; then `variables` in order (each may
  read the earlier ones), then `validations`: an expression must yield a bool, false fails it;
- a failed validation's message is `messageExpression` (when it yields a non-empty string), else
  `message`, else `failed expression: <expression>`;
- an expression that errors (evaluation or compilation, or a non-bool result) and a policy that
  cannot be configured follow `failurePolicy`: Fail (the default) denies, Ignore lets it through;
- `binding.spec.validationActions`: Deny refuses the request with the message
  `<resource>[.<group>] "<name>" is forbidden: ValidatingAdmissionPolicy '<policy>' with binding
  '<binding>' denied request: <message>` and the failing validation's `reason` with its HTTP code
  (Invalid/422 when unset, as kube's dispatcher defaults it); Warn adds the warning `Validation
  failed for ValidatingAdmissionPolicy '<policy>' with binding '<binding>': <message>`; Audit is
  ignored (the sim keeps no audit log). A binding without validationActions (kube refuses to store
  one) is treated as Deny, the behaviour before the field existed.

Limits: a policy with `spec.paramKind` is not supported (params are not fetched): it counts as a
configuration error, so it denies under failurePolicy Fail and is skipped under Ignore.
`auditAnnotations` are not evaluated. Expressions are compiled when a policy is stored (a syntax
error is a 422 there, see builtin_schema.admission_policies) but not type-checked, so a type error
shows only when a matching write evaluates it (under failurePolicy).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import celpy
from celpy import celtypes

from conveyor.sim.admission import cel_activation, matching
from conveyor.sim.admission.attributes import AdmissionAttributes
from conveyor.sim.errors import StatusError, group_resource
from conveyor.sim.schema import cel

if TYPE_CHECKING:
    from conveyor.sim.api import ApiService

GROUP = "admissionregistration.k8s.io"
POLICIES = "validatingadmissionpolicies"
BINDINGS = "validatingadmissionpolicybindings"

REASON_CODES = {"Unauthorized": 401, "Forbidden": 403, "Invalid": 422, "RequestEntityTooLarge": 413}
DEFAULT_REASON = "Invalid"



@dataclass(frozen=True)
class Failure:
    """One validation (or configuration) that did not pass, for one policy and binding."""

    policy: str
    binding: str
    message: str
    reason: str = DEFAULT_REASON


class ExpressionError(Exception):
    """An expression that does not compile, fails to evaluate, or yields the wrong type."""


def _error_text(exc: BaseException) -> str:
    """celpy's errors carry (message, cause, detail); keep the message, without its activation dump."""
    first = exc.args[0] if exc.args else exc
    text = str(first)
    return text.split(" (in activation", 1)[0]


def evaluate(expression: str, activation: dict[str, Any]) -> Any:
    """The CEL value of `expression`, compiled once by the sim's CEL cache (shared with CRD rules)."""
    try:
        return cel.evaluate(expression, activation)
    except cel.RuleError as exc:
        raise ExpressionError(f"expression '{expression}' resulted in error: {_error_text(exc)}") from exc


def _truth(expression: str, activation: dict[str, Any]) -> bool:
    result = evaluate(expression, activation)
    if not isinstance(result, celtypes.BoolType | bool):
        raise ExpressionError(
            f"expression '{expression}' resulted in error: expected bool, got {type(result).__name__}"
        )
    return bool(result)


def _variables(spec: dict[str, Any], shared: dict[str, Any]) -> dict[str, Any]:
    """The policy's activation with `variables`; a variable that errors fails only what reads it."""
    values: dict[str, Any] = {}
    act = shared
    for variable in spec.get("variables") or ():
        name = variable.get("name") or ""
        try:
            values[name] = evaluate(variable.get("expression") or "", act)
        except ExpressionError as exc:
            values[name] = celpy.CELEvalError(str(exc))
        act = cel_activation.with_variables(shared, values)
    return act


def _message(validation: dict[str, Any], activation: dict[str, Any]) -> str:
    if validation.get("messageExpression"):
        try:
            text = evaluate(validation["messageExpression"], activation)
        except ExpressionError:
            text = None
        if isinstance(text, str) and text.strip():
            return str(text)
    return validation.get("message") or f"failed expression: {(validation.get('expression') or '').strip()}"


def _applies(spec: dict[str, Any], activation: dict[str, Any]) -> bool:
    """matchConditions, in order; the first false one excludes the request."""
    for condition in spec.get("matchConditions") or ():
        if not _truth(condition.get("expression") or "", activation):
            return False
    return True


def evaluate_policy(
    policy: dict[str, Any], binding: dict[str, Any], shared: dict[str, Any]
) -> list[Failure]:
    """The failures of one policy through one binding whose match already holds (pure)."""
    spec = policy.get("spec") or {}
    names = (policy["metadata"]["name"], binding["metadata"]["name"])
    fail_closed = spec.get("failurePolicy", "Fail") != "Ignore"
    if spec.get("paramKind"):
        message = "failed to configure binding: paramKind is not supported by the local control plane"
        return [Failure(*names, message)] if fail_closed else []
    try:
        if not _applies(spec, shared):
            return []
    except ExpressionError as exc:
        return [Failure(*names, str(exc))] if fail_closed else []
    activation = _variables(spec, shared)
    failures: list[Failure] = []
    for validation in spec.get("validations") or ():
        try:
            if _truth(validation.get("expression") or "", activation):
                continue
        except ExpressionError as exc:
            if fail_closed:
                failures.append(Failure(*names, str(exc)))
            continue
        failures.append(
            Failure(*names, _message(validation, activation), validation.get("reason") or DEFAULT_REASON)
        )
    return failures


def denial(attrs: AdmissionAttributes, failure: Failure) -> StatusError:
    """kube's answer to a Deny: admission.NewForbidden's wording, the validation's reason and code."""
    message = (
        f"ValidatingAdmissionPolicy '{failure.policy}' with binding '{failure.binding}' "
        f"denied request: {failure.message}"
    )
    name = attrs.name or _object_name(attrs)
    what = group_resource(attrs.resource, attrs.group)
    text = f'{what} "{name}" is forbidden: {message}' if name else f"{what} is forbidden: {message}"
    details: dict[str, Any] = {"name": name, "kind": attrs.resource, "causes": [{"message": message}]}
    if attrs.group:
        details["group"] = attrs.group
    return StatusError(REASON_CODES.get(failure.reason, 422), failure.reason, text, details)


def _object_name(attrs: AdmissionAttributes) -> str:
    meta = (attrs.object or attrs.old_object or {}).get("metadata") or {}
    return str(meta.get("name") or meta.get("generateName") or "")


def warning(failure: Failure) -> str:
    return (
        f"Validation failed for ValidatingAdmissionPolicy '{failure.policy}' with binding "
        f"'{failure.binding}': {failure.message}"
    )


def validate_with_policies(api: ApiService, subject: matching.Subject, warnings: list[str]) -> None:
    """Runs every bound policy that matches the write; adds Warn-action warnings to `warnings` (even
    when the write is then refused), raises the StatusError of the first Deny."""
    bindings = api.store.objects(GROUP, BINDINGS)
    if not bindings:
        return
    attrs = subject.attrs
    by_policy: dict[str, list[dict[str, Any]]] = {}
    for binding in bindings:
        by_policy.setdefault((binding.get("spec") or {}).get("policyName") or "", []).append(binding)
    activations: dict[matching.MatchedAs, dict[str, Any]] = {}
    denied: list[Failure] = []
    for policy_name in sorted(by_policy):
        policy = api.store.get(GROUP, POLICIES, "", policy_name)
        if policy is None:
            continue
        spec = policy.get("spec") or {}
        matched = matching.match(matching.read_match_resources(spec.get("matchConstraints")), subject)
        if matched is None:
            continue
        for binding in by_policy[policy_name]:
            bspec = binding.get("spec") or {}
            if bspec.get("matchResources") is not None and matching.match(
                matching.read_match_resources(bspec["matchResources"]), subject, rules_required=False
            ) is None:
                continue
            shared = activations.get(matched)
            if shared is None:
                shared = cel_activation.policy_activation(attrs, matched, subject.namespace)
                activations[matched] = shared
            actions = bspec.get("validationActions") or ["Deny"]
            for failure in evaluate_policy(policy, binding, shared):
                if "Deny" in actions:
                    denied.append(failure)
                if "Warn" in actions:
                    warnings.append(warning(failure))
    if denied:
        raise denial(attrs, denied[0])
