"""Execution parameters against a workflow's declared parameters: pure, no I/O.

`validate_parameters` returns the *effective* parameters (what the workflow function is called
with) or raises `InvalidParameters` naming every parameter at fault, in one message, so a user fixes
everything in one round. The wording follows the reference system's (`cfy executions start`), one
line per kind of fault, in this order: undeclared parameters, wrong types, unmet constraints,
missing parameters.

Rules (DESIGN.md, "Resources"):
- A parameter the workflow does not declare is refused unless `allowCustomParameters`; then it is
  passed through unchanged.
- A declared parameter that is not given takes its default; without a default it is missing when
  required (`required`, or by default when it has no default), otherwise left out.
- `null` means "not given", as in Kubernetes: a given null takes the default, or is missing.
- Values are converted to the declared type where a string spells it: "true"/"false" (any case) for
  boolean; "42" for integer; "4.2" or "42" for float; a JSON array / object for list / dict (so the
  CLI's `-p key=value` can give any type). Integers are accepted as floats (42 → 42.0) and integral
  floats as integers (42.0 → 42); nothing is truncated or rounded, and a number is never a string.
- Defaults go through the same conversion and checks: the workflow never sees a value that breaks
  its declaration, whoever wrote it.
- Constraints are checked on the converted value: validValues, inRange (numbers), pattern (the whole
  string must match, Python syntax), minLength / maxLength (strings, lists, dicts).

The effective parameters are a fixed point: validating them again returns them unchanged (a resumed
or re-admitted execution gets the same values). Values of `secret` parameters never appear in
messages; `redact` masks them for status, events and logs.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from conveyor.api.models import ParameterConstraints, ParameterDeclaration, ParameterType

REDACTED = "******"
_INTEGER = re.compile(r"^[+-]?\d+$")
_SHOWN_CHARS = 60


class InvalidParameters(ValueError):
    """The given parameters do not fit the declaration; `problems` has one line per kind of fault."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))

    @property
    def message(self) -> str:
        return str(self)


class _NotConvertible(Exception):
    pass


