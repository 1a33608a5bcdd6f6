"""ValidatingAdmissionPolicies enforced by the local control plane, driven with real kubectl 1.35 and
ServiceAccount tokens: denials worded as kube-apiserver words them, Warn actions as warnings,
dry runs, deletes and subresources judged, and the worker rule Conveyor needs (a worker may write
only the Executions of its own deployment).

Every policy here is bound to the test's own namespace (namespaceSelector on
kubernetes.io/metadata.name) and removed afterwards, so other tests sharing the session's control
plane never meet it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]

Kubectl = Callable[..., Any]
Bind = Callable[..., str]


@pytest.fixture
def bind(kubectl: Kubectl, namespace: str) -> Iterator[Bind]:
    """`bind(spec, actions=["Deny"]) -> name`: a policy with `spec` (its matchConstraints limited to
    the test's namespace) and a binding of the same name; both deleted at the end."""
    names: list[str] = []

    def make(spec: dict[str, Any], actions: tuple[str, ...] = ("Deny",)) -> str:
        name = f"{namespace}-{len(names)}.conveyor.test"
        constraints = spec.setdefault("matchConstraints", {})
        constraints["namespaceSelector"] = {"matchLabels": {"kubernetes.io/metadata.name": namespace}}
        docs = [
            {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
             "metadata": {"name": name}, "spec": spec},
            {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
             "metadata": {"name": name}, "spec": {"policyName": name, "validationActions": list(actions)}},
        ]
        kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs))
        names.append(name)
        return name

    yield make
    for name in names:
        kubectl("delete", "validatingadmissionpolicybinding,validatingadmissionpolicy", name,
                "--ignore-not-found", check=False)


def configmap_rule(*operations: str) -> dict[str, Any]:
    return {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": list(operations),
                               "resources": ["configmaps"]}]}


AT_MOST_ONE_KEY = "!has(object.data) || size(object.data) <= 1"


def refusal(proc: Any) -> str:
    assert proc.returncode != 0, proc.stdout
    return str(proc.stderr.strip().splitlines()[-1])


def cm(name: str, **data: str) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})


# -- the API ---------------------------------------------------------------------------------------
def test_kubectl_creates_gets_and_reapplies_policies_and_bindings(kubectl: Kubectl, bind: Bind) -> None:
    name = bind({"matchConstraints": configmap_rule("CREATE"), "validations": [{"expression": "true"}]})
    assert name in kubectl("get", "validatingadmissionpolicies", "-o", "name").stdout
    binding = json.loads(kubectl("get", "validatingadmissionpolicybinding", name, "-o", "json").stdout)
    assert binding["spec"]["policyName"] == name
    assert "validatingadmissionpolicies.admissionregistration.k8s.io" in kubectl(
        "api-resources", "--api-group=admissionregistration.k8s.io", "-o", "name").stdout


# -- denials as kubectl shows them -----------------------------------------------------------------
def test_a_denied_create_is_forbidden_in_kubes_words(kubectl: Kubectl, namespace: str, bind: Bind) -> None:
    name = bind({"matchConstraints": configmap_rule("CREATE"),
                 "validations": [{"expression": AT_MOST_ONE_KEY}]})
    proc = kubectl("create", "configmap", "two", "-n", namespace, "--from-literal=a=1", "--from-literal=b=2",
                   check=False)
    assert refusal(proc) == (
        f"error: failed to create configmap: configmaps \"two\" is forbidden: ValidatingAdmissionPolicy "
        f"'{name}' with binding '{name}' denied request: failed expression: {AT_MOST_ONE_KEY}")
    assert kubectl("get", "configmap", "two", "-n", namespace, check=False).returncode != 0


def test_a_denial_without_reason_is_422_invalid_as_kubectl_apply_shows(
    kubectl: Kubectl, namespace: str, bind: Bind
) -> None:
    name = bind({"matchConstraints": configmap_rule("CREATE"),
                 "validations": [{"expression": AT_MOST_ONE_KEY, "message": "one key at most"}]})
    proc = kubectl("apply", "-n", namespace, "-f", "-", input=cm("two", a="1", b="2"), check=False)
    assert refusal(proc) == (
        f"The configmaps \"two\" is invalid: : ValidatingAdmissionPolicy '{name}' with binding '{name}' "
        "denied request: one key at most")


