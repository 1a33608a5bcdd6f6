"""x-kubernetes-validations: CEL rules evaluated with cel-python (`celpy`).

Programs are compiled once per rule text and shared by every schema that uses it. (celpy's
CompiledRunner would be five times faster, but it gets `false && <error>` wrong, which CEL defines
as false and every `has(x) && x...` rule relies on.) Transition rules
(those reading `oldSelf`) run only on updates, when the old value exists, as in kube-apiserver;
other rules are not evaluated on a value an update leaves unchanged (validation ratcheting).
If celpy is not installed, rules are not evaluated (`AVAILABLE` is False) rather than rejected.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from conveyor.sim.schema import field_errors as fe

try:
    import celpy
    from celpy import celtypes
    AVAILABLE = True
except ImportError:  # pragma: no cover - exercised only without the optional dependency
    AVAILABLE = False

_OLD_SELF = re.compile(r"\boldSelf\b")
_programs: dict[str, Any] = {}
_lock = threading.Lock()


class RuleError(Exception):
    """A rule that does not compile: reported as a cause instead of crashing the write."""


def _parse_error_text(exc: Exception) -> str:
    """kube's shape, `ERROR: <input>:line:column: Syntax error` and the source with a caret (celpy's
    column counts from 0, cel-go's from 1; celpy gives no reason)."""
    line, column = getattr(exc, "line", None), getattr(exc, "column", None)
    source = str(exc.args[0] if exc.args else exc).rstrip()
    if isinstance(line, int) and isinstance(column, int):
        shown = "\n".join(f" | {text}" for text in source.splitlines())
        return f"ERROR: <input>:{line}:{column + 1}: Syntax error\n{shown}"
    return source


def _program(expr: str) -> Any:
    prog = _programs.get(expr)
    if prog is not None:
        return prog
    env = celpy.Environment()
    try:
        prog = env.program(env.compile(expr))
    except Exception as exc:  # celpy raises its own parse errors
        raise RuleError(f"compilation failed: {_parse_error_text(exc)}") from exc
    with _lock:
        _programs[expr] = prog
    return prog


def is_transition_rule(rule: dict[str, Any]) -> bool:
    return bool(_OLD_SELF.search(rule.get("rule", "")))


def compilation_error(expr: str) -> str | None:
    """Why `expr` does not compile ("compilation failed: ..."), None when it does."""
    try:
        _program(expr)
    except RuleError as exc:
        return str(exc)
    return None


def evaluate(expr: str, activation: dict[str, Any]) -> Any:
    """The CEL value of `expr` over `activation` (names to CEL values), compiled once per text.

    Every failure, compilation or evaluation (including celpy's own type errors), is a RuleError:
    callers judge a rule's outcome, never crash a write on one."""
    try:
        result = _program(expr).evaluate(activation)
    except RuleError:
        raise
    except Exception as exc:  # celpy surfaces type errors as plain Python exceptions
        raise RuleError(str(exc)) from exc
    if isinstance(result, celpy.CELEvalError):
        raise RuleError(str(result.args[0] if result.args else result))
    return result


def _join(path: str, field_path: str) -> str:
    if not field_path:
        return path or "<nil>"
    rel = field_path[1:] if field_path.startswith(".") else field_path
    if not path:
        return rel
    return path + field_path if field_path.startswith("[") else f"{path}.{rel}"


def check(rules: list[dict[str, Any]], value: Any, old: Any, path: str, type_label: str
          ) -> list[dict[str, str]]:
    """Causes for the rules of one schema node that `value` (at `path`) breaks."""
    if not AVAILABLE:
        return []
    causes: list[dict[str, str]] = []
    activation: dict[str, Any] | None = None
    unchanged: bool | None = None
    for rule in rules:
        expr = rule.get("rule", "")
        transition = is_transition_rule(rule)
        if transition and old is fe.OMIT:
            continue
        if not transition and old is not fe.OMIT:
            # Validation ratcheting (KEP-4008, GA in 1.33): an update that leaves a value as it was
            # is not refused for it, so its rules need no evaluation (transition rules still run).
            if unchanged is None:
                unchanged = value == old
            if unchanged:
                continue
        if activation is None:
            activation = {"self": celpy.json_to_cel(value)}
        if transition and "oldSelf" not in activation:
            activation["oldSelf"] = celpy.json_to_cel(old)
        where = path or "<nil>"
        try:
            ok = evaluate(expr, activation)
        except RuleError as exc:
            causes.append(fe.invalid(where, type_label, f"{exc} evaluating rule: {expr}"))
            continue
        if isinstance(ok, celtypes.BoolType) and bool(ok):
            continue
        message = rule.get("message") or f"failed rule: {expr.strip()}"
        if rule.get("messageExpression"):
            try:
                text = evaluate(rule["messageExpression"], activation)
                if isinstance(text, str) and text.strip():
                    message = str(text)
            except RuleError:
                pass
        target = _join(path, rule.get("fieldPath", ""))
        reason = rule.get("reason") or "FieldValueInvalid"
        if reason == "FieldValueForbidden":
            causes.append(fe.forbidden(target, message))
        elif reason == "FieldValueRequired":
            causes.append(fe.required(target, message))
        elif reason == "FieldValueDuplicate":
            causes.append(fe.duplicate(target, type_label))
        else:
            causes.append(fe.invalid(target, type_label, message))
    return causes
