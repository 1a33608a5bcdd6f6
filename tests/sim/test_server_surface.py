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
    """An unbound ServiceAccount is refused with 403 (who it is, not allowed), never 401 (unknown)."""
    server, _, ctx = _cluster(str(sim.kubeconfig))
    token = sim.api.token_for_service_account("default", "default")
    req = urllib.request.Request(
        f"{server}/api/v1/namespaces/default/configmaps", headers={"Authorization": f"Bearer {token}"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req, context=ctx)
    assert refused.value.code == 403
    status = json.loads(refused.value.read())
    assert status["reason"] == "Forbidden"
    assert 'User "system:serviceaccount:default:default"' in status["message"]


def test_default_namespace_has_the_kubernetes_service(kubectl):
    svc = json.loads(kubectl("get", "service", "kubernetes", "-n", "default", "-o", "json").stdout)
    assert svc["spec"]["clusterIP"] == "10.96.0.1"
    assert [(p["name"], p["port"], p["protocol"]) for p in svc["spec"]["ports"]] == [("https", 443, "TCP")]


def _request(kubeconfig, method, path, body=b"", headers=None):
    """(status, headers, body) of one raw request with the kubeconfig's admin token."""
    server, token, ctx = _cluster(kubeconfig)
    req = urllib.request.Request(
        f"{server}{path}",
        data=body or None,
        method=method,
        headers={"Authorization": f"Bearer {token}", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=30) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def _ld(number, payload):
    """One length-delimited protobuf field (payloads here are shorter than 128 bytes)."""
    data = payload.encode() if isinstance(payload, str) else payload
    return bytes([number << 3 | 2, len(data)]) + data


def _k8s_protobuf(api_version, kind, raw):
    """A body in kube's protobuf envelope: magic, then runtime.Unknown{typeMeta, raw}."""
    return b"k8s\x00" + _ld(1, _ld(1, api_version) + _ld(2, kind)) + _ld(2, raw)


def test_unsupported_body_type_lists_protobuf_among_accepted_types(kubeconfig):
    status, _, body = _request(
        kubeconfig, "POST", "/api/v1/namespaces/default/configmaps", b"x", {"Content-Type": "text/plain"}
    )
    assert status == 415
    assert "application/vnd.kubernetes.protobuf" in json.loads(body)["message"]


def test_protobuf_content_type_is_matched_without_regard_to_case(kubeconfig, kubectl, namespace):
    raw = _ld(1, _ld(1, "pb-case"))  # ConfigMap{metadata: {name}}
    status, _, body = _request(
        kubeconfig,
        "POST",
        f"/api/v1/namespaces/{namespace}/configmaps",
        _k8s_protobuf("v1", "ConfigMap", raw),
        {"Content-Type": "Application/Vnd.Kubernetes.Protobuf"},
    )
    assert status == 201, body
    kubectl("get", "configmap", "pb-case", "-n", namespace)


def test_protobuf_delete_options_are_honoured(kubeconfig, kubectl, namespace):
    kubectl("create", "configmap", "doomed", "-n", namespace)
    options = _k8s_protobuf("v1", "DeleteOptions", _ld(4, "Foreground"))
    status, _, _ = _request(
        kubeconfig,
        "DELETE",
        f"/api/v1/namespaces/{namespace}/configmaps/doomed",
        options,
        {"Content-Type": "application/vnd.kubernetes.protobuf"},
    )
    assert status == 202  # Foreground: accepted, finishing in the background


def test_openapi_v2_is_served_as_protobuf_when_asked(kubeconfig):
    accept = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
    status, headers, body = _request(kubeconfig, "GET", "/openapi/v2", headers={"Accept": accept})
    assert status == 200
    assert headers["Content-Type"] == "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    assert body[:1] == b"\x0a"  # field 1 (swagger: "2.0"), not JSON


def test_openapi_v2_is_json_for_other_clients(kubeconfig):
    status, _, body = _request(kubeconfig, "GET", "/openapi/v2", headers={"Accept": "application/json"})
    assert status == 200 and json.loads(body)["swagger"] == "2.0"


def test_kubectl_auth_can_i_answers_for_the_admin(kubectl):
    assert kubectl("auth", "can-i", "create", "pods").stdout.strip() == "yes"


def test_kubectl_auth_whoami_shows_the_admin_in_system_masters(kubectl):
    info = json.loads(kubectl("auth", "whoami", "-o", "json").stdout)
    assert info["kind"] == "SelfSubjectReview"
    assert "system:masters" in info["status"]["userInfo"]["groups"]


def test_access_reviews_are_create_only_in_discovery(kubectl):
    out = kubectl("api-resources", "--api-group=authorization.k8s.io", "-o", "wide").stdout
    row = next(line for line in out.splitlines() if line.startswith("selfsubjectaccessreviews "))
    assert row.split()[-1] == "create"


@pytest.mark.sim_only
def test_service_account_whoami_names_its_groups(sim, kubectl):
    token = sim.api.token_for_service_account("default", "default")
    info = json.loads(kubectl("--token", token, "auth", "whoami", "-o", "json").stdout)
    assert info["status"]["userInfo"] == {
        "username": "system:serviceaccount:default:default",
        "groups": ["system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"],
    }


@pytest.mark.sim_only
def test_service_account_can_i_follows_its_role_bindings(sim, kubectl, namespace):
    token = sim.api.token_for_service_account(namespace, "default")
    ask = ("--token", token, "auth", "can-i", "list", "pods", "-n", namespace)
    assert kubectl(*ask, check=False).stdout.strip() == "no"
    kubectl("create", "role", "reader", "-n", namespace, "--verb=get,list", "--resource=pods")
    kubectl(
        "create", "rolebinding", "reader", "-n", namespace, "--role=reader",
        f"--serviceaccount={namespace}:default",
    )
    assert kubectl(*ask).stdout.strip() == "yes"


@pytest.mark.sim_only
def test_openapi_definitions_are_warmed_at_start_without_a_request():
    from kubetest import wait_for

    from conveyor.sim import openapi
    from conveyor.sim.app import SimServer

    openapi.builtin_definitions.cache_clear()
    openapi._builtin_gvk_index.cache_clear()
    with SimServer.run_in_thread():
        wait_for(lambda: openapi._builtin_gvk_index.cache_info().currsize == 1, 30, "warm definitions")
