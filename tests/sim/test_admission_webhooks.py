"""Validating admission webhooks of the local control plane, against a real HTTPS webhook server.

The webhook server runs in the test (aiohttp, a certificate from the sim's own CA helper). The
admission chain is called directly with the attributes of a write, over an in-process ApiService
whose store holds the ValidatingWebhookConfigurations, as the API service calls it.
"""

from __future__ import annotations

import asyncio
import base64
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from conveyor.sim import certs
from conveyor.sim.admission import chain
from conveyor.sim.admission.attributes import AdmissionAttributes, Operation
from conveyor.sim.api import ApiService
from conveyor.sim.errors import StatusError
from conveyor.sim.identity import user_info

pytestmark = pytest.mark.sim_only

ADMISSION = "admissionregistration.k8s.io"
CONFIGS = "validatingwebhookconfigurations"
DENIAL = "label owner is required"
WARNING = "spec.legacy is deprecated"


@dataclass
class WebhookServer:
    port: int
    ca_pem: str
    received: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ca_bundle(self) -> str:
        return base64.b64encode(self.ca_pem.encode()).decode()

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"


def _answer(review: dict[str, Any], **response: Any) -> web.Response:
    return web.json_response(
        {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "response": {"uid": review["request"]["uid"], **response},
        }
    )


@pytest.fixture(scope="module")
def serving_certs() -> certs.Certificates:
    return certs.generate(["hook.shop.svc"])


@pytest.fixture
async def server(serving_certs: certs.Certificates) -> AsyncIterator[WebhookServer]:
    """Paths: /allow, /deny, /warn, /slow (answers only when the test ends), /wrong-uid, and
    /together (answers once two calls are in flight at the same time)."""
    release, together = asyncio.Event(), asyncio.Event()
    state = WebhookServer(0, serving_certs.ca_pem)

    async def handle(request: web.Request) -> web.Response:
        review = await request.json()
        state.received.append(review)
        path = request.path
        if path == "/deny":
            return _answer(review, allowed=False, status={"code": 403, "message": DENIAL})
        if path == "/warn":
            return _answer(review, allowed=True, warnings=[WARNING])
        if path == "/slow":
            await release.wait()
        if path == "/wrong-uid":
            return web.json_response(
                {
                    "apiVersion": "admission.k8s.io/v1",
                    "kind": "AdmissionReview",
                    "response": {"uid": "not-the-request", "allowed": True},
                }
            )
        if path == "/together":
            if sum(r is not None for r in state.received) >= 2:
                together.set()
            await together.wait()
        return _answer(review, allowed=True)

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=serving_certs.ssl_context())
    await site.start()
    state.port = runner.addresses[0][1]
    yield state
    release.set()
    together.set()
    await runner.cleanup()


@pytest.fixture
def api() -> ApiService:
    service = ApiService()
    service.store.create(
        "",
        "namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": {"team": "web"}}},
    )
    return service


def configure(api: ApiService, *webhooks: dict[str, Any], name: str = "checks") -> None:
    api.store.create(
        ADMISSION,
        CONFIGS,
        {
            "apiVersion": f"{ADMISSION}/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": name},
            "webhooks": list(webhooks),
        },
    )


def webhook(
    server: WebhookServer, path: str = "/allow", name: str = "check.example.com", **fields: Any
) -> dict[str, Any]:
    hook: dict[str, Any] = {
        "name": name,
        "clientConfig": {"url": server.url(path), "caBundle": server.ca_bundle},
        "rules": [
            {
                "operations": ["CREATE", "UPDATE"],
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "resources": ["configmaps"],
            }
        ],
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
    }
    hook.update(fields)
    return hook


