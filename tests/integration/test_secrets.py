"""Secret parameters (issue 8, "Security"): the value of a parameter declared `secret: true` never
appears in an Execution's status, in Events, in the operator's or the worker's logs, nor in a
snapshot; the workflow itself still receives the real value.

The Execution's own `spec.parameters` necessarily holds the value (the user wrote it there; who may
read Executions may read it): what is checked is everything Conveyor writes or prints about it.
Worker runs use real worker Jobs on the local control plane (as tests/integration/test_e2e_executions.py
does). Snapshots: the decision, documented in conveyor.workflows.snapshots, is that a snapshot keeps
an Execution's parameters but masks each secret one (and a Deployment's secret defaults) with
`******`, and masks all of an Execution's parameters when nothing says which are secret.
"""

from __future__ import annotations

import json
import logging
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubetest import wait_for
from operator_harness import Cluster, OperatorThread

from conveyor.admission.parameters import REDACTED
from conveyor.api.names import CONFIG_MAP_KEY, CONFIG_MAP_NAME, GROUP, VERSION, worker_job_name
from conveyor.workflows import MemoryReporter, TaskDefaults, WorkflowContext, run_workflow
from conveyor.workflows.snapshots import ANNOTATION_REDACTED, create_snapshot, redact_secrets

SECRET_ID = uuid.uuid4().hex
"""Distinctive per run: wherever it shows, one of this test's secret values leaked."""
SECRET = f"S3cr3t-{SECRET_ID}"
DEPLOYMENT = "vault"
SOURCE = "vault-workflows"
JOB = worker_job_name(DEPLOYMENT)
WORKER_TIMEOUT = 60.0

FLOWS = textwrap.dedent(
    """
    import pathlib
    import sys

    from conveyor.workflows import NonRecoverableError, workflow

    SHOW_LENGTH = "import os; print('token has', len(os.environ['TOKEN']), 'characters')"


    def keep(ctx, folder, token):
        (pathlib.Path(folder) / "received").write_text(token)


    def refuse(ctx, token):
        raise NonRecoverableError("the remote refused the credentials")


    @workflow
    def deploy(ctx, folder, token, pin, fail=False):
        ctx.logger.info("deploying with the given credentials")
        graph = ctx.graph()
        command = {"argv": [sys.executable, "-c", SHOW_LENGTH], "env": {"TOKEN": token}}
        used = graph.add_task("shell.run", command, name="use")
        kept = graph.add_task(keep, {"folder": folder, "token": token}, name="keep")
        graph.sequence(used, kept)
        if fail:
            failing = graph.add_task(refuse, {"token": token}, name="refuse", retries=0)
            graph.sequence(kept, failing)
        graph.execute()
    """
)
WORKFLOWS: dict[str, Any] = {
    "deploy": {
        "mapping": "flows.deploy",
        "parameters": {
            "folder": {"type": "string"},
            "token": {
                "type": "string",
                "secret": True,
                "constraints": {"minLength": 8, "pattern": "^S3cr3t-.*$"},
            },
            "pin": {"type": "integer", "secret": True, "default": 1234},
            "fail": {"type": "boolean", "default": False},
        },
    }
}


def leaks(cluster: Cluster, name: str, *texts: str) -> list[str]:
    """Where a secret value shows: the Execution's status and metadata, any Event of the namespace,
    the given texts (logs)."""
    found = []
    obj = cluster.get(name) or {}
    if SECRET_ID in json.dumps(obj.get("status") or {}):
        found.append(f"status: {obj.get('status')}")
    if SECRET_ID in json.dumps(obj.get("metadata") or {}):
        found.append("metadata")
    for event in cluster.core.list_namespaced_event(cluster.namespace).items:
        if SECRET_ID in f"{event.reason} {event.message}":
            found.append(f"event {event.reason}: {event.message}")
    found += [f"log line: {line}" for text in texts for line in text.splitlines() if SECRET_ID in line]
    return found


