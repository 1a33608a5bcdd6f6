"""What an HTTP request asks to do, in the terms RBAC speaks: kube's RequestInfo, read from the
method, the path and the query alone, before any routing (so a forbidden request learns nothing,
not even whether its resource type exists).

What must hold (k8s.io/apiserver/pkg/endpoints/request/requestinfo.go):
- Only `/api/<version>/...` and `/apis/<group>/<version>/...` with a resource are resource
  requests; everything else (`/api`, `/apis/<group>/<version>`, `/version`, `/openapi/v3`, ...) is
  a non-resource request whose verb is the lower-cased method.
- Verbs: POST create, PUT update, PATCH patch, GET get (list without a name, watch with
  `watch=true` or the `/watch/` prefix), DELETE delete (deletecollection without a name).
- `/namespaces/<ns>/<resource>/...` sets the namespace; `/namespaces/<ns>` and its `status` and
  `finalize` subresources are the namespace object itself, in its own namespace.
- A list or watch whose field selector requires `metadata.name=<x>` names `x`, so a rule with
  resourceNames may allow it (how kubectl's `get --watch` of one object is authorized).
"""

from __future__ import annotations

from collections.abc import Mapping

from conveyor.sim.rbac import Attributes

_METHOD_VERBS = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update", "PATCH": "patch",
                 "DELETE": "delete"}
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})


def request_attributes(method: str, path: str, query: Mapping[str, str]) -> Attributes:
    parts = [p for p in path.strip("/").split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 3:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 4:
        group, rest = parts[1], parts[3:]
    else:
        return Attributes(verb=method.lower(), path=path)
    if rest[0] == "watch":
        if len(rest) < 2:
            return Attributes(verb=method.lower(), path=path)
        verb, rest = "watch", rest[1:]
    else:
        verb = _METHOD_VERBS.get(method.upper(), "")
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    if not name and verb == "get":
        verb = "watch" if query.get("watch") in ("true", "1") else "list"
    if not name and verb in ("list", "watch"):
        name = _required_name(query.get("fieldSelector") or "")
    if not name and verb == "delete":
        verb = "deletecollection"
    return Attributes(verb=verb, group=group, resource=resource, subresource=subresource, name=name,
                      namespace=namespace)


def _required_name(field_selector: str) -> str:
    """The name a field selector pins with `metadata.name=x` (or `==`), "" when it pins none."""
    for term in field_selector.split(","):
        key, op, value = _split_term(term)
        if key == "metadata.name" and op in ("=", "==") and value and "/" not in value:
            return value
    return ""


def _split_term(term: str) -> tuple[str, str, str]:
    for op in ("!=", "==", "="):
        key, sep, value = term.partition(op)
        if sep:
            return key.strip(), op, value.strip()
    return term.strip(), "", ""
