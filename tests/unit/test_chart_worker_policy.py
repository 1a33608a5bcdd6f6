"""The chart's worker isolation policy (templates/worker-policy.yaml) is the one
conveyor.controller.worker_policy builds, and the value worker.isolationPolicy turns it off."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from conveyor.controller.worker_policy import (
    POLICY_NAME,
    build_worker_policy_binding_spec,
    build_worker_policy_spec,
)

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "conveyor"
TEMPLATE = "templates/worker-policy.yaml"
POLICY_KINDS = ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")


def _render(*args: str) -> subprocess.CompletedProcess[str]:
    helm = REPO / ".tools" / "bin" / "helm"
    binary = str(helm) if helm.exists() else shutil.which("helm")
    if binary is None:
        pytest.skip("helm is not installed (make tools)")
    base = Path(os.environ.get("TMPDIR", "/tmp")) / "conveyor-helm"
    env = {**os.environ, "HELM_CACHE_HOME": str(base / "cache"), "HELM_CONFIG_HOME": str(base / "config"),
           "HELM_DATA_HOME": str(base / "data")}
    return subprocess.run(
        [binary, "template", "conveyor", str(CHART), "--namespace", "conveyor-system", "--set",
         "crds.install=false", *args],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )


def _policy_objects(*args: str) -> dict[str, dict[str, Any]]:
    proc = _render(*args)
    assert proc.returncode == 0, proc.stderr
    docs = [doc for doc in yaml.safe_load_all(proc.stdout) if doc]
    return {doc["kind"]: doc for doc in docs if doc["kind"] in POLICY_KINDS}


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
    proc = _render("--set", "serviceAccount.name=conveyor-worker-operator")
    assert proc.returncode != 0 and "may not be named conveyor-worker-*" in proc.stderr


def test_the_value_worker_isolation_policy_false_turns_it_off() -> None:
    proc = _render("--set", "worker.isolationPolicy=false")
    assert proc.returncode == 0, proc.stderr
    assert not any(doc and doc["kind"] in POLICY_KINDS for doc in yaml.safe_load_all(proc.stdout))
