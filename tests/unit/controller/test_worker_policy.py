"""The worker isolation policy (conveyor.controller.worker_policy), its CEL evaluated as the API
server would: a deployment's worker account may update only its own deployment's Executions, and
create or delete none; nobody else is matched."""

from __future__ import annotations

from typing import Any

import celpy
import pytest

from conveyor.controller.worker_policy import (
    MESSAGE_CREATE_DELETE,
    OWN_DEPLOYMENT_ONLY,
    POLICY_NAME,
    build_worker_policy,
    build_worker_policy_binding,
    build_worker_policy_spec,
)

WORKER_A = "system:serviceaccount:shop:conveyor-worker-a"


def _eval(expression: str, operation: str, user: str, obj: Any, old: Any) -> Any:
    env = celpy.Environment()
    request = {"operation": operation, "namespace": "shop", "name": "run-1", "userInfo": {"username": user}}
    activation = {"request": request, "object": obj, "oldObject": old}
    result = env.program(env.compile(expression)).evaluate(
        {key: celpy.json_to_cel(value) for key, value in activation.items()}
    )
    assert not isinstance(result, celpy.CELEvalError), result
    return result


def _execution(deployment: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"workflow": "install"}
    if deployment is not None:
        spec["deployment"] = deployment
    return {"metadata": {"name": "run-1", "namespace": "shop"}, "spec": spec}


def _decide(operation: str, user: str, obj: Any, old: Any) -> str | None:
    """None: admitted (or not matched); else the message of the first failed validation."""
    spec = build_worker_policy_spec()
    if not all(_eval(c["expression"], operation, user, obj, old) for c in spec["matchConditions"]):
        return None
    for validation in spec["validations"]:
        if not _eval(validation["expression"], operation, user, obj, old):
            expression = validation.get("messageExpression")
            return str(_eval(expression, operation, user, obj, old)) if expression else validation["message"]
    return None


def test_a_worker_may_update_an_execution_of_its_own_deployment() -> None:
    assert _decide("UPDATE", WORKER_A, _execution("a"), _execution("a")) is None


def test_a_worker_may_not_update_another_deployments_execution() -> None:
    message = _decide("UPDATE", WORKER_A, _execution("b"), _execution("b"))
    assert message is not None and message.startswith(OWN_DEPLOYMENT_ONLY)
    assert WORKER_A in message and "shop/run-1 of deployment b" in message


@pytest.mark.parametrize(("old", "new"), [("a", "b"), ("b", "a")])
def test_a_worker_may_not_move_an_execution_to_or_from_its_deployment(old: str, new: str) -> None:
    assert _decide("UPDATE", WORKER_A, _execution(new), _execution(old)) is not None


def test_a_worker_may_not_update_a_system_wide_execution() -> None:
    message = _decide("UPDATE", WORKER_A, _execution(None), _execution(None))
    assert message is not None and message.endswith("of deployment <none>")


def test_a_worker_of_the_same_deployment_name_in_another_namespace_is_denied() -> None:
    stranger = "system:serviceaccount:elsewhere:conveyor-worker-a"
    assert _decide("UPDATE", stranger, _execution("a"), _execution("a")) is not None


def test_a_worker_may_create_no_execution() -> None:
    assert _decide("CREATE", WORKER_A, _execution("a"), None) == MESSAGE_CREATE_DELETE


def test_a_worker_may_delete_no_execution() -> None:
    assert _decide("DELETE", WORKER_A, None, _execution("a")) == MESSAGE_CREATE_DELETE


@pytest.mark.parametrize(
    "user",
    [
        "system:serviceaccount:conveyor-system:conveyor-worker",  # the system worker
        "system:serviceaccount:conveyor-system:conveyor-operator",
        "system:serviceaccount:shop:deployer",  # an account a Deployment names itself
        "alice",
    ],
)
def test_anyone_but_a_deployment_worker_is_not_matched(user: str) -> None:
    assert _decide("UPDATE", user, _execution("b"), _execution("b")) is None
    assert _decide("DELETE", user, None, _execution("b")) is None


def test_every_denial_is_forbidden() -> None:
    assert {v["reason"] for v in build_worker_policy_spec()["validations"]} == {"Forbidden"}


def test_the_policy_covers_executions_and_their_status_on_every_write() -> None:
    (rule,) = build_worker_policy_spec()["matchConstraints"]["resourceRules"]
    assert rule["apiGroups"] == ["conveyor.dev"]
    assert set(rule["resources"]) == {"executions", "executions/status"}
    assert set(rule["operations"]) == {"CREATE", "UPDATE", "DELETE"}


def test_the_binding_denies_through_the_policy() -> None:
    policy, binding = build_worker_policy(), build_worker_policy_binding()
    assert policy["metadata"]["name"] == binding["spec"]["policyName"] == POLICY_NAME
    assert binding["spec"]["validationActions"] == ["Deny"]
