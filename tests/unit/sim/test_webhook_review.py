"""The AdmissionReview a webhook receives and how its answer is judged
(conveyor.sim.admission.webhook_review), worded as kube-apiserver words it."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor.sim.admission.attributes import AdmissionAttributes
from conveyor.sim.admission.matching import MatchedAs
from conveyor.sim.admission.webhook_config import read_webhook
from conveyor.sim.admission.webhook_review import InvalidResponse, build_request, denial, verify_response
from conveyor.sim.identity import user_info

UID = "0d5c6f1e-1111-2222-3333-444455556666"


def review(response: dict[str, Any] | None, **top: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", **top}
    if response is not None:
        body["response"] = response
    return body


def test_an_allowed_answer_carries_its_warnings() -> None:
    verdict = verify_response(UID, review({"uid": UID, "allowed": True, "warnings": ["old field"]}))
    assert verdict.allowed and verdict.warnings == ["old field"]


def test_an_answer_for_another_uid_is_invalid() -> None:
    with pytest.raises(InvalidResponse) as err:
        verify_response(UID, review({"uid": "other", "allowed": True}))
    assert str(err.value) == f'expected response.uid="{UID}", got "other"'


def test_an_answer_without_response_is_invalid() -> None:
    with pytest.raises(InvalidResponse, match="webhook response was absent"):
        verify_response(UID, review(None))


def test_an_answer_of_another_kind_is_invalid() -> None:
    with pytest.raises(InvalidResponse) as err:
        verify_response(UID, {"apiVersion": "v1", "kind": "Status", "response": {"uid": UID}})
    assert str(err.value) == (
        "expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got v1, Kind=Status"
    )


def test_a_denial_keeps_the_webhook_s_code_and_prefixes_its_message() -> None:
    err = denial("policy.example.com", {"code": 403, "message": "labels missing"})
    assert (err.code, err.message) == (
        403,
        'admission webhook "policy.example.com" denied the request: labels missing',
    )


def test_a_denial_with_a_code_below_400_becomes_400() -> None:
    assert denial("d", {"code": 200, "message": "no"}).code == 400


def test_a_denial_without_message_uses_the_reason() -> None:
    assert denial("d", {"reason": "Because"}).message == 'admission webhook "d" denied the request: Because'


def test_a_denial_without_status_says_without_explanation() -> None:
    err = denial("d", None)
    assert (err.code, err.message) == (400, 'admission webhook "d" denied the request without explanation')


def _attrs(**fields: Any) -> AdmissionAttributes:
    base: dict[str, Any] = dict(
        operation="UPDATE",
        group="conveyor.dev",
        version="v1alpha1",
        resource="executions",
        subresource="status",
        kind="Execution",
        namespace="shop",
        name="install-1",
        object={
            "apiVersion": "conveyor.dev/v1alpha1",
            "kind": "Execution",
            "metadata": {"name": "install-1"},
        },
        old_object={
            "apiVersion": "conveyor.dev/v1alpha1",
            "kind": "Execution",
            "metadata": {"name": "install-1"},
        },
        user=user_info("system:serviceaccount:shop:worker"),
        dry_run=True,
        options={"apiVersion": "meta.k8s.io/v1", "kind": "UpdateOptions"},
    )
    base.update(fields)
    return AdmissionAttributes(**base)


def _invocation(version: str = "v1alpha1") -> MatchedAs:
    return MatchedAs("conveyor.dev", version, "executions", "conveyor.dev", version, "Execution")


def test_the_request_describes_the_write() -> None:
    request = build_request(_attrs(), _invocation(), UID)
    assert request["uid"] == UID
    assert request["kind"] == {"group": "conveyor.dev", "version": "v1alpha1", "kind": "Execution"}
    assert request["resource"] == {"group": "conveyor.dev", "version": "v1alpha1", "resource": "executions"}
    assert (request["subResource"], request["name"], request["namespace"], request["operation"]) == (
        "status",
        "install-1",
        "shop",
        "UPDATE",
    )
    assert request["userInfo"]["username"] == "system:serviceaccount:shop:worker"
    assert "system:serviceaccounts:shop" in request["userInfo"]["groups"]
    assert request["dryRun"] is True and request["options"]["kind"] == "UpdateOptions"


def test_an_equivalent_invocation_relabels_the_object_and_keeps_the_requested_kind() -> None:
    request = build_request(_attrs(), _invocation("v1beta1"), UID)
    assert request["object"]["apiVersion"] == "conveyor.dev/v1beta1"
    assert request["kind"]["version"] == "v1beta1"
    assert request["requestKind"]["version"] == "v1alpha1"


def test_a_namespace_write_names_the_namespace_itself() -> None:
    attrs = _attrs(
        group="",
        version="v1",
        resource="namespaces",
        subresource="",
        kind="Namespace",
        namespace="",
        name="shop",
    )
    request = build_request(attrs, MatchedAs("", "v1", "namespaces", "", "v1", "Namespace"), UID)
    assert request["namespace"] == "shop"


def test_a_create_has_a_null_old_object() -> None:
    request = build_request(_attrs(operation="CREATE", old_object=None, subresource=""), _invocation(), UID)
    assert request["oldObject"] is None


def test_match_conditions_read_unset_request_fields_as_zero_values() -> None:
    from conveyor.sim.admission.webhook_conditions import conditions_match

    hook = read_webhook(
        "c",
        {
            "name": "h",
            "matchConditions": [{"name": "main-resource", "expression": 'request.subResource == ""'}],
        },
    )
    attrs = _attrs(subresource="")
    assert conditions_match(hook, attrs, _invocation())
