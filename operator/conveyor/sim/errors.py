"""Kubernetes `Status` failures, raised anywhere in the server and rendered in one place.

kube-apiserver words its errors in fixed shapes (see k8s.io/apimachinery/pkg/api/errors); clients
such as kubectl and kopf match on `reason` and `code`, and users read `message`, so every failure
in the sim is a `StatusError` built by one of the constructors below.
"""

from __future__ import annotations

from typing import Any


class StatusError(Exception):
    """A failure that the server answers with a `Status` object of kind Status, status Failure."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def to_status(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            status["details"] = self.details
        return status


def cause(field: str, message: str, reason: str = "FieldValueInvalid") -> dict[str, str]:
    """One entry of `details.causes`, as kube-apiserver's field errors render."""
    return {"reason": reason, "message": message, "field": field}


def group_resource(resource: str, group: str) -> str:
    """`pods` for the core group, `deployments.apps` otherwise: how messages name a resource."""
    return f"{resource}.{group}" if group else resource


def _details(name: str, group: str, kind: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": kind}
    if group:
        details["group"] = group
    return details


def not_found(resource: str, group: str, name: str) -> StatusError:
    return StatusError(404, "NotFound", f'{group_resource(resource, group)} "{name}" not found',
                       _details(name, group, resource))


def already_exists(resource: str, group: str, name: str) -> StatusError:
    return StatusError(409, "AlreadyExists", f'{group_resource(resource, group)} "{name}" already exists',
                       _details(name, group, resource))


def conflict(resource: str, group: str, name: str, why: str | None = None) -> StatusError:
    why = why or "the object has been modified; please apply your changes to the latest version and try again"
    return StatusError(409, "Conflict",
                       f'Operation cannot be fulfilled on {group_resource(resource, group)} "{name}": {why}',
                       _details(name, group, resource))


def invalid(kind: str, group: str, name: str, causes: list[dict[str, str]]) -> StatusError:
    """422 Invalid; the message lists every cause as `field: message`, joined as the apiserver does."""
    parts = [f"{c['field']}: {c['message']}" if c.get("field") else c["message"] for c in causes]
    summary = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    details = _details(name, group, kind)
    details["causes"] = causes
    return StatusError(422, "Invalid", f'{kind}.{group} "{name}" is invalid: {summary}' if group
                       else f'{kind} "{name}" is invalid: {summary}', details)


def bad_request(message: str) -> StatusError:
    return StatusError(400, "BadRequest", message)


def method_not_allowed(message: str = "the server does not allow this method on the requested resource"
                       ) -> StatusError:
    return StatusError(405, "MethodNotAllowed", message)


def gone(message: str) -> StatusError:
    """410 Expired: a watch or list from a resourceVersion older than the history kept."""
    return StatusError(410, "Expired", message)


def unauthorized() -> StatusError:
    return StatusError(401, "Unauthorized", "Unauthorized")


def forbidden(user: str, verb: str, resource: str, group: str, namespace: str | None,
              name: str | None = None, subresource: str = "", reason: str = "") -> StatusError:
    """403 as kube's authorization filter words it: the object (`secrets "x"` or `pods`) is
    forbidden, the user cannot do the verb on `resource[/subresource]` in a namespace or at the
    cluster scope, then the authorizer's reason, if it gave one."""
    where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    named = f' "{name}"' if name else ""
    gr = group_resource(resource, group)
    full = f"{resource}/{subresource}" if subresource else resource
    why = f'User "{user}" cannot {verb} resource "{full}" in API group "{group}" {where}'
    if reason:
        why = f"{why}: {reason}"
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    details["kind"] = resource
    return StatusError(403, "Forbidden", f"{gr}{named} is forbidden: {why}", details)


def forbidden_path(user: str, verb: str, path: str, reason: str = "") -> StatusError:
    """403 for a non-resource URL (`/metrics`, `/logs`): nothing to name but the path."""
    why = f'User "{user}" cannot {verb} path "{path}"'
    if reason:
        why = f"{why}: {reason}"
    return StatusError(403, "Forbidden", f"forbidden: {why}", {})


def unsupported_media_type(content_type: str) -> StatusError:
    return StatusError(415, "UnsupportedMediaType", f'the body of the request was in an unknown format - '
                       f'accepted media types include: application/json, application/yaml, '
                       f'application/vnd.kubernetes.protobuf, '
                       f'application/apply-patch+yaml, application/json-patch+json, '
                       f'application/merge-patch+json, application/strategic-merge-patch+json '
                       f'(got "{content_type}")')


def too_many_requests(retry_after: int) -> StatusError:
    return StatusError(429, "TooManyRequests", "the server has received too many requests and has asked "
                       "us to try again later", {"retryAfterSeconds": retry_after},
                       {"Retry-After": str(retry_after)})


def internal(message: str) -> StatusError:
    return StatusError(500, "InternalError", f"Internal error occurred: {message}")
