"""The AdmissionReview (admission.k8s.io/v1) a webhook is sent, and what its answer must be.

What must hold, as in kube-apiserver (admission/plugin/webhook/request):
- Every call has a fresh request uid; the answer is accepted only if it is an admission.k8s.io/v1
  AdmissionReview with a `response` whose uid is that same uid. Anything else is an invalid
  response, which is a failed call (subject to failurePolicy), never an "allowed".
- The request is the one every admission check sees (cel_activation.request_object: matched and
  requested kinds, the Namespace's own name as namespace), with the objects at the matched version.
- A denial is reported with the webhook's Status: code below 400 becomes 400, its message is
  prefixed with the webhook's name, and a denial without message or reason says so.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from conveyor.sim.admission.attributes import AdmissionAttributes
from conveyor.sim.admission.cel_activation import object_at, request_object
from conveyor.sim.admission.matching import MatchedAs
from conveyor.sim.errors import StatusError

REVIEW_API_VERSION = "admission.k8s.io/v1"
REVIEW_KIND = "AdmissionReview"


class InvalidResponse(Exception):
    """The webhook answered, but not with a usable AdmissionReview for this request."""


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    status: dict[str, Any] | None
    warnings: list[str] = field(default_factory=list)


def new_uid() -> str:
    return str(uuid.uuid4())


# AdmissionRequest fields kube leaves out of the JSON when empty (`omitempty`).
_OMITTED_WHEN_EMPTY = ("subResource", "requestSubResource", "name", "namespace")


def build_request(attrs: AdmissionAttributes, matched: MatchedAs, uid: str) -> dict[str, Any]:
    """The `request` of the AdmissionReview: cel_activation's AdmissionRequest as JSON, with the
    objects at the matched version and the client's options."""
    request = request_object(attrs, matched, uid)
    for key in _OMITTED_WHEN_EMPTY:
        if not request[key]:
            del request[key]
    request["userInfo"] = {"username": attrs.user.username, "groups": list(attrs.user.groups)}
    request["object"] = object_at(attrs.object, matched)
    request["oldObject"] = object_at(attrs.old_object, matched)
    request["options"] = attrs.options
    return request


def build_review(request: dict[str, Any]) -> dict[str, Any]:
    return {"kind": REVIEW_KIND, "apiVersion": REVIEW_API_VERSION, "request": request}


def verify_response(uid: str, body: Any) -> Verdict:
    """The webhook's verdict, or InvalidResponse with kube's reason."""
    if not isinstance(body, dict):
        raise InvalidResponse("webhook response was absent")
    response = body.get("response")
    if not isinstance(response, dict):
        raise InvalidResponse("webhook response was absent")
    got_uid = response.get("uid", "")
    if got_uid != uid:
        raise InvalidResponse(f'expected response.uid="{uid}", got "{got_uid}"')
    api_version, kind = body.get("apiVersion", ""), body.get("kind", "")
    if (api_version, kind) != (REVIEW_API_VERSION, REVIEW_KIND):
        raise InvalidResponse(f"expected webhook response of {REVIEW_API_VERSION}, Kind={REVIEW_KIND}, "
                              f"got {api_version}, Kind={kind}")
    status = response.get("status")
    warnings = response.get("warnings")
    return Verdict(
        allowed=response.get("allowed") is True,
        status=status if isinstance(status, dict) else None,
        warnings=[str(w) for w in warnings] if isinstance(warnings, list) else [],
    )


def denial(webhook_name: str, status: dict[str, Any] | None) -> StatusError:
    """kube's rejection: the webhook's own Status, code at least 400, message naming the webhook."""
    status = status or {}
    denied_by = f'admission webhook "{webhook_name}" denied the request'
    code = status.get("code")
    code = code if isinstance(code, int) and not isinstance(code, bool) and code >= 400 else 400
    message, reason = str(status.get("message") or ""), str(status.get("reason") or "")
    if message:
        text = f"{denied_by}: {message}"
    elif reason:
        text = f"{denied_by}: {reason}"
    else:
        text = f"{denied_by} without explanation"
    details = status.get("details")
    return StatusError(code, reason, text, details if isinstance(details, dict) else None)