def test_the_validation_reason_sets_status_reason_and_code(
    kubectl: Kubectl, namespace: str, bind: Bind
) -> None:
    bind({"matchConstraints": configmap_rule("CREATE"),
          "validations": [{"expression": AT_MOST_ONE_KEY, "reason": "Forbidden", "message": "no"}]})
    proc = kubectl("create", "--raw", f"/api/v1/namespaces/{namespace}/configmaps", "-f", "-",
                   input=json.dumps({"metadata": {"name": "two"}, "data": {"a": "1", "b": "2"}}), check=False)
    assert "Error from server (Forbidden)" in refusal(proc)


def test_a_message_expression_words_the_denial(kubectl: Kubectl, namespace: str, bind: Bind) -> None:
    bind({"matchConstraints": configmap_rule("CREATE"),
          "validations": [{"expression": AT_MOST_ONE_KEY,
                           "messageExpression": "'found ' + string(size(object.data)) + ' keys'"}]})
    proc = kubectl("apply", "-n", namespace, "-f", "-", input=cm("two", a="1", b="2"), check=False)
    assert refusal(proc).endswith("denied request: found 2 keys")


def test_an_update_is_judged_on_the_patched_object(kubectl: Kubectl, namespace: str, bind: Bind) -> None:
    kubectl("create", "configmap", "one", "-n", namespace, "--from-literal=a=1")
    bind({"matchConstraints": configmap_rule("UPDATE"), "validations": [{"expression": AT_MOST_ONE_KEY}]})
    proc = kubectl("patch", "configmap", "one", "-n", namespace, "-p", '{"data":{"b":"2"}}', check=False)
    assert "denied request: failed expression" in refusal(proc)
    assert kubectl("patch", "configmap", "one", "-n", namespace, "-p", '{"data":{"a":"9"}}').returncode == 0


def test_policies_outside_their_namespace_selector_do_not_apply(
    kubectl: Kubectl, namespace: str, bind: Bind
) -> None:
    bind({"matchConstraints": configmap_rule("CREATE"), "validations": [{"expression": "false"}]})
    other = f"t-{uuid.uuid4().hex[:8]}"
    kubectl("create", "namespace", other)
    try:
        assert kubectl("create", "configmap", "free", "-n", other).returncode == 0
    finally:
        kubectl("delete", "namespace", other, "--wait=false", check=False)


# -- actions, dry run, delete ----------------------------------------------------------------------
def test_the_warn_action_admits_with_a_warning(kubectl: Kubectl, namespace: str, bind: Bind) -> None:
    name = bind({"matchConstraints": configmap_rule("CREATE"),
                 "validations": [{"expression": AT_MOST_ONE_KEY, "message": "one key at most"}]},
                actions=("Warn",))
    proc = kubectl("apply", "-n", namespace, "-f", "-", input=cm("two", a="1", b="2"))
    assert (f"Warning: Validation failed for ValidatingAdmissionPolicy '{name}' with binding '{name}': "
            "one key at most") in proc.stderr
    assert kubectl("get", "configmap", "two", "-n", namespace).returncode == 0


def test_the_audit_action_admits_silently(kubectl: Kubectl, namespace: str, bind: Bind) -> None:
    bind({"matchConstraints": configmap_rule("CREATE"), "validations": [{"expression": "false"}]},
         actions=("Audit",))
    proc = kubectl("create", "configmap", "free", "-n", namespace)
    assert "Warning" not in proc.stderr


def test_a_server_dry_run_is_judged_and_says_so_in_the_request(
    kubectl: Kubectl, namespace: str, bind: Bind
) -> None:
    bind({"matchConstraints": configmap_rule("CREATE"),
          "validations": [{"expression": "!request.dryRun", "message": "no dry runs here"}]})
    proc = kubectl("create", "configmap", "x", "-n", namespace, "--dry-run=server", check=False)
    assert refusal(proc).endswith("denied request: no dry runs here")
    assert kubectl("create", "configmap", "x", "-n", namespace).returncode == 0


