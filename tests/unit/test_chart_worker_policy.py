"""The chart's worker isolation policy (templates/worker-policy.yaml) is the one
conveyor.controller.worker_policy builds, and the value worker.isolationPolicy turns it off."""

from __future__ import annotations

from typing import Any

from helm_chart import render, template

from conveyor.controller.worker_policy import (
    POLICY_NAME,
    build_worker_policy_binding_spec,
    build_worker_policy_spec,
)

POLICY_KINDS = ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")
NO_CRDS = ("--set", "crds.install=false")


def _policy_objects(*args: str) -> dict[str, dict[str, Any]]:
    return {doc["kind"]: doc for doc in render(*NO_CRDS, *args) if doc["kind"] in POLICY_KINDS}


def test_the_chart_policy_is_the_one_the_operator_code_builds() -> None:
    objects = _policy_objects()
    assert objects["ValidatingAdmissionPolicy"]["metadata"]["name"] == POLICY_NAME
    assert objects["ValidatingAdmissionPolicy"]["spec"] == build_worker_policy_spec()


def test_the_chart_binding_is_the_one_the_operator_code_builds() -> None:
    binding = _policy_objects()["ValidatingAdmissionPolicyBinding"]
    assert binding["metadata"]["name"] == POLICY_NAME
    assert binding["spec"] == build_worker_policy_binding_spec()


def test_the_policy_is_installed_on_a_cluster_that_serves_it() -> None:
    served = ("--api-versions", "admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration",
              "--api-versions", "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy")
    assert set(_policy_objects(*served)) == set(POLICY_KINDS)


def test_a_cluster_that_does_not_serve_the_policy_gets_none() -> None:
    """Kubernetes before 1.30: RBAC alone applies (docs/install.md says so)."""
    webhooks_only = "admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration"
    assert _policy_objects("--api-versions", webhooks_only) == {}
    assert _policy_objects("--kube-version", "1.29.0") == {}


def test_an_operator_account_the_policy_would_match_is_refused() -> None:
    proc = template(*NO_CRDS, "--set", "serviceAccount.name=conveyor-worker-operator")
    assert proc.returncode != 0 and "may not be named conveyor-worker-*" in proc.stderr


def test_the_value_worker_isolation_policy_false_turns_it_off() -> None:
    assert not _policy_objects("--set", "worker.isolationPolicy=false")
