"""Label and field selectors, parsed once per request or watch and matched against stored objects.

Lists and watches filter with the same compiled selector, so a watcher sees exactly the objects a
list with the same selector returns. The grammar and the errors follow k8s.io/apimachinery's
`labels.Parse` and `fields.ParseSelector`; unsupported field labels are refused with kube's 400.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from conveyor.sim.errors import StatusError, bad_request

_LABEL_KEY = re.compile(r"^([A-Za-z0-9.\-/_]+)$")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!exists"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        if self.op == "exists":
            return self.key in labels
        if self.op == "!exists":
            return self.key not in labels
        if self.op in ("=", "in"):
            return self.key in labels and labels[self.key] in self.values
        # "!=" and "notin" match objects that lack the label, as kube's selectors do.
        return labels.get(self.key) not in self.values


class LabelSelector:
    """A conjunction of requirements; the empty selector matches everything."""

    def __init__(self, requirements: list[Requirement]) -> None:
        self.requirements = requirements

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, labels: dict[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def matches_object(self, obj: dict[str, Any]) -> bool:
        return not self.requirements or self.matches((obj.get("metadata") or {}).get("labels"))


def _split_top(text: str) -> list[str]:
    """Split on commas that are not inside `in (...)` value lists."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


_SET_RE = re.compile(r"^(\S+)\s+(in|notin)\s*\((.*)\)$")


