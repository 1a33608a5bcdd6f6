"""The `request` (AdmissionRequest) of a write, and the CEL variables admission expressions read.

One builder, `request_object`, describes the write for every check: a ValidatingAdmissionPolicy's
`request` variable, a webhook matchCondition's `request`, and (with the objects added, see
webhook_review) the AdmissionReview a webhook is sent.

What must hold, as in kube-apiserver:
- `kind`/`resource` are what the check matched at (an equivalent version under matchPolicy
  Equivalent), `requestKind`/`requestResource` what the client wrote; a scale write's kind is
  autoscaling/v1 Scale (the attributes carry the kind's own group/version);
- for the Namespace object, `namespace` is its own name;
- `request` is a declared type in kube's CEL, so its fields read as zero values when unset: every
  field of an AdmissionRequest is present here (`subResource` "", `userInfo.groups` [] ...);
- `object` is null for a DELETE, `oldObject` null for a CREATE; both are dynamic, so reading a field
  the object lacks is an evaluation error (use `has()`); they carry the matched version's apiVersion;
- `namespaceObject` (policies) is the request's Namespace, null for cluster-scoped objects (and for
  a Namespace itself); `params` is null: the sim supports only policies without `paramKind`.
The `authorizer` variable and kube's CEL extension libraries (quantity, url, ip...) are not provided.
"""

from __future__ import annotations

from typing import Any

import celpy
from celpy import celtypes

from conveyor.sim.admission.attributes import AdmissionAttributes
from conveyor.sim.admission.matching import MatchedAs, is_namespace_object, request_namespace


def request_object(attrs: AdmissionAttributes, matched: MatchedAs, uid: str | None = None) -> dict[str, Any]:
    """The AdmissionRequest of the write as `matched` sees it, every field present, without the
    objects (`uid`: the call's own; default the write's)."""
    group, version, kind = attrs.kind_at()
    return {
        "uid": attrs.uid if uid is None else uid,
        "kind": {"group": matched.kind_group, "version": matched.kind_version, "kind": matched.kind},
        "resource": {"group": matched.group, "version": matched.version, "resource": matched.resource},
        "subResource": attrs.subresource,
        "requestKind": {"group": group, "version": version, "kind": kind},
        "requestResource": {"group": attrs.group, "version": attrs.version, "resource": attrs.resource},
        "requestSubResource": attrs.subresource,
        "name": attrs.name,
        "namespace": request_namespace(attrs),
        "operation": attrs.operation,
        "userInfo": {
            "username": attrs.user.username,
            "uid": "",
            "groups": list(attrs.user.groups),
            "extra": {},
        },
        "dryRun": attrs.dry_run,
        "options": attrs.options or {},
    }


def object_at(obj: dict[str, Any] | None, matched: MatchedAs) -> dict[str, Any] | None:
    """The object as the check sees it: relabelled to the matched version (the sim serves one
    schema per resource, so the apiVersion is all a conversion changes)."""
    if obj is None or obj.get("apiVersion") == matched.api_version:
        return obj
    return {**obj, "apiVersion": matched.api_version}


def condition_activation(attrs: AdmissionAttributes, matched: MatchedAs, request: dict[str, Any]
                         ) -> dict[str, Any]:
    """A webhook matchCondition's variables: `object`, `oldObject` and `request`."""
    return {
        "object": celpy.json_to_cel(object_at(attrs.object, matched)),
        "oldObject": celpy.json_to_cel(object_at(attrs.old_object, matched)),
        "request": celpy.json_to_cel(request),
    }


def policy_activation(attrs: AdmissionAttributes, matched: MatchedAs, namespace: dict[str, Any] | None
                      ) -> dict[str, Any]:
    """A policy's variables before its own `variables` (shared by every policy matched alike)."""
    if not attrs.namespace or is_namespace_object(attrs):
        namespace = None
    return {
        **condition_activation(attrs, matched, request_object(attrs, matched)),
        "namespaceObject": celpy.json_to_cel(namespace),
        "params": None,
        "variables": celtypes.MapType({}),
    }


def with_variables(shared: dict[str, Any], variables: dict[str, Any]) -> dict[str, Any]:
    """`shared` with one policy's evaluated `variables` (name -> CEL value or CELEvalError)."""
    values = celtypes.MapType({celtypes.StringType(k): v for k, v in variables.items()})
    return {**shared, "variables": values}