def configmap_write(
    operation: Operation = "CREATE",
    *,
    namespace: str = "shop",
    labels: dict[str, str] | None = None,
    dry_run: bool = False,
) -> AdmissionAttributes:
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": namespace, "labels": labels or {}},
        "data": {"a": "1"},
    }
    return AdmissionAttributes(
        operation=operation,
        group="",
        version="v1",
        resource="configmaps",
        subresource="",
        kind="ConfigMap",
        namespace=namespace,
        name="settings",
        object=obj,
        old_object=obj if operation == "UPDATE" else None,
        user=user_info("kubernetes-admin"),
        dry_run=dry_run,
        options={"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def admit(api: ApiService, attrs: AdmissionAttributes, warnings: list[str] | None = None) -> list[str]:
    """The warnings of an admitted write (added to `warnings` when given, refused or not)."""
    found = [] if warnings is None else warnings
    await asyncio.wait_for(chain.admit(api, attrs, found), 15)
    return found


async def refusal(
    api: ApiService, attrs: AdmissionAttributes | None = None, warnings: list[str] | None = None
) -> StatusError:
    with pytest.raises(StatusError) as err:
        await admit(api, attrs or configmap_write(), warnings)
    return err.value


async def test_an_allowing_webhook_lets_the_write_through(api: ApiService, server: WebhookServer) -> None:
    configure(api, webhook(server))
    assert await admit(api, configmap_write()) == []
    assert len(server.received) == 1


async def test_the_webhook_receives_an_admission_review_of_the_write(
    api: ApiService, server: WebhookServer
) -> None:
    configure(api, webhook(server))
    await admit(api, configmap_write())
    review = server.received[0]
    assert (review["apiVersion"], review["kind"]) == ("admission.k8s.io/v1", "AdmissionReview")
    request = review["request"]
    assert request["uid"] and request["operation"] == "CREATE"
    assert request["resource"] == {"group": "", "version": "v1", "resource": "configmaps"}
    assert (request["namespace"], request["name"]) == ("shop", "settings")
    assert request["object"]["data"] == {"a": "1"} and request["oldObject"] is None
    assert request["userInfo"]["username"] == "kubernetes-admin"


async def test_a_denying_webhook_refuses_with_its_code_and_message(
    api: ApiService, server: WebhookServer
) -> None:
    configure(api, webhook(server, "/deny"))
    err = await refusal(api)
    assert err.code == 403
    assert err.message == f'admission webhook "check.example.com" denied the request: {DENIAL}'


async def test_webhook_warnings_are_returned(api: ApiService, server: WebhookServer) -> None:
    configure(api, webhook(server, "/warn"))
    assert await admit(api, configmap_write()) == [WARNING]


async def test_warnings_of_an_earlier_check_go_with_a_webhook_refusal(
    api: ApiService, server: WebhookServer
) -> None:
    configmaps = {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                  "resources": ["configmaps"]}
    api.store.create(ADMISSION, "validatingadmissionpolicies", {
        "metadata": {"name": "warn"},
        "spec": {"matchConstraints": {"resourceRules": [configmaps]},
                 "validations": [{"expression": "false", "message": "looked at"}]}})
    api.store.create(ADMISSION, "validatingadmissionpolicybindings", {
        "metadata": {"name": "warn"}, "spec": {"policyName": "warn", "validationActions": ["Warn"]}})
    configure(api, webhook(server, "/warn", name="a.example.com"),
              webhook(server, "/deny", name="b.example.com"))
    warnings: list[str] = []
    err = await refusal(api, warnings=warnings)
    assert err.code == 403
    assert warnings == [
        "Validation failed for ValidatingAdmissionPolicy 'warn' with binding 'warn': looked at", WARNING]


async def test_an_unreachable_webhook_fails_the_write_under_failure_policy_fail(
    api: ApiService, server: WebhookServer
) -> None:
    port = free_port()
    configure(
        api,
        webhook(
            server, clientConfig={"url": f"https://127.0.0.1:{port}/allow", "caBundle": server.ca_bundle}
        ),
    )
    err = await refusal(api)
    assert (err.code, err.reason) == (500, "InternalError")
    assert err.message == (
        'Internal error occurred: failed calling webhook "check.example.com": failed to call webhook: '
        f'Post "https://127.0.0.1:{port}/allow?timeout=10s": '
        f"dial tcp 127.0.0.1:{port}: connect: connection refused"
    )


async def test_an_unreachable_webhook_is_skipped_under_failure_policy_ignore(
    api: ApiService, server: WebhookServer
) -> None:
    configure(
        api,
        webhook(
            server,
            failurePolicy="Ignore",
            clientConfig={"url": f"https://127.0.0.1:{free_port()}/", "caBundle": server.ca_bundle},
        ),
    )
    assert await admit(api, configmap_write()) == []


async def test_a_server_not_signed_by_the_ca_bundle_fails_the_call(
    api: ApiService, server: WebhookServer
) -> None:
    other_ca = base64.b64encode(certs.generate([]).ca_pem.encode()).decode()
    configure(api, webhook(server, clientConfig={"url": server.url("/allow"), "caBundle": other_ca}))
    err = await refusal(api)
    assert err.code == 500
    assert err.message.endswith(
        "tls: failed to verify certificate: x509: certificate signed by unknown authority"
    )
    assert server.received == []


async def test_a_webhook_slower_than_its_timeout_fails_the_call(
    api: ApiService, server: WebhookServer
) -> None:
    configure(api, webhook(server, "/slow", timeoutSeconds=1))
    err = await refusal(api)
    assert err.message.endswith(f'Post "{server.url("/slow")}?timeout=1s": context deadline exceeded')


async def test_an_answer_for_another_uid_fails_the_call(api: ApiService, server: WebhookServer) -> None:
    configure(api, webhook(server, "/wrong-uid"))
    err = await refusal(api)
    uid = server.received[0]["request"]["uid"]
    assert err.message == (
        'Internal error occurred: failed calling webhook "check.example.com": received invalid '
        f'webhook response: expected response.uid="{uid}", got "not-the-request"'
    )


async def test_a_dry_run_is_refused_by_a_webhook_with_side_effects(
    api: ApiService, server: WebhookServer
) -> None:
    configure(api, webhook(server, sideEffects="Some", failurePolicy="Ignore"))
    err = await refusal(api, configmap_write(dry_run=True))
    assert (err.code, err.message) == (400, 'admission webhook "check.example.com" does not support dry run')
    assert server.received == []


async def test_a_dry_run_reaches_a_webhook_without_side_effects_on_dry_run(
    api: ApiService, server: WebhookServer
) -> None:
    configure(api, webhook(server, sideEffects="NoneOnDryRun"))
    await admit(api, configmap_write(dry_run=True))
    assert server.received[0]["request"]["dryRun"] is True


async def test_rules_skip_other_operations(api: ApiService, server: WebhookServer) -> None:
    configure(api, webhook(server, "/deny"))
    assert await admit(api, configmap_write("DELETE")) == []
    assert server.received == []


async def test_object_selector_skips_objects_without_the_labels(
    api: ApiService, server: WebhookServer
) -> None:
    configure(api, webhook(server, "/deny", objectSelector={"matchLabels": {"audit": "yes"}}))
    assert await admit(api, configmap_write(labels={"audit": "no"})) == []
    await refusal(api, configmap_write(labels={"audit": "yes"}))


async def test_namespace_selector_skips_namespaces_without_the_labels(
    api: ApiService, server: WebhookServer
) -> None:
    configure(api, webhook(server, "/deny", namespaceSelector={"matchLabels": {"team": "ops"}}))
    assert await admit(api, configmap_write()) == []
    assert server.received == []


async def test_a_false_match_condition_skips_the_webhook(api: ApiService, server: WebhookServer) -> None:
    configure(
        api,
        webhook(
            server,
            "/deny",
            matchConditions=[
                {"name": "not-admin", "expression": 'request.userInfo.username != "kubernetes-admin"'}
            ],
        ),
    )
    assert await admit(api, configmap_write()) == []
    assert server.received == []


async def test_a_failing_match_condition_refuses_the_write_under_fail(
    api: ApiService, server: WebhookServer
) -> None:
    configure(api, webhook(server, matchConditions=[{"name": "bad", "expression": "object.spec.missing"}]))
    err = await refusal(api)
    assert (err.code, err.reason) == (403, "Forbidden")
    assert err.message.startswith(
        "configmaps \"settings\" is forbidden: expression 'object.spec.missing' resulted in error: "
    )
    assert server.received == []


async def test_a_service_reference_is_called_through_the_service_s_endpoints(
    api: ApiService, server: WebhookServer
) -> None:
    api.store.create(
        "",
        "services",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "hook", "namespace": "shop"},
            "spec": {"ports": [{"name": "https", "port": 443, "targetPort": server.port}]},
        },
    )
    api.store.create(
        "",
        "endpoints",
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": "hook", "namespace": "shop"},
            "subsets": [
                {"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "https", "port": server.port}]}
            ],
        },
    )
    configure(
        api,
        webhook(
            server,
            "/deny",
            clientConfig={
                "service": {"namespace": "shop", "name": "hook", "path": "/deny"},
                "caBundle": server.ca_bundle,
            },
        ),
    )
    err = await refusal(api)
    assert err.code == 403


