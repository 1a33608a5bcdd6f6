"""Validation of ValidatingAdmissionPolicy objects when they are stored: every CEL expression must
compile, or the write is refused with 422 Invalid naming the field, as kube-apiserver refuses it
(`spec.validations[0].expression: Invalid value: "...": compilation failed: ...`).

Only compilation is checked (celpy does not type-check), so an expression that compiles but reads a
field of the wrong type is still caught only when a write evaluates it, under failurePolicy.
"""

from __future__ import annotations

from typing import Any

from conveyor.sim.schema import cel
from conveyor.sim.schema import field_errors as fe

KEY = ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy")

# (list under spec, field of each item holding an expression), in the order kube reports them.
_EXPRESSIONS = (
    ("matchConditions", "expression"),
    ("variables", "expression"),
    ("validations", "expression"),
    ("validations", "messageExpression"),
    ("auditAnnotations", "valueExpression"),
)


def validate_policy_expressions(obj: dict[str, Any]) -> list[dict[str, str]]:
    """Causes for the policy's expressions that do not compile (none without celpy)."""
    if not cel.AVAILABLE:
        return []
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return []
    causes: list[dict[str, str]] = []
    for list_name, field in _EXPRESSIONS:
        items = spec.get(list_name)
        for index, item in enumerate(items if isinstance(items, list) else ()):
            expression = item.get(field) if isinstance(item, dict) else None
            if not isinstance(expression, str) or not expression.strip():
                continue
            error = cel.compilation_error(expression)
            if error is not None:
                causes.append(fe.invalid(f"spec.{list_name}[{index}].{field}", expression, error))
    return causes
