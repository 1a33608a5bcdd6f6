"""Field errors worded as k8s.io/apimachinery's `field.Error` renders them.

Clients and users compare these messages with what kube-apiserver says, so the rendering of the bad
value follows Go: strings quoted as `%q`, numbers as `%v`, booleans lower-case, anything composite
as compact JSON with sorted keys (apimachinery marshals complex values to JSON since 1.33).
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

from conveyor.sim.errors import cause

OMIT: Any = object()  # a bad value that the message leaves out (TooMany without a count)


def go_float(value: float) -> str:
    """Go's `%v` of a float64: shortest digits, exponent form below 1e-4 or from 1e21 on."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    sign, digits, exp = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exp, int)
    mantissa = "".join(str(d) for d in digits)
    decimal_exp = len(mantissa) + exp - 1  # exponent of the leading digit
    prefix = "-" if sign else ""
    if decimal_exp < -4 or decimal_exp >= 21:
        frac = mantissa[1:]
        body = mantissa[0] + ("." + frac if frac else "")
        return f"{prefix}{body}e{'-' if decimal_exp < 0 else '+'}{abs(decimal_exp):02d}"
    if exp >= 0:
        return prefix + mantissa + "0" * exp
    point = len(mantissa) + exp
    if point <= 0:
        return prefix + "0." + "0" * (-point) + mantissa
    return prefix + mantissa[:point] + "." + mantissa[point:]


def go_number(value: int | float) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return go_float(value)


def go_quote(text: str) -> str:
    """Go's strconv.Quote for the text users put in manifests (printable Unicode stays as is)."""
    out = ['"']
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif not ch.isprintable():
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x80 else (f"\\u{code:04x}" if code < 0x10000
                                                               else f"\\U{code:08x}"))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def go_json(value: Any) -> str:
    """encoding/json's Marshal: compact, map keys sorted, <, > and & escaped."""
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool | int | float):
        return go_number(value)
    if isinstance(value, str):
        return go_quote(value)
    return go_json(value)


def _with_value(kind: str, value: Any, detail: str) -> str:
    body = kind if value is OMIT else f"{kind}: {render_value(value)}"
    return f"{body}: {detail}" if detail else body


def required(path: str, detail: str = "") -> dict[str, str]:
    return cause(path, f"Required value: {detail}" if detail else "Required value", "FieldValueRequired")


def invalid(path: str, value: Any, detail: str) -> dict[str, str]:
    return cause(path, _with_value("Invalid value", value, detail), "FieldValueInvalid")


def type_invalid(path: str, value: Any, detail: str) -> dict[str, str]:
    return cause(path, _with_value("Invalid value", value, detail), "FieldValueTypeInvalid")


def not_supported(path: str, value: Any, supported: list[str] | tuple[str, ...]) -> dict[str, str]:
    detail = "supported values: " + ", ".join(go_quote(s) for s in supported) if supported else ""
    return cause(path, _with_value("Unsupported value", value, detail), "FieldValueNotSupported")


def duplicate(path: str, value: Any) -> dict[str, str]:
    return cause(path, _with_value("Duplicate value", value, ""), "FieldValueDuplicate")


def forbidden(path: str, detail: str) -> dict[str, str]:
    return cause(path, f"Forbidden: {detail}" if detail else "Forbidden", "FieldValueForbidden")


def too_long(path: str, max_length: int) -> dict[str, str]:
    unit = "byte" if max_length == 1 else "bytes"
    return cause(path, f"Too long: may not be more than {max_length} {unit}", "FieldValueTooLong")


def too_many(path: str, actual: int, max_quantity: int) -> dict[str, str]:
    unit = "item" if max_quantity == 1 else "items"
    return cause(path, _with_value("Too many", actual if actual >= 0 else OMIT,
                                   f"must have at most {max_quantity} {unit}"), "FieldValueTooMany")


def child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def key(path: str, k: str) -> str:
    return f"{path}[{k}]"