async def test_a_service_without_endpoints_fails_the_call(api: ApiService, server: WebhookServer) -> None:
    api.store.create(
        "",
        "services",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "hook", "namespace": "shop"},
            "spec": {"ports": [{"port": 443}]},
        },
    )
    api.store.create(
        "",
        "endpoints",
        {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "hook", "namespace": "shop"}},
    )
    configure(
        api,
        webhook(
            server,
            clientConfig={
                "service": {"namespace": "shop", "name": "hook", "path": "/v"},
                "caBundle": server.ca_bundle,
            },
        ),
    )
    err = await refusal(api)
    assert err.message == (
        'Internal error occurred: failed calling webhook "check.example.com": failed to call webhook: '
        'Post "https://hook.shop.svc:443/v?timeout=10s": no endpoints available for service "hook"'
    )


async def test_a_missing_service_fails_the_call(api: ApiService, server: WebhookServer) -> None:
    configure(
        api,
        webhook(
            server,
            clientConfig={"service": {"namespace": "shop", "name": "gone"}, "caBundle": server.ca_bundle},
        ),
    )
    err = await refusal(api)
    assert err.message.endswith('Post "https://gone.shop.svc:443/?timeout=10s": service "gone" not found')


async def test_webhooks_of_all_configurations_are_called_in_parallel(
    api: ApiService, server: WebhookServer
) -> None:
    configure(api, webhook(server, "/together", name="a.example.com"), name="first")
    configure(api, webhook(server, "/together", name="b.example.com", timeoutSeconds=5), name="second")
    assert await admit(api, configmap_write()) == []
    assert len(server.received) == 2


