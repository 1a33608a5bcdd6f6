"""The validating admission webhook (issue 8, "Bad input"), served by a running operator's kopf
webhook server over HTTPS and called as the API server calls it: AdmissionReview v1 documents
POSTed to `https://<host>:<port>/<handler id>`.

What must hold: a request the controller would fail is refused with the controller's own message
(Invalid and Rejected alike); a request the controller would accept (queued, forced...) is allowed;
writes by the operator and the workers (status, metadata) are never refused.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import aiohttp
import pytest
import yaml
from operator_harness import Cluster, OperatorThread, wait_for

from conveyor.admission import messages
from conveyor.api.config import OperatorConfig
from conveyor.api.names import GROUP, VERSION
from conveyor.controller import requests
from conveyor.controller.webhook import DEPLOYMENTS_WEBHOOK, EXECUTIONS_WEBHOOK, WebhookOptions
from conveyor.sim import certs


class Webhook:
    """POSTs AdmissionReviews to the operator's webhook, trusting only the test's CA."""

    def __init__(self, url: str, ca_pem: str, namespace: str) -> None:
        self.url = url.rstrip("/")
        self.ca_pem = ca_pem
        self.context = ssl.create_default_context(cadata=ca_pem)
        self.namespace = namespace

    def review(
        self,
        handler: str,
        obj: dict[str, Any],
        *,
        operation: str = "CREATE",
        old: dict[str, Any] | None = None,
        sub_resource: str | None = None,
    ) -> dict[str, Any]:
        plural = "executions" if obj["kind"] == "Execution" else "deployments"
        request: dict[str, Any] = {
            "uid": str(uuid.uuid4()),
            "kind": {"group": GROUP, "version": VERSION, "kind": obj["kind"]},
            "resource": {"group": GROUP, "version": VERSION, "resource": plural},
            "namespace": self.namespace,
            "name": obj["metadata"]["name"],
            "operation": operation,
            "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
            "object": obj,
            "oldObject": old,
            "dryRun": False,
        }
        if sub_resource is not None:
            request["subResource"] = sub_resource
        review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}

        async def post() -> dict[str, Any]:
            url = f"{self.url}/{handler}"
            async with (
                aiohttp.ClientSession() as session,
                session.post(url, json=review, ssl=self.context) as reply,
            ):
                assert reply.status == 200, await reply.text()
                answer: dict[str, Any] = await reply.json()
            assert answer["response"]["uid"] == request["uid"]
            return answer["response"]

        return asyncio.run(post())


@pytest.fixture
def webhook(
    tmp_path: Path, start_operator: Callable[..., OperatorThread], cluster: Cluster, namespace: str
) -> Webhook:
    pair = certs.generate(["127.0.0.1"])
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    cert.write_text(pair.cert_pem + pair.ca_pem)
    key.write_text(pair.key_pem)
    thread = start_operator(webhook=WebhookOptions(port=0, certfile=str(cert), keyfile=str(key)))
    assert thread.operator is not None and thread.operator.webhook is not None
    endpoint = thread.operator.webhook
    url = wait_for(lambda: endpoint.url, 15, "the webhook server to listen")
    return Webhook(url, pair.ca_pem, namespace)


def _execution(namespace: str, name: str, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"deployment": "web", "workflow": "install"}
    body.update(spec)
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Execution",
        "metadata": {
            "name": name, "namespace": namespace, "uid": str(uuid.uuid4()),
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "spec": body,
    }


def _manifest(namespace: str, name: str, **spec: Any) -> str:
    """What a user gives kubectl: the Execution without what the API server fills in."""
    obj = _execution(namespace, name, **spec)
    obj["metadata"] = {"name": name, "namespace": namespace}
    return yaml.safe_dump(obj)


def _running(cluster: Cluster) -> str:
    """A plain execution of `web`, admitted by the operator (pending: it holds the deployment Lease)."""
    name = cluster.execution()
    cluster.wait_phase(name, "pending")
    return name


def test_an_invalid_execution_is_refused_with_the_controller_message(
    webhook: Webhook, cluster: Cluster, namespace: str
) -> None:
    cluster.deployment()
    obj = _execution(namespace, "bad", workflow="uninstall")
    answer = webhook.review(EXECUTIONS_WEBHOOK, obj)
    deployment = cast(
        dict[str, Any],
        cluster.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "deployments", "web"),
    )
    expected = requests.invalid_reason(obj, deployment, namespace, OperatorConfig())
    assert expected is not None
    assert answer["allowed"] is False
    assert answer["status"] == {"message": expected, "code": 422}


def test_an_execution_of_a_missing_deployment_is_refused_with_the_controller_message(
    webhook: Webhook, namespace: str
) -> None:
    answer = webhook.review(EXECUTIONS_WEBHOOK, _execution(namespace, "lost", deployment="nowhere"))
    assert answer["allowed"] is False
    assert answer["status"]["message"] == requests.unknown_deployment(namespace, "nowhere")


def test_a_plain_execution_while_another_runs_is_refused_with_the_controller_message(
    webhook: Webhook, cluster: Cluster, namespace: str
) -> None:
    cluster.deployment()
    first = _running(cluster)
    answer = webhook.review(EXECUTIONS_WEBHOOK, _execution(namespace, "second"))
    assert answer["allowed"] is False
    assert answer["status"] == {"message": messages.deployment_busy([first]), "code": 409}


def test_the_controller_rejects_with_the_same_message_the_webhook_gives(
    webhook: Webhook, cluster: Cluster, namespace: str
) -> None:
    cluster.deployment()
    _running(cluster)
    refused = webhook.review(EXECUTIONS_WEBHOOK, _execution(namespace, "second"))
    rejected = cluster.wait_phase(cluster.execution(), "failed")  # no webhook configured on the cluster
    assert rejected["status"]["error"] == refused["status"]["message"]


def test_a_queued_execution_while_another_runs_is_allowed(
    webhook: Webhook, cluster: Cluster, namespace: str
) -> None:
    cluster.deployment()
    _running(cluster)
    assert webhook.review(EXECUTIONS_WEBHOOK, _execution(namespace, "later", queue=True))["allowed"] is True


def test_a_plain_execution_with_nothing_running_is_allowed(
    webhook: Webhook, cluster: Cluster, namespace: str
) -> None:
    cluster.deployment()
    assert webhook.review(EXECUTIONS_WEBHOOK, _execution(namespace, "now"))["allowed"] is True


def test_status_updates_are_allowed_even_while_the_deployment_is_busy(
    webhook: Webhook, cluster: Cluster, namespace: str
) -> None:
    cluster.deployment()
    first = _running(cluster)
    current = cluster.get(first)
    assert current is not None
    moved = {**current, "status": {**current["status"], "phase": "started"}}
    answer = webhook.review(EXECUTIONS_WEBHOOK, moved, operation="UPDATE", old=current, sub_resource="status")
    assert answer["allowed"] is True


def test_metadata_updates_of_an_undecided_execution_are_allowed(
    webhook: Webhook, cluster: Cluster, namespace: str
) -> None:
    cluster.deployment()
    _running(cluster)
    undecided = _execution(namespace, "second")
    labelled = {**undecided, "metadata": {**undecided["metadata"], "labels": {f"{GROUP}/deployment": "web"}}}
    assert webhook.review(EXECUTIONS_WEBHOOK, labelled, operation="UPDATE", old=undecided)["allowed"] is True


def test_an_invalid_deployment_is_refused(webhook: Webhook, namespace: str) -> None:
    bad = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {"workflows": {"install": {"mapping": "web.install", "parameters": {
            "replicas": {"type": "integer", "default": "three"},
        }}}},
    }
    answer = webhook.review(DEPLOYMENTS_WEBHOOK, bad)
    assert answer["allowed"] is False
    assert answer["status"]["message"] == (
        'Parameter "replicas" must be of type integer, its default is "three" (string)'
    )


@pytest.mark.sim_only  # the API server must reach the test's webhook at 127.0.0.1
def test_kubectl_create_of_a_refused_execution_fails_with_the_controller_message(
    webhook: Webhook, cluster: Cluster, namespace: str, kubectl: Any
) -> None:
    cluster.deployment()
    first = _running(cluster)
    name = f"conveyor-webhook-{namespace}"
    configuration = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [{
            "name": "executions.webhook.conveyor.dev",
            "clientConfig": {
                "url": f"{webhook.url}/{EXECUTIONS_WEBHOOK}",
                "caBundle": base64.b64encode(webhook.ca_pem.encode()).decode(),
            },
            "rules": [{
                "apiGroups": [GROUP], "apiVersions": [VERSION], "resources": ["executions"],
                "operations": ["CREATE"], "scope": "Namespaced",
            }],
            # Only this test's namespace: the local control plane is shared by the whole session.
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "failurePolicy": "Ignore",
            "timeoutSeconds": 5,
        }],
    }
    cluster.apply(configuration)
    try:
        refused = kubectl("create", "-f", "-", input=_manifest(namespace, "second"), check=False)
        assert refused.returncode != 0
        assert messages.deployment_busy([first]) in refused.stderr
        assert cluster.get("second") is None
        kubectl("create", "-f", "-", input=_manifest(namespace, "third", queue=True))
        cluster.wait_phase("third", "queued")
    finally:
        kubectl("delete", "validatingwebhookconfiguration", name, "--ignore-not-found", check=False)


def test_without_a_certificate_the_webhook_serves_a_self_signed_one_its_ca_bundle_verifies(
    start_operator: Callable[..., OperatorThread], cluster: Cluster, namespace: str
) -> None:
    thread = start_operator(webhook=WebhookOptions(port=0))
    assert thread.operator is not None and thread.operator.webhook is not None
    endpoint = thread.operator.webhook
    url = wait_for(lambda: endpoint.url, 15, "the webhook server to listen")
    assert endpoint.ca_bundle is not None
    local = Webhook(url, base64.b64decode(endpoint.ca_bundle).decode(), namespace)
    answer = local.review(EXECUTIONS_WEBHOOK, _execution(namespace, "lost", deployment="nowhere"))
    assert answer["status"]["message"] == requests.unknown_deployment(namespace, "nowhere")
