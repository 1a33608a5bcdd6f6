"""Access and identity reviews: create-only resources answered on the spot and never stored.

`kubectl auth can-i` creates a SelfSubjectAccessReview (`--list`: a SelfSubjectRulesReview),
`kubectl auth whoami` a SelfSubjectReview; controllers and webhooks use SubjectAccessReview and
LocalSubjectAccessReview. As in kube, the answer is the request with a `status` filled in,
returned with 201; nothing is written, so no resourceVersion, uid or watch event exists for it.
Decisions come from `rbac.Authorizer`.
"""

from __future__ import annotations

from typing import Any

from conveyor.sim.errors import cause, invalid
from conveyor.sim.identity import UserInfo
from conveyor.sim.rbac import Attributes, Authorizer
from conveyor.sim.resources import ResourceType

AUTHORIZATION = "authorization.k8s.io"
AUTHENTICATION = "authentication.k8s.io"
REVIEW_RESOURCES = frozenset({
    (AUTHORIZATION, "selfsubjectaccessreviews"),
    (AUTHORIZATION, "subjectaccessreviews"),
    (AUTHORIZATION, "localsubjectaccessreviews"),
    (AUTHORIZATION, "selfsubjectrulesreviews"),
    (AUTHENTICATION, "selfsubjectreviews"),
})


def is_review(rt: ResourceType) -> bool:
    return rt.key in REVIEW_RESOURCES


def _attributes(rt: ResourceType, spec: dict[str, Any], namespace: str | None) -> Attributes:
    resource = spec.get("resourceAttributes")
    non_resource = spec.get("nonResourceAttributes")
    if (resource is None) == (non_resource is None):
        raise invalid(rt.kind, rt.group, "", [cause(
            "spec.resourceAttributes", f"Invalid value: {_go_struct(resource)}: "
            "exactly one of nonResourceAttributes or resourceAttributes must be specified")])
    if not isinstance(resource, dict):
        non_resource = non_resource if isinstance(non_resource, dict) else {}
        return Attributes(verb=str(non_resource.get("verb") or ""), path=str(non_resource.get("path") or ""))
    if namespace is not None and (resource.get("namespace") or "") != namespace:
        raise invalid(rt.kind, rt.group, "", [cause(
            "spec.resourceAttributes.namespace",
            f'Invalid value: "{resource.get("namespace") or ""}": must match metadata.namespace')])
    return Attributes(
        verb=str(resource.get("verb") or ""),
        group=str(resource.get("group") or ""),
        resource=str(resource.get("resource") or ""),
        subresource=str(resource.get("subresource") or ""),
        name=str(resource.get("name") or ""),
        namespace=str(resource.get("namespace") or ""),
    )


def _go_struct(value: Any) -> str:
    return "null" if value is None else "{...}"


def _subject(rt: ResourceType, spec: dict[str, Any]) -> UserInfo:
    user, groups = str(spec.get("user") or ""), tuple(spec.get("groups") or ())
    if not user and not groups:
        raise invalid(rt.kind, rt.group, "", [cause(
            "spec.user", 'Invalid value: "": at least one of user or group must be specified')])
    return UserInfo(user, groups)


def answer(rt: ResourceType, namespace: str | None, body: dict[str, Any], requester: UserInfo,
           authorizer: Authorizer) -> dict[str, Any]:
    """The review `body` (already checked for kind and apiVersion) with its status."""
    spec = body.get("spec") or {}
    out: dict[str, Any] = {"kind": rt.kind, "apiVersion": rt.group_version,
                           "metadata": {**(body.get("metadata") or {}), "creationTimestamp": None},
                           "spec": spec}
    if namespace:
        out["metadata"]["namespace"] = namespace
    if rt.plural == "selfsubjectreviews":
        out.pop("spec")
        out["status"] = {"userInfo": requester.to_json()}
        return out
    if rt.plural == "selfsubjectrulesreviews":
        resource_rules, non_resource_rules = authorizer.rules_for(requester, str(spec.get("namespace") or ""))
        out["status"] = {"resourceRules": resource_rules, "nonResourceRules": non_resource_rules,
                         "incomplete": False}
        return out
    if rt.plural == "selfsubjectaccessreviews":
        subject = requester
        attrs = _attributes(rt, spec, None)
    else:
        subject = _subject(rt, spec)
        attrs = _attributes(rt, spec, namespace if rt.namespaced else None)
    allowed, reason = authorizer.authorize(subject, attrs)
    status: dict[str, Any] = {"allowed": allowed}
    if reason:
        status["reason"] = reason
    out["status"] = status
    return out