class OperatorLog:
    """What the operator (Conveyor's controller and kopf) logged, at every level; the local control
    plane runs in this process too, and its own logs are the API server's, not the operator's."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self._caplog = caplog

    @property
    def text(self) -> str:
        return "\n".join(
            f"{r.name}: {r.getMessage()}"
            for r in self._caplog.records
            if r.name.startswith(("conveyor.", "kopf")) and not r.name.startswith("conveyor.sim")
        )


@pytest.fixture
def operator_log(caplog: pytest.LogCaptureFixture) -> Iterator[OperatorLog]:
    with caplog.at_level(logging.DEBUG):
        yield OperatorLog(caplog)


# ----- admission: refusals never echo the value ----------------------------------------------------


@pytest.mark.parametrize(
    ("parameters", "fault"),
    [
        ({"token": SECRET.replace("S3cr3t", "plain")}, "pattern"),
        ({"token": SECRET, "pin": SECRET}, "type integer"),
        ({"token": [SECRET]}, "type string"),
        ({"token": SECRET, "undeclared": 1}, "undeclared"),
    ],
    ids=["constraint", "wrong-type", "wrong-type-list", "beside-an-undeclared-one"],
)
def test_an_invalid_execution_with_a_secret_parameter_never_shows_its_value(
    cluster: Cluster,
    operator: OperatorThread,
    operator_log: OperatorLog,
    parameters: dict[str, Any],
    fault: str,
) -> None:
    cluster.deployment(DEPLOYMENT, WORKFLOWS)
    name = cluster.execution(DEPLOYMENT, "deploy", parameters={"folder": "/nowhere", **parameters})
    obj = cluster.wait_phase(name, "failed")
    assert fault in obj["status"]["error"]
    wait_for(lambda: cluster.events_for(name), 5, "an Event")
    assert not leaks(cluster, name, operator_log.text)


# ----- worker runs: real worker Jobs ----------------------------------------------------------------


@pytest.fixture
def wired(sim: Any) -> None:
    """Pods' kubeconfigs need the sim's URL and `kubectl logs` its pod-log handler."""
    from conveyor.sim.kubelet.logs import serve_pod_log

    if not getattr(sim.api, "server_url", None):
        sim.api.server_url = sim.url
    if sim.app.log_handler is None:
        sim.app.register_log_handler(serve_pod_log)


class Vault:
    """A deployment whose workflow takes a secret token, run by the operator on a real worker Job."""

    def __init__(self, cluster: Cluster, folder: Path) -> None:
        self.cluster = cluster
        self.folder = folder
        source = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": SOURCE, "namespace": cluster.namespace},
            "data": {"flows.py": FLOWS},
        }
        deployment = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Deployment",
            "metadata": {"name": DEPLOYMENT, "namespace": cluster.namespace},
            "spec": {"source": {"configMap": SOURCE}, "workflows": WORKFLOWS},
        }
        cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all([source, deployment]))

    def run(self, *phases: str, **spec: Any) -> dict[str, Any]:
        parameters = {"folder": str(self.folder), "token": SECRET, **spec.pop("parameters", {})}
        name = self.cluster.execution(DEPLOYMENT, "deploy", parameters=parameters, **spec)
        return self.cluster.wait_phase(name, *phases, timeout=WORKER_TIMEOUT)

    def worker_log(self, name: str) -> str:
        def logged() -> str | None:
            out = self.cluster.kubectl("logs", f"job/{JOB}", "-n", self.cluster.namespace, check=False).stdout
            ended = any(f"[{name}]" in line and "ended" in line for line in out.splitlines())
            return out if ended else None

        return wait_for(logged, 20, f"{name}'s lines in the worker's log")


@pytest.fixture
def vault(
    cluster: Cluster, start_operator: Callable[..., OperatorThread], tmp_path: Path, wired: None
) -> Vault:
    start_operator(create_worker_jobs=True)
    return Vault(cluster, tmp_path)


@pytest.mark.sim_only
def test_a_workflow_gets_the_secret_but_status_events_and_logs_never_show_it(
    vault: Vault, operator_log: OperatorLog
) -> None:
    obj = vault.run("terminated", "failed")
    name = obj["metadata"]["name"]
    assert obj["status"]["phase"] == "terminated", obj["status"].get("error")
    assert (vault.folder / "received").read_text() == SECRET
    log = vault.worker_log(name)
    assert f"token has {len(SECRET)} characters" in log
    assert not leaks(vault.cluster, name, log, operator_log.text)


@pytest.mark.sim_only
def test_a_failing_task_that_was_given_the_secret_never_shows_it(
    vault: Vault, operator_log: OperatorLog
) -> None:
    obj = vault.run("terminated", "failed", parameters={"fail": True})
    name = obj["metadata"]["name"]
    assert obj["status"]["phase"] == "failed" and "refused the credentials" in obj["status"]["error"]
    assert not leaks(vault.cluster, name, vault.worker_log(name), operator_log.text)


@pytest.mark.sim_only
def test_a_dry_run_never_shows_the_secret_in_what_it_would_run(
    vault: Vault, operator_log: OperatorLog
) -> None:
    obj = vault.run("terminated", "failed", dryRun=True)
    name = obj["metadata"]["name"]
    assert obj["status"]["phase"] == "terminated", obj["status"].get("error")
    assert not leaks(vault.cluster, name, vault.worker_log(name), operator_log.text)


# ----- snapshots --------------------------------------------------------------------------------------


def _deployment(
    namespace: str, workflows: dict[str, Any] = WORKFLOWS, name: str = DEPLOYMENT
) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"workflows": workflows},
    }


def _execution(
    namespace: str,
    name: str,
    parameters: dict[str, Any],
    deployment: str | None = DEPLOYMENT,
    workflow: str = "deploy",
) -> dict[str, Any]:
    spec: dict[str, Any] = {"workflow": workflow, "parameters": parameters}
    if deployment is not None:
        spec["deployment"] = deployment
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Execution",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
        "status": {"phase": "terminated"},
    }


def test_a_snapshot_masks_secret_parameters_and_keeps_the_others() -> None:
    objects = [_deployment("shop"), _execution("shop", "e1", {"token": SECRET, "folder": "/srv", "pin": 42})]
    saved = redact_secrets(objects, {})[1]
    assert saved["spec"]["parameters"] == {"token": REDACTED, "folder": "/srv", "pin": REDACTED}
    assert saved["metadata"]["annotations"][ANNOTATION_REDACTED] == "pin,token"
    assert objects[1]["spec"]["parameters"]["token"] == SECRET, "the live object is not changed"


def test_a_snapshot_masks_the_default_of_a_secret_parameter() -> None:
    saved = redact_secrets([_deployment("shop")], {})[0]
    declared = saved["spec"]["workflows"]["deploy"]["parameters"]
    assert declared["pin"]["default"] == REDACTED and declared["fail"]["default"] is False
    assert saved["metadata"]["annotations"][ANNOTATION_REDACTED] == "deploy.pin"


def test_a_snapshot_masks_every_parameter_when_nothing_says_which_are_secret() -> None:
    orphan = _execution("shop", "e1", {"token": SECRET, "folder": "/srv"}, deployment="deleted")
    saved = redact_secrets([orphan], {})[0]
    assert saved["spec"]["parameters"] == {"token": REDACTED, "folder": REDACTED}


def test_a_snapshot_masks_secret_parameters_of_configured_system_workflows() -> None:
    system = {"rotate": {"mapping": "ops.rotate", "parameters": {"key": {"secret": True}, "dry": {}}}}
    saved = redact_secrets(
        [
            _execution(
                "conveyor-system", "r1", {"key": SECRET, "dry": True}, deployment=None, workflow="rotate"
            ),
            _execution(
                "conveyor-system", "s1", {"name": "nightly"}, deployment=None, workflow="create_snapshot"
            ),
        ],
        system,
    )
    assert saved[0]["spec"]["parameters"] == {"key": REDACTED, "dry": True}
    assert saved[1]["spec"]["parameters"] == {"name": "nightly"}


def test_a_snapshot_configmap_holds_no_secret_value_and_no_secret_object(
    kubeconfig: str, crds: None, namespace: str, kubectl: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", kubeconfig)
    kubectl("create", "secret", "generic", "vault-token", "-n", namespace, f"--from-literal=token={SECRET}")
    system = {
        "systemWorkflows": {"rotate": {"mapping": "ops.rotate", "parameters": {"key": {"secret": True}}}}
    }
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": CONFIG_MAP_NAME, "namespace": namespace},
        "data": {CONFIG_MAP_KEY: yaml.safe_dump(system)},
    }
    kubectl("apply", "-f", "-", input=json.dumps(config))
    kubectl("create", "-f", "-", input=json.dumps(_deployment(namespace)))
    executions = [
        _execution(namespace, "deployed", {"token": SECRET, "folder": "/srv"}),
        _execution(namespace, "rotated", {"key": SECRET}, deployment=None, workflow="rotate"),
        _execution(namespace, "orphan", {"password": SECRET}, deployment="gone"),
    ]
    for obj in executions:
        body = {k: v for k, v in obj.items() if k != "status"}
        kubectl("create", "-f", "-", input=json.dumps(body))
        kubectl(
            "patch",
            "executions.conveyor.dev",
            obj["metadata"]["name"],
            "-n",
            namespace,
            "--subresource=status",
            "--type=merge",
            "-p",
            json.dumps({"status": obj["status"]}),
        )
    ctx = WorkflowContext(
        execution_name="snap-secrets",
        workflow_name="create_snapshot",
        namespace=namespace,
        reporter=MemoryReporter(),
        defaults=TaskDefaults(retries=0, retry_interval=0.0),
    )
    outcome = run_workflow(create_snapshot, ctx, {"namespaces": [namespace]})
    assert outcome.status == "terminated", outcome.error
    listed = json.loads(
        kubectl("get", "configmaps", "-n", namespace, "-l", "conveyor.dev/snapshot", "-o", "json").stdout
    )["items"]
    text = json.dumps(listed)
    assert listed and SECRET_ID not in text
    saved = [json.loads(line) for cm in listed for line in cm["data"].get("objects.jsonl", "").splitlines()]
    assert {o["kind"] for o in saved} == {"Deployment", "Execution"}, "only Conveyor objects, never a Secret"
    assert {o["metadata"]["name"] for o in saved} >= {DEPLOYMENT, "deployed", "rotated", "orphan"}