def _kind(value: Any) -> str:
    """The parameter-type word for a value, as users see the types in declarations."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "dict"
    return type(value).__name__


def _show(value: Any) -> str:
    """A short rendering of `value` for a message; one too large to render (an integer of thousands of
    digits, nesting deeper than the interpreter's recursion limit) is named by its kind instead."""
    try:
        text = json.dumps(value, default=str, ensure_ascii=False)
    except (ValueError, RecursionError):
        return f"a {_kind(value)} too large to show"
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


def _convert(value: Any, declared: ParameterType | None) -> Any:
    """`value` as the declared type, or _NotConvertible. Idempotent: a converted value converts to itself."""
    if declared is None:
        return value
    if declared is ParameterType.BOOLEAN:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
    elif declared is ParameterType.INTEGER:
        if isinstance(value, bool):
            raise _NotConvertible
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and _INTEGER.match(value.strip()):
            try:
                return int(value.strip())
            except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
                raise _NotConvertible from None
    elif declared is ParameterType.FLOAT:
        if isinstance(value, bool):
            raise _NotConvertible
        if isinstance(value, int | float):
            try:
                return float(value)
            except OverflowError:  # an integer beyond the float range is not a float
                raise _NotConvertible from None
        if isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                raise _NotConvertible from None
            if math.isfinite(number):
                return number
    elif declared is ParameterType.STRING:
        if isinstance(value, str):
            return value
    elif declared in (ParameterType.LIST, ParameterType.DICT):
        wanted: type = list if declared is ParameterType.LIST else dict
        if isinstance(value, wanted):
            return value
        if isinstance(value, str):
            try:
                decoded = json.loads(value)
            except (ValueError, RecursionError):  # not JSON, or nested deeper than can be decoded
                raise _NotConvertible from None
            if isinstance(decoded, wanted):
                return decoded
    raise _NotConvertible


def _same(a: Any, b: Any) -> bool:
    """Equality that does not take True for 1 (Python does)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)


def _violations(value: Any, constraints: ParameterConstraints, secret: bool) -> list[str]:
    """What `value` breaks in `constraints`, as phrases; empty when it meets them all."""
    shown = "the value" if secret else _show(value)
    found: list[str] = []
    if constraints.valid_values is not None and not any(_same(value, v) for v in constraints.valid_values):
        found.append(f"{shown} is not one of {_show(constraints.valid_values)}")
    bounds = constraints.in_range
    if bounds is not None and (bounds.min is not None or bounds.max is not None):
        if isinstance(value, bool) or not isinstance(value, int | float):
            found.append(f"{shown} is not a number, so it cannot be in range")
        elif bounds.min is not None and value < bounds.min:
            found.append(f"{shown} is less than the minimum {_show(bounds.min)}")
        elif bounds.max is not None and value > bounds.max:
            found.append(f"{shown} is greater than the maximum {_show(bounds.max)}")
    if constraints.pattern is not None:
        try:
            pattern = re.compile(constraints.pattern)
        except re.error as error:  # the declaration is at fault, but the user must hear of it
            found.append(f"the pattern {_show(constraints.pattern)} is not a regular expression: {error}")
        else:
            if not isinstance(value, str) or not pattern.fullmatch(value):
                found.append(f"{shown} does not match the pattern {_show(constraints.pattern)}")
    if constraints.min_length is not None or constraints.max_length is not None:
        if not isinstance(value, str | list | dict):
            found.append(f"{shown} has no length (only strings, lists and dicts do)")
        elif constraints.min_length is not None and len(value) < constraints.min_length:
            found.append(f"{shown} is shorter than the minimum length {constraints.min_length}")
        elif constraints.max_length is not None and len(value) > constraints.max_length:
            found.append(f"{shown} is longer than the maximum length {constraints.max_length}")
    return found


def _workflow_words(workflow: str | None) -> str:
    return f'Workflow "{workflow}"' if workflow else "The workflow"


def _names(names: list[str]) -> str:
    return ", ".join(names)


def validate_parameters(
    declared: Mapping[str, ParameterDeclaration],
    given: Mapping[str, Any],
    allow_custom: bool,
    *,
    workflow: str | None = None,
) -> dict[str, Any]:
    """The effective parameters of an execution, or InvalidParameters naming every fault.

    `workflow` only names the workflow in messages. Cost: linear in the number of parameters.
    """
    undeclared = sorted(name for name in given if name not in declared)
    wrong_types: list[str] = []
    unmet: list[str] = []
    missing: list[str] = []
    effective: dict[str, Any] = {}

    for name, declaration in declared.items():
        if given.get(name) is not None:
            value, from_default = given[name], False
        elif declaration.has_default:
            value, from_default = declaration.default, True
        else:
            if declaration.is_required:
                missing.append(name)
            continue
        if value is None:  # a null default: "no value" is what the author asked for
            effective[name] = None
            continue
        try:
            value = _convert(value, declaration.type)
        except _NotConvertible:
            got = f"a {_kind(value)}" if declaration.secret else f"{_show(value)} ({_kind(value)})"
            where = "its default is" if from_default else "got"
            wrong_types.append(f'Parameter "{name}" must be of type {declaration.type}, {where} {got}')
            continue
        if declaration.constraints is not None:
            found = _violations(value, declaration.constraints, declaration.secret)
            if found:
                where = " (its default)" if from_default else ""
                unmet.append(f'Parameter "{name}"{where} does not meet its constraints: ' + "; ".join(found))
                continue
        effective[name] = value

    problems: list[str] = []
    if undeclared and not allow_custom:
        problems.append(
            f"{_workflow_words(workflow)} does not have the following parameters declared: "
            f"{_names(undeclared)}. Remove these parameters or set allowCustomParameters: true"
        )
    problems.extend(wrong_types)
    problems.extend(unmet)
    if missing:
        problems.append(
            f"{_workflow_words(workflow)} must be provided with the following parameters to execute: "
            f"{_names(sorted(missing))}"
        )
    if problems:
        raise InvalidParameters(problems)

    for name in undeclared:
        effective[name] = given[name]
    return effective


def redact(declared: Mapping[str, ParameterDeclaration], params: Mapping[str, Any]) -> dict[str, Any]:
    """`params` with the values of secret parameters replaced by a mask (null stays null)."""
    return {
        name: REDACTED if name in declared and declared[name].secret and value is not None else value
        for name, value in params.items()
    }
