"""The server's fixed surface: version, health, discovery, authentication, unknown kinds."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request

import pytest
import yaml


def _cluster(kubeconfig: str) -> tuple[str, str, ssl.SSLContext]:
    import base64

    with open(kubeconfig) as f:
        cfg = yaml.safe_load(f)
    cluster = cfg["clusters"][0]["cluster"]
    ctx = ssl.create_default_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
    return cluster["server"], cfg["users"][0]["user"].get("token", ""), ctx


def test_version_reports_kubernetes_1_35(kubectl):
    info = json.loads(kubectl("get", "--raw", "/version").stdout)
    assert info["major"] == "1" and info["minor"] == "35"
    assert info["gitVersion"].startswith("v1.35")


def test_health_endpoints_answer_ok(kubectl):
    for path in ("/healthz", "/readyz", "/livez"):
        assert kubectl("get", "--raw", path).stdout.strip() == "ok"


def test_request_without_token_is_401_unauthorized(kubeconfig):
    server, _, ctx = _cluster(kubeconfig)
    try:
        urllib.request.urlopen(f"{server}/api/v1/namespaces", context=ctx)
        raise AssertionError("expected 401")
    except urllib.error.HTTPError as err:
        assert err.code == 401
        body = json.loads(err.read())
        assert body["kind"] == "Status" and body["reason"] == "Unauthorized"


def test_fresh_cluster_has_system_namespaces(kubectl):
    names = kubectl("get", "namespaces", "-o", "name").stdout.split()
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        assert f"namespace/{ns}" in names


def test_every_namespace_gets_default_serviceaccount_and_root_ca(kubectl, namespace):
    kubectl("get", "serviceaccount", "default", "-n", namespace)
    ca = kubectl("get", "configmap", "kube-root-ca.crt", "-n", namespace, "-o", "jsonpath={.data.ca\\.crt}")
    assert "BEGIN CERTIFICATE" in ca.stdout


def test_api_resources_lists_builtin_kinds(kubectl):
    out = kubectl("api-resources", "-o", "name").stdout.split()
    for name in (
        "configmaps",
        "pods",
        "deployments.apps",
        "jobs.batch",
        "leases.coordination.k8s.io",
        "customresourcedefinitions.apiextensions.k8s.io",
    ):
        assert name in out


def test_unknown_kind_is_rejected_with_no_matches(kubectl):
    proc = kubectl("get", "frobnicators", check=False)
    assert proc.returncode != 0
    assert "the server doesn't have a resource type" in proc.stderr


def test_unknown_resource_url_is_404_status(kubectl):
    proc = kubectl("get", "--raw", "/apis/apps/v1/namespaces/default/frobs", check=False)
    assert proc.returncode != 0
    assert "NotFound" in proc.stderr or "could not find the requested resource" in proc.stderr


@pytest.mark.sim_only
def test_serviceaccount_token_authenticates(sim):
    server, _, ctx = _cluster(str(sim.kubeconfig))
    token = sim.api.token_for_service_account("default", "default")
    req = urllib.request.Request(
        f"{server}/api/v1/namespaces/default/configmaps", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(req, context=ctx) as resp:
        assert json.loads(resp.read())["kind"] == "ConfigMapList"
