"""The ValidatingAdmissionPolicy that holds each deployment's worker to its own Executions. Pure
builders; the Helm chart ships the same objects (templates/worker-policy.yaml, compared by a unit
test) and `conveyor dev` applies these.

Why: RBAC cannot select objects by label or field, so the ClusterRole `conveyor-worker` lets a
worker patch every Execution of its namespace. Each deployment's worker runs as its own
ServiceAccount `conveyor-worker-<deployment>` (`worker_identity`), and this policy, evaluated by the
API server after RBAC, admits a write by such an account only when it is to an Execution of that
deployment.

What must hold, for a request by `system:serviceaccount:<ns>:conveyor-worker-<anything>` on
conveyor.dev `executions` or `executions/status`:
- CREATE and DELETE are denied (a worker never needs them; RBAC does not grant them either: this
  holds even where someone granted more);
- UPDATE (PATCH is an UPDATE to admission) is admitted only when the account's name is
  `conveyor-worker-` + `spec.deployment` of both the stored and the new object, in the object's own
  namespace: a worker can neither touch another deployment's Execution nor move one to or from its
  deployment;
- denials are `Forbidden` (HTTP 403), with a message saying which rule was broken;
- everyone else (the operator, users, the system worker `conveyor-worker`, accounts named by
  `spec.worker.serviceAccountName` that do not start with `conveyor-worker-`) is not matched at all.

The expressions use plain CEL only (string concatenation, `startsWith`, `matches`, `has`): no
extension libraries, no variables, so any kube-apiserver that serves admissionregistration.k8s.io/v1
policies (Kubernetes 1.30 and later) evaluates them the same way.
"""

from __future__ import annotations

from typing import Any

from conveyor.api.names import (
    APP_NAME,
    EXECUTION,
    GROUP,
    LABEL_APP_COMPONENT,
    LABEL_APP_MANAGED_BY,
    LABEL_APP_NAME,
)
from conveyor.controller.worker_identity import WORKER_SERVICE_ACCOUNT_PREFIX

ADMISSION_API_VERSION = "admissionregistration.k8s.io/v1"
POLICY_NAME = "conveyor-worker-isolation"
"""The policy and its binding share this name."""

_USER = "request.userInfo.username"
_OWN_WORKER = f"'system:serviceaccount:' + request.namespace + ':{WORKER_SERVICE_ACCOUNT_PREFIX}'"
"""CEL: the user name a worker of the Execution's deployment has, less the deployment's name."""
_ANY_WORKER = f"^system:serviceaccount:[^:]+:{WORKER_SERVICE_ACCOUNT_PREFIX}"
"""RE2: the user name of any deployment's worker, in any namespace."""

MESSAGE_CREATE_DELETE = (
    "a Conveyor deployment worker may not create or delete Executions; it may only update its own "
    "deployment's Executions"
)
OWN_DEPLOYMENT_ONLY = "a Conveyor deployment worker may only update Executions of its own deployment"
"""In every denial of an update, whichever of `message` and `messageExpression` the server uses."""
MESSAGE_OTHER_DEPLOYMENT = (
    f"{OWN_DEPLOYMENT_ONLY} (its ServiceAccount is {WORKER_SERVICE_ACCOUNT_PREFIX}<deployment>)"
)


def _runs_own_deployment(obj: str) -> str:
    """CEL: `obj` (object or oldObject) is an Execution of the requesting worker's deployment."""
    return (
        f"has({obj}.spec) && has({obj}.spec.deployment) && "
        f"{_USER} == {_OWN_WORKER} + {obj}.spec.deployment"
    )


def _other_deployment_message(obj: str) -> str:
    """CEL for messageExpression: who asked, and whose Execution it is (the static `message` is used
    when this cannot be evaluated)."""
    deployment = f"(has({obj}.spec) && has({obj}.spec.deployment) ? {obj}.spec.deployment : '<none>')"
    return (
        f"'{OWN_DEPLOYMENT_ONLY}: ' + {_USER} + ' may not update Execution ' + request.namespace"
        f" + '/' + request.name + ' of deployment ' + {deployment}"
    )


def build_worker_policy_spec() -> dict[str, Any]:
    """The policy's spec, as the chart renders it (the unit test compares specs: metadata differs)."""
    resources = [EXECUTION.plural, f"{EXECUTION.plural}/status"]
    return {
        "failurePolicy": "Fail",
        "matchConstraints": {
            "resourceRules": [
                {
                    "apiGroups": [GROUP],
                    "apiVersions": ["*"],
                    "operations": ["CREATE", "UPDATE", "DELETE"],
                    "resources": resources,
                }
            ]
        },
        "matchConditions": [
            {
                "name": "is-a-deployment-worker",
                "expression": f"{_USER}.matches('{_ANY_WORKER}')",
            }
        ],
        "validations": [
            {
                "expression": "request.operation == 'UPDATE'",
                "message": MESSAGE_CREATE_DELETE,
                "reason": "Forbidden",
            },
            {
                "expression": f"request.operation != 'UPDATE' || ({_runs_own_deployment('oldObject')})",
                "message": MESSAGE_OTHER_DEPLOYMENT,
                "messageExpression": _other_deployment_message("oldObject"),
                "reason": "Forbidden",
            },
            {
                "expression": f"request.operation != 'UPDATE' || ({_runs_own_deployment('object')})",
                "message": MESSAGE_OTHER_DEPLOYMENT,
                "messageExpression": _other_deployment_message("object"),
                "reason": "Forbidden",
            },
        ],
    }


def build_worker_policy_binding_spec() -> dict[str, Any]:
    return {"policyName": POLICY_NAME, "validationActions": ["Deny"]}


def _metadata() -> dict[str, Any]:
    labels = {LABEL_APP_NAME: APP_NAME, LABEL_APP_COMPONENT: "worker", LABEL_APP_MANAGED_BY: APP_NAME}
    return {"name": POLICY_NAME, "labels": labels}


def build_worker_policy() -> dict[str, Any]:
    return {
        "apiVersion": ADMISSION_API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": _metadata(),
        "spec": build_worker_policy_spec(),
    }


def build_worker_policy_binding() -> dict[str, Any]:
    return {
        "apiVersion": ADMISSION_API_VERSION,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": _metadata(),
        "spec": build_worker_policy_binding_spec(),
    }
