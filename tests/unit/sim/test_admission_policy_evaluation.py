"""How one ValidatingAdmissionPolicy judges a write through one binding
(conveyor.sim.admission.policies), and how kube-apiserver words the refusal: pure, no server."""

from __future__ import annotations

from typing import Any

from conveyor.sim.admission import cel_activation
from conveyor.sim.admission.attributes import AdmissionAttributes
from conveyor.sim.admission.matching import Subject
from conveyor.sim.admission.policies import Failure, denial, evaluate_policy, warning
from conveyor.sim.identity import user_info

WORKER = "system:serviceaccount:shop:conveyor-worker-web"


def write(user: str = WORKER, deployment: str = "web", old_deployment: str = "web") -> AdmissionAttributes:
    def execution(dep: str) -> dict[str, Any]:
        return {"apiVersion": "conveyor.dev/v1alpha1", "kind": "Execution",
                "metadata": {"name": "x1", "namespace": "shop"}, "spec": {"deployment": dep}}

    return AdmissionAttributes(
        operation="UPDATE", group="conveyor.dev", version="v1alpha1", resource="executions",
        subresource="status", kind="Execution", namespace="shop", name="x1",
        object=execution(deployment), old_object=execution(old_deployment), user=user_info(user),
    )


def policy(spec: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "p"}, "spec": spec}


BINDING = {"metadata": {"name": "b"}, "spec": {"policyName": "p", "validationActions": ["Deny"]}}


def judge(spec: dict[str, Any], attrs: AdmissionAttributes | None = None) -> list[Failure]:
    attrs = attrs or write()
    namespace = {"metadata": {"name": "shop"}}
    shared = cel_activation.policy_activation(attrs, Subject(attrs).own(), namespace)
    return evaluate_policy(policy(spec), BINDING, shared)


OWN_DEPLOYMENT = (
    "request.userInfo.username == 'system:serviceaccount:' + request.namespace + ':conveyor-worker-' "
    "+ oldObject.spec.deployment"
)


def test_a_true_validation_passes() -> None:
    assert judge({"validations": [{"expression": OWN_DEPLOYMENT}]}) == []


def test_a_false_validation_without_message_says_which_expression_failed() -> None:
    failures = judge({"validations": [{"expression": OWN_DEPLOYMENT}]}, write(old_deployment="api"))
    assert failures == [Failure("p", "b", f"failed expression: {OWN_DEPLOYMENT}", "Invalid")]


def test_the_message_replaces_the_expression_in_the_failure() -> None:
    spec = {"validations": [{"expression": "false", "message": "not yours", "reason": "Forbidden"}]}
    assert judge(spec) == [Failure("p", "b", "not yours", "Forbidden")]


def test_a_message_expression_words_the_failure_from_the_request() -> None:
    spec = {"validations": [{"expression": "false", "message": "static",
                             "messageExpression": "'deployment ' + object.spec.deployment "
                                                  "+ ' is not yours'"}]}
    assert judge(spec)[0].message == "deployment web is not yours"


def test_a_message_expression_that_errors_falls_back_to_the_message() -> None:
    spec = {"validations": [{"expression": "false", "message": "static",
                             "messageExpression": "object.spec.nothing"}]}
    assert judge(spec)[0].message == "static"


def test_variables_are_read_by_validations_and_by_later_variables() -> None:
    spec = {
        "variables": [
            {"name": "prefix", "expression": "'system:serviceaccount:' + request.namespace + ':'"},
            {"name": "owner", "expression": "variables.prefix + 'conveyor-worker-' + object.spec.deployment"},
        ],
        "validations": [{"expression": "request.userInfo.username == variables.owner"}],
    }
    assert judge(spec) == []
    assert len(judge(spec, write(deployment="api", old_deployment="api"))) == 1


def test_a_false_match_condition_leaves_the_write_alone() -> None:
    spec = {"matchConditions": [{"name": "workers", "expression": "request.userInfo.username.startsWith("
                                 "'system:serviceaccount:')"}],
            "validations": [{"expression": "false"}]}
    assert judge(spec, write(user="kubernetes-admin")) == []
    assert len(judge(spec)) == 1


def test_an_expression_error_denies_under_failure_policy_fail() -> None:
    failures = judge({"validations": [{"expression": "object.spec.nothing == 'x'"}]})
    assert len(failures) == 1
    assert failures[0].message.startswith("expression 'object.spec.nothing == 'x'' resulted in error: ")


def test_an_expression_error_is_ignored_under_failure_policy_ignore() -> None:
    assert judge({"failurePolicy": "Ignore", "validations": [{"expression": "object.spec.nothing"}]}) == []


def test_a_non_boolean_validation_is_an_error() -> None:
    assert "expected bool" in judge({"validations": [{"expression": "'yes'"}]})[0].message


def test_old_object_is_null_on_create() -> None:
    attrs = write()
    create = AdmissionAttributes(**{**attrs.__dict__, "operation": "CREATE", "old_object": None})
    assert judge({"validations": [{"expression": "oldObject == null"}]}, create) == []


def test_request_carries_the_subresource_and_dry_run() -> None:
    spec = {"validations": [{"expression": "request.subResource == 'status' && request.dryRun == false"}]}
    assert judge(spec) == []


def test_a_policy_with_param_kind_is_a_configuration_error_under_fail() -> None:
    spec = {"paramKind": {"apiVersion": "v1", "kind": "ConfigMap"}, "validations": [{"expression": "true"}]}
    assert len(judge(spec)) == 1
    assert judge({**spec, "failurePolicy": "Ignore"}) == []


def test_a_denial_is_worded_and_coded_as_kube_apiserver_does() -> None:
    err = denial(write(), Failure("p", "b", "not yours", "Invalid"))
    assert (err.code, err.reason) == (422, "Invalid")
    assert err.message == (
        "executions.conveyor.dev \"x1\" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b' "
        "denied request: not yours")
    assert err.details == {
        "name": "x1", "group": "conveyor.dev", "kind": "executions",
        "causes": [{"message": "ValidatingAdmissionPolicy 'p' with binding 'b' denied request: not yours"}],
    }


def test_the_validation_reason_chooses_the_status_code() -> None:
    codes = {reason: denial(write(), Failure("p", "b", "m", reason)).code
             for reason in ("Forbidden", "Unauthorized", "RequestEntityTooLarge", "Invalid")}
    assert codes == {"Forbidden": 403, "Unauthorized": 401, "RequestEntityTooLarge": 413, "Invalid": 422}


def test_a_warning_names_policy_and_binding() -> None:
    assert warning(Failure("p", "b", "m")) == (
        "Validation failed for ValidatingAdmissionPolicy 'p' with binding 'b': m")