def _check_key(key: str, selector: str) -> str:
    if not key or not _LABEL_KEY.match(key):
        raise bad_request(
            f'unable to parse requirement: invalid label key "{key}": '
            "name part must consist of alphanumeric characters, '-', '_' or '.'"
        )
    return key


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse `a=b,c!=d,e in (f,g),!h,i`; raises 400 BadRequest for malformed selectors."""
    if not text or not text.strip():
        return LabelSelector([])
    reqs: list[Requirement] = []
    for part in _split_top(text):
        m = _SET_RE.match(part)
        if m:
            values = tuple(v.strip() for v in m.group(3).split(",") if v.strip())
            reqs.append(Requirement(_check_key(m.group(1), text), m.group(2), values))
        elif part.startswith("!"):
            reqs.append(Requirement(_check_key(part[1:].strip(), text), "!exists"))
        elif "!=" in part:
            k, v = part.split("!=", 1)
            reqs.append(Requirement(_check_key(k.strip(), text), "!=", (v.strip(),)))
        elif "==" in part:
            k, v = part.split("==", 1)
            reqs.append(Requirement(_check_key(k.strip(), text), "=", (v.strip(),)))
        elif "=" in part:
            k, v = part.split("=", 1)
            reqs.append(Requirement(_check_key(k.strip(), text), "=", (v.strip(),)))
        elif " " in part or "(" in part:
            raise bad_request(
                f"unable to parse requirement: found '{part}', expected: '=', '!=', '==', 'in', notin'"
            )
        else:
            reqs.append(Requirement(_check_key(part, text), "exists"))
    return LabelSelector(reqs)


_MATCH_OPERATORS = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!exists"}


def selector_from_match(match: dict[str, Any] | None, *, tolerant: bool = False) -> LabelSelector:
    """A LabelSelector from a structured `{matchLabels, matchExpressions}` (Deployments, Jobs, PDBs).

    Controllers read selectors that validation has let through, and a malformed one there is a bug
    that must show (KeyError). Validation itself must judge objects whose selector is malformed, so
    with `tolerant` what cannot be read is left out instead: an expression that is not a mapping or
    has an unknown operator adds no requirement; one without a key requires the key `""`, which no
    label has (so `In` and `Exists` fail and `NotIn` and `DoesNotExist` hold).
    """
    if not match:
        return LabelSelector([])
    if not tolerant:
        reqs = [Requirement(k, "=", (str(v),)) for k, v in (match.get("matchLabels") or {}).items()]
        for expr in match.get("matchExpressions") or []:
            reqs.append(
                Requirement(expr["key"], _MATCH_OPERATORS[expr["operator"]], tuple(expr.get("values") or ()))
            )
        return LabelSelector(reqs)
    labels = match.get("matchLabels")
    reqs = [Requirement(k, "=", (str(v),)) for k, v in (labels if isinstance(labels, dict) else {}).items()]
    expressions = match.get("matchExpressions")
    for expr in expressions if isinstance(expressions, list) else ():
        op = _MATCH_OPERATORS.get(str(expr.get("operator"))) if isinstance(expr, dict) else None
        if op is None:
            continue
        key, values = expr.get("key"), expr.get("values")
        reqs.append(Requirement(
            key if isinstance(key, str) else "", op, tuple(values) if isinstance(values, list) else ()
        ))
    return LabelSelector(reqs)


def selector_to_string(match: dict[str, Any] | None) -> str:
    """The string form of a structured selector: `Scale.status.selector`, and kubectl's SELECTOR
    column (`format_label_selector` in `tables`, which shows `<none>` for the empty string).

    matchLabels sorted by key, then the expressions in their order, each one's values sorted, as
    kube's `labels.Selector.String()` sorts them. Stored selectors are not all validated (a
    NetworkPolicy's podSelector), so an expression without a known operator is left out.
    """
    if not match:
        return ""
    parts = [f"{k}={v}" for k, v in sorted((match.get("matchLabels") or {}).items())]
    for expr in match.get("matchExpressions") or []:
        key, op = expr.get("key", ""), expr.get("operator")
        if op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append("!" + key)
        elif op in ("In", "NotIn"):
            parts.append(f"{key} {op.lower()} ({','.join(sorted(str(v) for v in expr.get('values') or []))})")
    return ",".join(parts)


# Field selectors ----------------------------------------------------------------------------------

# Field labels kube-apiserver accepts beyond metadata.name/metadata.namespace, per (group, kind).
_SUPPORTED_FIELDS: dict[tuple[str, str], frozenset[str]] = {
    ("", "Pod"): frozenset(
        {
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.podIPs",
            "status.nominatedNodeName",
        }
    ),
    ("", "Event"): frozenset(
        {
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        }
    ),
    ("events.k8s.io", "Event"): frozenset(
        {
            "regarding.kind",
            "regarding.namespace",
            "regarding.name",
            "regarding.uid",
            "regarding.apiVersion",
            "reason",
            "type",
            "reportingController",
        }
    ),
    ("", "Secret"): frozenset({"type"}),
    ("", "Namespace"): frozenset({"status.phase"}),
    ("", "Node"): frozenset({"spec.unschedulable"}),
    ("", "ReplicationController"): frozenset({"status.replicas"}),
    ("batch", "Job"): frozenset({"status.successful"}),
    ("apps", "ReplicaSet"): frozenset({"status.replicas"}),
    ("certificates.k8s.io", "CertificateSigningRequest"): frozenset({"spec.signerName"}),
}


def _lookup(obj: dict[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    if isinstance(cur, dict | list):
        return ""
    return str(cur)


def _field_value(obj: dict[str, Any], path: str) -> str:
    if path == "source" and "source" in obj:  # core Event: `source` means source.component
        return _lookup(obj, "source.component")
    return _lookup(obj, path)


@dataclass(frozen=True)
class FieldRequirement:
    path: str
    negate: bool
    value: str


class FieldSelector:
    def __init__(self, requirements: list[FieldRequirement]) -> None:
        self.requirements = requirements

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, obj: dict[str, Any]) -> bool:
        for r in self.requirements:
            equal = _field_value(obj, r.path) == r.value
            if equal == r.negate:
                return False
        return True

    def single_name(self) -> str | None:
        """`metadata.name=x` alone selects one object: lists and watches can skip the scan."""
        for r in self.requirements:
            if r.path == "metadata.name" and not r.negate:
                return r.value
        return None


def parse_field_selector(
    text: str | None, group: str = "", kind: str = "", custom_fields: frozenset[str] = frozenset()
) -> FieldSelector:
    """Parse `a=b,c!=d`; a field that the kind does not support is kube's 400 BadRequest.

    `custom_fields` are a CRD's `selectableFields` jsonPaths (without the leading dot).
    """
    if not text or not text.strip():
        return FieldSelector([])
    reqs: list[FieldRequirement] = []
    supported = _SUPPORTED_FIELDS.get((group, kind), frozenset()) | custom_fields
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if "!=" in part:
            key, value = part.split("!=", 1)
            negate = True
        elif "==" in part:
            key, value = part.split("==", 1)
            negate = False
        elif "=" in part:
            key, value = part.split("=", 1)
            negate = False
        else:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        key = key.strip()
        if key not in ("metadata.name", "metadata.namespace") and key not in supported and kind:
            raise field_not_supported(key)
        reqs.append(FieldRequirement(key, negate, value.strip()))
    return FieldSelector(reqs)


def field_not_supported(key: str) -> StatusError:
    return bad_request(f"field label not supported: {key}")


Matcher = Callable[[dict[str, Any]], bool]


def compile_filter(labels: LabelSelector, fields: FieldSelector) -> Matcher | None:
    """One predicate for a list or a watch; None when both selectors are empty (match all)."""
    if labels.empty and fields.empty:
        return None
    if fields.empty:
        return labels.matches_object
    if labels.empty:
        return fields.matches
    return lambda obj: labels.matches_object(obj) and fields.matches(obj)