def test_a_delete_is_judged_on_the_old_object(kubectl: Kubectl, namespace: str, bind: Bind) -> None:
    kubectl("create", "configmap", "keep", "-n", namespace)
    kubectl("label", "configmap", "keep", "-n", namespace, "protected=true")
    kubectl("create", "configmap", "drop", "-n", namespace)
    bind({"matchConstraints": configmap_rule("DELETE"),
          "validations": [{"expression": "object == null && !has(oldObject.metadata.labels)",
                           "message": "protected"}]})
    assert "denied request: protected" in refusal(
        kubectl("delete", "configmap", "keep", "-n", namespace, check=False))
    assert kubectl("delete", "configmap", "drop", "-n", namespace).returncode == 0


def test_a_warn_action_on_delete_is_shown_by_kubectl(kubectl: Kubectl, namespace: str, bind: Bind) -> None:
    kubectl("create", "configmap", "old", "-n", namespace)
    name = bind({"matchConstraints": configmap_rule("DELETE"),
                 "validations": [{"expression": "false", "message": "deleting old"}]}, actions=("Warn",))
    proc = kubectl("delete", "configmap", "old", "-n", namespace)
    assert (f"Warning: Validation failed for ValidatingAdmissionPolicy '{name}' with binding '{name}': "
            "deleting old") in proc.stderr


def test_warn_warnings_are_shown_with_a_later_denial(kubectl: Kubectl, namespace: str, bind: Bind) -> None:
    warned = bind({"matchConstraints": configmap_rule("CREATE"),
                   "validations": [{"expression": "false", "message": "noted"}]}, actions=("Warn",))
    bind({"matchConstraints": configmap_rule("CREATE"),
          "validations": [{"expression": "false", "message": "refused"}]})
    proc = kubectl("create", "configmap", "x", "-n", namespace, check=False)
    assert refusal(proc).endswith("denied request: refused")
    warning = f"Validation failed for ValidatingAdmissionPolicy '{warned}' with binding '{warned}': noted"
    assert f"Warning: {warning}" in proc.stderr


def test_a_policy_whose_expression_does_not_compile_is_invalid(kubectl: Kubectl) -> None:
    name = f"broken-{uuid.uuid4().hex[:8]}.conveyor.test"
    policy = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
              "metadata": {"name": name},
              "spec": {"matchConstraints": configmap_rule("CREATE"), "validations": [{"expression": "1 +"}]}}
    proc = kubectl("apply", "-f", "-", input=yaml.safe_dump(policy), check=False)
    assert proc.returncode != 0
    assert (f'The ValidatingAdmissionPolicy "{name}" is invalid: '  # kubectl apply's wording of a 422
            'spec.validations[0].expression: Invalid value: "1 +": compilation failed: ') in proc.stderr
    assert kubectl("get", "validatingadmissionpolicy", name, check=False).returncode != 0


def test_admission_configurations_are_never_judged(kubectl: Kubectl, bind: Bind) -> None:
    configs = {"resourceRules": [{"apiGroups": ["admissionregistration.k8s.io"], "apiVersions": ["*"],
                                  "operations": ["*"], "resources": ["*"]}]}
    first = bind({"matchConstraints": configs, "validations": [{"expression": "false"}]})
    second = bind({"matchConstraints": configs, "validations": [{"expression": "false"}]})
    kubectl("delete", "validatingadmissionpolicybinding,validatingadmissionpolicy", first, second)


# -- the worker rule: a ServiceAccount writes only its own deployment's Executions ------------------
WORKER_POLICY: dict[str, Any] = {
    "failurePolicy": "Fail",
    "matchConstraints": {"resourceRules": [{
        "apiGroups": ["conveyor.dev"], "apiVersions": ["*"], "operations": ["UPDATE"],
        "resources": ["executions", "executions/status"],
    }]},
    "matchConditions": [{
        "name": "conveyor-workers",
        "expression": "request.userInfo.username.startsWith("
                      "'system:serviceaccount:' + request.namespace + ':conveyor-worker-')",
    }],
    "variables": [{"name": "owner", "expression": "'system:serviceaccount:' + request.namespace + "
                                                  "':conveyor-worker-' + oldObject.spec.deployment"}],
    "validations": [
        {"expression": "has(oldObject.spec.deployment) && request.userInfo.username == variables.owner",
         "messageExpression": "request.userInfo.username + ' may not write executions of deployment ' "
                              "+ oldObject.spec.deployment",
         "reason": "Forbidden"},
        {"expression": "object.spec.deployment == oldObject.spec.deployment",
         "message": "a worker may not move an execution to another deployment", "reason": "Forbidden"},
    ],
}


