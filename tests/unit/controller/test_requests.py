"""What admission checks before the policy weighs a request (conveyor.controller.requests)."""

from __future__ import annotations

from typing import Any

from conveyor.api.config import OperatorConfig
from conveyor.controller.requests import invalid_reason

DEPLOYMENT = {
    "metadata": {"name": "web", "namespace": "shop"},
    "spec": {
        "workflows": {"install": {"mapping": "w.install", "parameters": {"target": {"type": "string"}}}}
    },
}


def _execution(namespace: str = "shop", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "e", "namespace": namespace}, "spec": {"workflow": "install", **spec}}


def _why(obj: dict[str, Any], deployment: dict[str, Any] | None = DEPLOYMENT) -> str | None:
    return invalid_reason(obj, deployment, "conveyor-system", OperatorConfig())


def test_a_request_for_a_declared_workflow_with_its_parameters_is_valid() -> None:
    assert _why(_execution(deployment="web", parameters={"target": "prod"})) is None


def test_an_unknown_deployment_is_invalid_and_named() -> None:
    why = _why(_execution(deployment="nowhere"), None)
    assert why is not None and "nowhere" in why


def test_an_undeclared_workflow_is_invalid_and_the_declared_ones_are_listed() -> None:
    why = _why(_execution(deployment="web", workflow="uninstall"))
    assert why is not None and "uninstall" in why and "install" in why


def test_missing_required_parameters_are_invalid() -> None:
    why = _why(_execution(deployment="web"))
    assert why is not None and "target" in why


def test_a_system_wide_request_outside_the_operator_namespace_is_invalid() -> None:
    why = _why(_execution(workflow="create_snapshot"), None)
    assert why is not None and "conveyor-system" in why


def test_a_built_in_system_workflow_is_valid_in_the_operator_namespace() -> None:
    assert _why(_execution("conveyor-system", workflow="create_snapshot"), None) is None


def test_every_deployment_offers_the_built_in_execute_operation() -> None:
    assert (
        _why(_execution(deployment="web", workflow="execute_operation", parameters={"operation": "x"}))
        is None
    )
