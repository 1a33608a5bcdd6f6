"""The Helm chart's optional admission webhook (`webhook.enabled`): off by default; when on, valid
Kubernetes 1.35 objects that send only new requests (no subresources, Executions on CREATE) to the
operator's webhook server, over a certificate the API server can verify, from Helm or cert-manager."""

from __future__ import annotations

import base64
from typing import Any

import kubernetes_validate
import pytest
from cryptography import x509
from helm_chart import CHART, KUBERNETES_VERSION, NAMESPACE, RELEASE, helm, of_kind, render

from conveyor.controller.webhook import DEPLOYMENTS_WEBHOOK, EXECUTIONS_WEBHOOK

SERVICE = f"{RELEASE}-operator-webhook"
ENABLED = ("--set", "webhook.enabled=true")
CERT_MANAGER = (*ENABLED, "--set", "webhook.certManager.enabled=true")


def _pod(docs: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    (deployment,) = of_kind(docs, "Deployment")
    pod: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return pod


def _configuration(docs: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    (configuration,) = of_kind(docs, "ValidatingWebhookConfiguration")
    return configuration


def _mounted_secret(docs: tuple[dict[str, Any], ...]) -> str:
    pod = _pod(docs)
    (volume,) = [v for v in pod["volumes"] if v["name"] == "webhook-tls"]
    (mount,) = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "webhook-tls"]
    args = pod["containers"][0]["args"]
    assert f"--webhook-cert={mount['mountPath']}/tls.crt" in args
    assert f"--webhook-key={mount['mountPath']}/tls.key" in args
    name: str = volume["secret"]["secretName"]
    return name


@pytest.mark.parametrize("values", ["helm-certificate", "cert-manager"])
def test_helm_lint_is_clean_with_the_webhook(values: str) -> None:
    proc = helm("lint", "--strict", str(CHART), *(ENABLED if values == "helm-certificate" else CERT_MANAGER))
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("values", ["helm-certificate", "cert-manager", "watch-namespaces"])
def test_every_rendered_object_with_the_webhook_is_valid_against_the_kubernetes_schemas(values: str) -> None:
    extra = {"helm-certificate": ENABLED, "cert-manager": CERT_MANAGER,
             "watch-namespaces": (*ENABLED, "--set", "watchNamespaces={shop}")}[values]
    for doc in render(*extra):
        if doc["apiVersion"].startswith(("cert-manager.io/", "monitoring.coreos.com/")):
            continue  # not Kubernetes types
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_webhook_is_off_by_default() -> None:
    docs = render()
    assert of_kind(docs, "ValidatingWebhookConfiguration") == []
    assert not any(arg.startswith("--webhook") for arg in _pod(docs)["containers"][0]["args"])


def test_the_webhook_service_reaches_the_operator_webhook_port() -> None:
    docs = render(*ENABLED)
    (service,) = [s for s in of_kind(docs, "Service") if s["metadata"]["name"] == SERVICE]
    container = _pod(docs)["containers"][0]
    (port,) = [p for p in container["ports"] if p["name"] == "webhook"]
    assert service["spec"]["ports"][0]["targetPort"] == "webhook"
    assert f"--webhook-port={port['containerPort']}" in container["args"]


def test_the_webhooks_call_the_operator_handlers_by_their_paths() -> None:
    hooks = _configuration(render(*ENABLED))["webhooks"]
    paths = {hook["clientConfig"]["service"]["path"] for hook in hooks}
    assert paths == {f"/{EXECUTIONS_WEBHOOK}", f"/{DEPLOYMENTS_WEBHOOK}"}


def test_only_new_requests_are_sent_executions_on_create_and_no_subresource() -> None:
    rules = {
        rule["resources"][0]: rule["operations"]
        for hook in _configuration(render(*ENABLED))["webhooks"]
        for rule in hook["rules"]
    }
    assert rules == {"executions": ["CREATE"], "deployments": ["CREATE", "UPDATE"]}


def test_a_down_webhook_lets_requests_through_by_default() -> None:
    for hook in _configuration(render(*ENABLED))["webhooks"]:
        assert hook["failurePolicy"] == "Ignore"
        assert hook["sideEffects"] == "None"
        assert hook["admissionReviewVersions"] == ["v1"]
        assert hook["timeoutSeconds"] <= 10


def test_failure_policy_comes_from_the_values() -> None:
    hooks = _configuration(render(*ENABLED, "--set", "webhook.failurePolicy=Fail"))["webhooks"]
    assert {hook["failurePolicy"] for hook in hooks} == {"Fail"}


def test_the_helm_certificate_is_for_the_service_and_trusted_by_the_ca_bundle() -> None:
    docs = render(*ENABLED)
    secret_name = _mounted_secret(docs)
    (secret,) = [s for s in of_kind(docs, "Secret") if s["metadata"]["name"] == secret_name]
    certificate = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert f"{SERVICE}.{NAMESPACE}.svc" in names.get_values_for_type(x509.DNSName)
    ca = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["ca.crt"]))
    certificate.verify_directly_issued_by(ca)
    for hook in _configuration(docs)["webhooks"]:
        assert hook["clientConfig"]["caBundle"] == secret["data"]["ca.crt"]
        assert hook["clientConfig"]["service"]["name"] == SERVICE


def test_cert_manager_issues_the_mounted_secret_and_injects_the_ca() -> None:
    docs = render(*CERT_MANAGER)
    (certificate,) = of_kind(docs, "Certificate")
    (issuer,) = of_kind(docs, "Issuer")
    configuration = _configuration(docs)
    assert certificate["spec"]["secretName"] == _mounted_secret(docs)
    assert certificate["spec"]["issuerRef"]["name"] == issuer["metadata"]["name"]
    assert f"{SERVICE}.{NAMESPACE}.svc" in certificate["spec"]["dnsNames"]
    assert configuration["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == (
        f"{NAMESPACE}/{certificate['metadata']['name']}"
    )
    assert all("caBundle" not in hook["clientConfig"] for hook in configuration["webhooks"])
    assert [s for s in of_kind(docs, "Secret") if s["metadata"]["name"] == _mounted_secret(docs)] == []


def test_cert_manager_with_an_issuer_of_the_user_makes_no_issuer() -> None:
    docs = render(*CERT_MANAGER, "--set", "webhook.certManager.issuerRef.name=corp-ca",
                   "--set", "webhook.certManager.issuerRef.kind=ClusterIssuer")
    (certificate,) = of_kind(docs, "Certificate")
    assert of_kind(docs, "Issuer") == []
    assert certificate["spec"]["issuerRef"]["kind"] == "ClusterIssuer"


def test_watched_namespaces_scope_the_webhook() -> None:
    hooks = _configuration(render(*ENABLED, "--set", "watchNamespaces={shop}"))["webhooks"]
    for hook in hooks:
        (expression,) = hook["namespaceSelector"]["matchExpressions"]
        assert expression["key"] == "kubernetes.io/metadata.name"
        assert sorted(expression["values"]) == ["conveyor-system", "shop"]


def test_writes_of_the_operator_and_the_system_worker_are_never_sent_to_the_webhook() -> None:
    docs = render(*ENABLED)
    account = _pod(docs)["serviceAccountName"]
    for hook in _configuration(docs)["webhooks"]:
        (condition,) = hook["matchConditions"]
        assert f"'system:serviceaccount:{NAMESPACE}:{account}'" in condition["expression"]
        assert f"'system:serviceaccount:{NAMESPACE}:conveyor-worker'" in condition["expression"]
        assert condition["expression"].startswith("!(request.userInfo.username in [")