@pytest.fixture(scope="module")
def crds(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", str(REPO / "crds"))
    kubectl("wait", "--for=condition=Established", "crd/executions.conveyor.dev", "--timeout=30s")


class Worker:
    """The ServiceAccount `conveyor-worker-<deployment>`, allowed by RBAC to patch every Execution
    of the namespace (status included): only the policy narrows it to its deployment."""

    def __init__(self, kubectl: Kubectl, namespace: str, deployment: str) -> None:
        self.name = f"conveyor-worker-{deployment}"
        self.namespace = namespace
        self.kubectl_admin = kubectl
        kubectl("create", "serviceaccount", self.name, "-n", namespace)
        kubectl("create", "role", self.name, "-n", namespace, "--verb=get,list,patch,update",
                "--resource=executions.conveyor.dev,executions.conveyor.dev/status")
        kubectl("create", "rolebinding", self.name, "-n", namespace, f"--role={self.name}",
                f"--serviceaccount={namespace}:{self.name}")
        self.token = kubectl("create", "token", self.name, "-n", namespace).stdout.strip()

    def patch_status(self, execution: str, status: dict[str, Any]) -> Any:
        return self.kubectl_admin(
            f"--token={self.token}", "patch", "execution", execution, "-n", self.namespace,
            "--subresource=status", "--type=merge", "-p", json.dumps({"status": status}), check=False)

    def patch_spec(self, execution: str, spec: dict[str, Any]) -> Any:
        return self.kubectl_admin(
            f"--token={self.token}", "patch", "execution", execution, "-n", self.namespace,
            "--type=merge", "-p", json.dumps({"spec": spec}), check=False)


@pytest.fixture
def executions(kubectl: Kubectl, namespace: str, crds: None) -> None:
    for name, deployment in (("web-1", "web"), ("api-1", "api")):
        kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump({
            "apiVersion": "conveyor.dev/v1alpha1", "kind": "Execution", "metadata": {"name": name},
            "spec": {"deployment": deployment, "workflow": "install"}}))


@pytest.fixture
def web_worker(kubectl: Kubectl, namespace: str, executions: None, bind: Bind) -> Worker:
    bind(json.loads(json.dumps(WORKER_POLICY)))
    return Worker(kubectl, namespace, "web")


def test_a_worker_writes_the_status_of_its_own_deployments_execution(web_worker: Worker) -> None:
    proc = web_worker.patch_status("web-1", {"phase": "started"})
    assert proc.returncode == 0, proc.stderr


def test_a_worker_may_not_write_the_status_of_another_deployments_execution(
    web_worker: Worker, namespace: str
) -> None:
    user = f"system:serviceaccount:{namespace}:conveyor-worker-web"
    assert refusal(web_worker.patch_status("api-1", {"phase": "started"})) == (
        f"Error from server (Forbidden): executions.conveyor.dev \"api-1\" is forbidden: "
        f"ValidatingAdmissionPolicy '{namespace}-0.conveyor.test' with binding '{namespace}-0.conveyor.test' "
        f"denied request: {user} may not write executions of deployment api")


def test_a_worker_may_not_patch_another_deployments_execution(web_worker: Worker) -> None:
    assert "may not write executions of deployment api" in refusal(
        web_worker.patch_spec("api-1", {"force": True}))


def test_a_worker_may_not_move_its_execution_to_another_deployment(web_worker: Worker) -> None:
    assert refusal(web_worker.patch_spec("web-1", {"deployment": "api"})).endswith(
        "denied request: a worker may not move an execution to another deployment")


def test_the_worker_rule_leaves_other_users_alone(
    web_worker: Worker, kubectl: Kubectl, namespace: str
) -> None:
    proc = kubectl("patch", "execution", "api-1", "-n", namespace, "--subresource=status", "--type=merge",
                   "-p", '{"status":{"phase":"started"}}')
    assert proc.returncode == 0