async def test_writes_of_webhook_configurations_are_never_sent_to_webhooks(
    api: ApiService, server: WebhookServer
) -> None:
    configure(
        api,
        webhook(
            server,
            "/deny",
            rules=[{"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"]}],
        ),
    )
    attrs = AdmissionAttributes(
        operation="DELETE",
        group=ADMISSION,
        version="v1",
        resource=CONFIGS,
        subresource="",
        kind="ValidatingWebhookConfiguration",
        namespace="",
        name="checks",
        object=None,
        old_object=api.store.get(ADMISSION, CONFIGS, "", "checks"),
        user=user_info("kubernetes-admin"),
    )
    assert await admit(api, attrs) == []


# ---- end to end: kubectl 1.35 against the session's sim, through the admission chain ------------


@dataclass
class ThreadedServer:
    port: int
    ca_bundle: str
    stop: Any


@pytest.fixture(scope="module")
def threaded_server(serving_certs: certs.Certificates) -> Any:
    """The webhook server on its own thread and loop (the sim serves on another): /deny and /warn."""
    import threading

    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, Any] = {}

    async def handle(request: web.Request) -> web.Response:
        review = await request.json()
        if request.path == "/deny":
            return _answer(review, allowed=False, status={"code": 403, "message": DENIAL})
        return _answer(review, allowed=True, warnings=[WARNING])

    async def start() -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", handle)
        runner = web.AppRunner(app, shutdown_timeout=0.1)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=serving_certs.ssl_context()).start()
        holder["runner"] = runner
        holder["port"] = runner.addresses[0][1]
        started.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop)
    assert started.wait(10), "webhook server did not start"
    yield ThreadedServer(holder["port"], base64.b64encode(serving_certs.ca_pem.encode()).decode(), None)
    asyncio.run_coroutine_threadsafe(holder["runner"].cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def _configuration_yaml(name: str, server: ThreadedServer, path: str, label: str, side_effects: str) -> str:
    return f"""apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: {name}
webhooks:
- name: {name}.conveyor.test
  clientConfig:
    url: https://127.0.0.1:{server.port}{path}
    caBundle: {server.ca_bundle}
  rules:
  - operations: ["CREATE"]
    apiGroups: [""]
    apiVersions: ["v1"]
    resources: ["configmaps"]
  objectSelector:
    matchLabels: {{webhook-test: {label}}}
  sideEffects: {side_effects}
  admissionReviewVersions: ["v1"]
"""


@pytest.fixture
def webhook_configuration(kubectl: Any, namespace: str, threaded_server: ThreadedServer) -> Any:
    """Installs a configuration (selecting only this test's labelled ConfigMaps); removed after."""
    names: list[str] = []

    def install(path: str, side_effects: str = "None") -> str:
        name = f"wh-{namespace}-{len(names)}"
        kubectl(
            "apply",
            "-f",
            "-",
            input=_configuration_yaml(name, threaded_server, path, namespace, side_effects),
        )
        names.append(name)
        return name

    yield install
    for name in names:
        kubectl("delete", "validatingwebhookconfiguration", name, "--ignore-not-found", check=False)


def _labelled_configmap(namespace: str, name: str = "settings") -> str:
    return f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
  namespace: {namespace}
  labels: {{webhook-test: {namespace}}}
data: {{a: "1"}}
"""


def test_kubectl_create_is_refused_by_a_denying_webhook(
    kubectl: Any, namespace: str, webhook_configuration: Any
) -> None:
    name = webhook_configuration("/deny")
    proc = kubectl("apply", "-f", "-", input=_labelled_configmap(namespace), check=False)
    assert proc.returncode != 0
    assert f'admission webhook "{name}.conveyor.test" denied the request: {DENIAL}' in proc.stderr
    assert kubectl("get", "configmap", "settings", "-n", namespace, check=False).returncode != 0


def test_kubectl_shows_the_warnings_of_an_allowing_webhook(
    kubectl: Any, namespace: str, webhook_configuration: Any
) -> None:
    webhook_configuration("/warn")
    proc = kubectl("apply", "-f", "-", input=_labelled_configmap(namespace))
    assert f"Warning: {WARNING}" in proc.stderr
    kubectl("get", "configmap", "settings", "-n", namespace)


def test_kubectl_server_dry_run_is_refused_by_a_webhook_with_side_effects(
    kubectl: Any, namespace: str, webhook_configuration: Any
) -> None:
    name = webhook_configuration("/warn", side_effects="Some")
    proc = kubectl("apply", "--dry-run=server", "-f", "-", input=_labelled_configmap(namespace), check=False)
    assert proc.returncode != 0
    assert f'admission webhook "{name}.conveyor.test" does not support dry run' in proc.stderr


def test_unlabelled_objects_are_not_sent_to_the_webhook(
    kubectl: Any, namespace: str, webhook_configuration: Any
) -> None:
    webhook_configuration("/deny")
    kubectl("create", "configmap", "plain", "-n", namespace, "--from-literal=a=1")


WEBHOOK_POD_SCRIPT = """
import http.server, json, os, ssl, sys
folder = os.environ["CONVEYOR_SIM_MOUNT_TLS"]
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        body = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": {
            "uid": review["request"]["uid"], "allowed": False,
            "status": {"code": 403, "message": "served by " + os.environ["HOSTNAME"]}}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Hook)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(os.path.join(folder, "tls.crt"), os.path.join(folder, "tls.key"))
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
"""


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_a_webhook_served_by_a_pod_is_reached_through_its_service(kubectl: Any, namespace: str) -> None:
    """The kubelet runs the Pod on the host (podIP 127.0.0.1), the Endpoints controller lists it at
    its container port, and the webhook's service reference resolves to that address while TLS is
    verified for hook.<ns>.svc."""
    import json

    pod_certs = certs.generate([f"hook.{namespace}.svc"])
    port = free_port()
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": {"name": "hook-tls", "namespace": namespace},
        "data": {"tls.crt": _b64(pod_certs.cert_pem + pod_certs.ca_pem), "tls.key": _b64(pod_certs.key_pem)},
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "hook", "namespace": namespace, "labels": {"app": "hook"}},
        "spec": {
            "containers": [
                {
                    "name": "hook",
                    "image": "python:3.11",
                    "command": ["python", "-c", WEBHOOK_POD_SCRIPT, str(port)],
                    "ports": [{"containerPort": port, "name": "https"}],
                    "readinessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 1},
                    "volumeMounts": [{"name": "tls", "mountPath": "/tls"}],
                }
            ],
            "volumes": [{"name": "tls", "secret": {"secretName": "hook-tls"}}],
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "hook", "namespace": namespace},
        "spec": {"selector": {"app": "hook"}, "ports": [{"port": 443, "targetPort": "https"}]},
    }
    for obj in (secret, pod, service):
        kubectl("apply", "-f", "-", input=json.dumps(obj))
    kubectl(
        "wait",
        "-n",
        namespace,
        "endpoints/hook",
        "--for=jsonpath={.subsets[0].addresses[0].ip}=127.0.0.1",
        "--timeout=60s",
        timeout=70,
    )
    ca_bundle = _b64(pod_certs.ca_pem)
    name = f"pod-{namespace}"
    configuration = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [
            {
                "name": f"{name}.conveyor.test",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "clientConfig": {
                    "service": {"namespace": namespace, "name": "hook", "path": "/validate"},
                    "caBundle": ca_bundle,
                },
                "rules": [
                    {
                        "operations": ["CREATE"],
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "resources": ["configmaps"],
                    }
                ],
                "objectSelector": {"matchLabels": {"webhook-test": namespace}},
            }
        ],
    }
    kubectl("apply", "-f", "-", input=json.dumps(configuration))
    try:
        proc = kubectl("apply", "-f", "-", input=_labelled_configmap(namespace), check=False)
        assert f'admission webhook "{name}.conveyor.test" denied the request: served by hook' in proc.stderr
    finally:
        kubectl("delete", "validatingwebhookconfiguration", name, "--ignore-not-found", check=False)
