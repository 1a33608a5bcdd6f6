"""End to end with real worker Jobs: the operator creates `conveyor-worker-<deployment>` Jobs and the
local control plane's kubelet runs their pods (`conveyor worker` as a local process).

Everything is driven as a user drives it: kubectl applies a Deployment (workflow code in a source
ConfigMap) and Executions, and the tests read back statuses, Jobs and `kubectl logs`. Workflows
leave marker files in a per-test folder (pods run on this machine), so the tests count side effects
and open gates without sleeping.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubetest import wait_for
from operator_harness import Cluster, OperatorThread

from conveyor.api.names import GROUP, VERSION, worker_job_name
from conveyor.controller.worker_identity import build_worker_cluster_role

pytestmark = pytest.mark.sim_only
"""Workflows write marker files on this machine: the pods must run here."""

DEPLOYMENT = "web"
SOURCE = "web-workflows"
JOB = worker_job_name(DEPLOYMENT)
WORKER_TIMEOUT = 60.0
"""A worker pod starts a Python process and imports the client: seconds, not milliseconds."""

FLOWS = textwrap.dedent(
    """
    import pathlib

    from conveyor.workflows import NonRecoverableError, workflow


    def mark(folder, name):
        with open(pathlib.Path(folder) / name, "a") as handle:
            handle.write("x\\n")


    def wait_for_file(ctx, path, seconds=60):
        token = ctx.cancel_token
        for _ in range(int(seconds * 20)):
            if pathlib.Path(path).exists():
                return
            token.wait_forced(0.05)
            token.raise_if_forced()


    @workflow
    def hello(ctx, folder, name="hello"):
        ctx.logger.info("hello from %s", name)
        mark(folder, name)


    @workflow
    def broken(ctx, folder, name="broken"):
        raise RuntimeError("kaboom in workflow code")


    @workflow
    def gated(ctx, folder, name="gated"):
        mark(folder, name + "-running")
        wait_for_file(ctx, pathlib.Path(folder) / (name + "-go"))
        mark(folder, name)


    def first_step(ctx, folder, name):
        mark(folder, name + "-first")


    def second_step(ctx, folder, name):
        if not (pathlib.Path(folder) / (name + "-failed-once")).exists():
            mark(folder, name + "-failed-once")
            raise NonRecoverableError("the second step fails on the first attempt")
        mark(folder, name + "-second")


    @workflow(resumable=True)
    def flaky(ctx, folder, name="flaky"):
        graph = ctx.graph()
        first = graph.add_task(first_step, {"folder": folder, "name": name}, name="first")
        second = graph.add_task(second_step, {"folder": folder, "name": name}, name="second")
        graph.sequence(first, second)
        graph.execute()
    """
)


def _workflows() -> dict[str, Any]:
    parameters = {"folder": {"type": "string"}, "name": {"type": "string", "default": "x"}}
    names = ("hello", "broken", "gated", "flaky")
    return {n: {"mapping": f"flows.{n}", "parameters": parameters} for n in names}


class E2E:
    """The test's view: the cluster, the operator and the marker folder."""

    def __init__(self, cluster: Cluster, folder: Path, kubectl: Any) -> None:
        self.cluster = cluster
        self.folder = folder
        self.kubectl = kubectl
        self.batch = cluster.custom.api_client
        self.namespace = cluster.namespace

    def deploy(self, idle_timeout: int = 300) -> None:
        source = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": SOURCE, "namespace": self.namespace},
            "data": {"flows.py": FLOWS},
        }
        deployment = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Deployment",
            "metadata": {"name": DEPLOYMENT, "namespace": self.namespace},
            "spec": {
                "source": {"configMap": SOURCE},
                "worker": {"idleTimeoutSeconds": idle_timeout},
                "workflows": _workflows(),
            },
        }
        self.kubectl("apply", "-f", "-", input=yaml.safe_dump_all([source, deployment]))

    def run(self, workflow: str, name: str, **spec: Any) -> str:
        return self.cluster.execution(
            DEPLOYMENT, workflow, parameters={"folder": str(self.folder), "name": name}, **spec
        )

    def marks(self, name: str) -> int:
        path = self.folder / name
        return len(path.read_text().splitlines()) if path.exists() else 0

    def release(self, name: str) -> None:
        (self.folder / f"{name}-go").write_text("go\n")

    def job(self) -> dict[str, Any] | None:
        out = self.kubectl("get", "job", JOB, "-n", self.namespace, "-o", "yaml", "--ignore-not-found")
        return yaml.safe_load(out.stdout) if out.stdout.strip() else None

    def job_finished(self) -> dict[str, Any] | None:
        job = self.job()
        conditions = ((job or {}).get("status") or {}).get("conditions") or []
        done = any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True" for c in conditions)
        return job if done else None

    def final(self, name: str, *phases: str) -> dict[str, Any]:
        return self.cluster.wait_phase(name, *phases, timeout=WORKER_TIMEOUT)


@pytest.fixture
def wired(sim: Any) -> None:
    """Pods' kubeconfigs need the sim's URL and `kubectl logs` its pod-log handler."""
    from conveyor.sim.kubelet.logs import serve_pod_log

    if not getattr(sim.api, "server_url", None):
        sim.api.server_url = sim.url
    if sim.app.log_handler is None:
        sim.app.register_log_handler(serve_pod_log)


@pytest.fixture
def e2e(
    cluster: Cluster,
    start_operator: Callable[..., OperatorThread],
    tmp_path: Path,
    kubectl: Any,
    wired: None,
) -> E2E:
    start_operator(create_worker_jobs=True)
    return E2E(cluster, tmp_path, kubectl)


def test_an_execution_runs_to_terminated_on_a_worker_job(e2e: E2E) -> None:
    e2e.deploy()
    name = e2e.run("hello", "first")
    status = e2e.final(name, "terminated", "failed")["status"]
    assert status["phase"] == "terminated", status
    assert status["worker"].startswith(JOB)
    assert e2e.marks("first") == 1


def test_worker_job_logs_are_prefixed_with_the_execution_name(e2e: E2E) -> None:
    e2e.deploy()
    name = e2e.run("hello", "logged")
    e2e.final(name, "terminated")

    def logged() -> bool:
        out = e2e.kubectl("logs", f"job/{JOB}", "-n", e2e.namespace, check=False).stdout
        return f"[{name}] " in out

    wait_for(logged, 20, f"[{name}] lines in the worker's log")


def test_a_second_execution_reuses_the_warm_worker(e2e: E2E) -> None:
    e2e.deploy()
    first = e2e.final(e2e.run("hello", "one"), "terminated")["status"]["worker"]
    second = e2e.final(e2e.run("hello", "two"), "terminated")["status"]["worker"]
    assert second == first
    assert e2e.marks("one") == e2e.marks("two") == 1


def test_a_failing_workflow_ends_failed_with_its_error(e2e: E2E) -> None:
    e2e.deploy()
    status = e2e.final(e2e.run("broken", "b"), "terminated", "failed")["status"]
    assert status["phase"] == "failed"
    assert "kaboom in workflow code" in status["error"]


def test_an_idle_worker_ends_and_the_next_admission_makes_a_new_one(e2e: E2E) -> None:
    e2e.deploy(idle_timeout=1)
    first = e2e.final(e2e.run("hello", "before"), "terminated")["status"]["worker"]
    old = wait_for(e2e.job_finished, WORKER_TIMEOUT, "the idle worker Job to finish")
    status = e2e.final(e2e.run("hello", "after"), "terminated")["status"]
    assert status["worker"] != first
    new = wait_for(e2e.job, 10, "a worker Job")
    assert new["metadata"]["uid"] != old["metadata"]["uid"]


def test_kill_cancel_ends_a_running_execution_cancelled_and_the_worker_goes_on(e2e: E2E) -> None:
    e2e.deploy()
    name = e2e.run("gated", "killed")
    e2e.final(name, "started")
    wait_for(lambda: e2e.marks("killed-running"), WORKER_TIMEOUT, "the workflow to run")
    e2e.cluster.set_cancel(name, "kill")
    assert e2e.final(name, "cancelled", "failed", "terminated")["status"]["phase"] == "cancelled"
    assert e2e.marks("killed") == 0
    assert e2e.final(e2e.run("hello", "later"), "terminated")["status"]["phase"] == "terminated"


def test_a_queued_execution_starts_when_the_running_one_ends(e2e: E2E) -> None:
    e2e.deploy()
    first = e2e.run("gated", "first")
    e2e.final(first, "started")
    second = e2e.run("hello", "second", queue=True)
    assert first in e2e.cluster.wait_phase(second, "queued")["status"]["waitingFor"]
    e2e.release("first")
    e2e.final(first, "terminated")
    assert e2e.final(second, "terminated", "failed")["status"]["phase"] == "terminated"
    assert e2e.marks("second") == 1


def test_each_deployment_s_worker_runs_as_its_own_service_account_bound_to_the_cluster_role(
    e2e: E2E,
) -> None:
    e2e.deploy()
    e2e.final(e2e.run("hello", "who"), "terminated")
    job = wait_for(e2e.job, 10, "the worker Job")
    account_name = f"conveyor-worker-{DEPLOYMENT}"
    assert job["spec"]["template"]["spec"]["serviceAccountName"] == account_name
    account = e2e.kubectl("get", "serviceaccount", account_name, "-n", e2e.namespace, "-o", "yaml")
    assert yaml.safe_load(account.stdout)["metadata"]["name"] == account_name
    binding = yaml.safe_load(
        e2e.kubectl("get", "rolebinding", account_name, "-n", e2e.namespace, "-o", "yaml").stdout
    )
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "conveyor-worker"
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account_name, "namespace": e2e.namespace}
    ]
    e2e.kubectl("get", "clusterrole", "conveyor-worker")


def test_the_worker_service_account_reads_no_secrets_and_nothing_outside_its_namespace(e2e: E2E) -> None:
    """Least privilege, enforced by the API server: the worker's own token is refused Secrets in
    its namespace and Executions in another, and may read its namespace's Executions."""
    e2e.deploy()
    e2e.final(e2e.run("hello", "least"), "terminated")
    account = f"conveyor-worker-{DEPLOYMENT}"
    token = e2e.kubectl("create", "token", account, "-n", e2e.namespace).stdout.strip()

    def as_worker(*args: str) -> Any:
        return e2e.kubectl(*args, f"--token={token}", check=False)

    secrets = as_worker("get", "secrets", "-n", e2e.namespace)
    assert secrets.returncode != 0 and "Forbidden" in secrets.stderr, secrets.stderr
    elsewhere = as_worker("get", "executions.conveyor.dev", "-n", "default")
    assert elsewhere.returncode != 0 and "Forbidden" in elsewhere.stderr, elsewhere.stderr
    own = as_worker("get", "executions.conveyor.dev", "-n", e2e.namespace)
    assert own.returncode == 0, own.stderr


def test_a_deployment_may_name_its_own_worker_service_account(e2e: E2E) -> None:
    e2e.kubectl("create", "serviceaccount", "deployer", "-n", e2e.namespace)
    # As docs/install.md tells users: their account gets the worker's permissions by a RoleBinding to
    # the ClusterRole `conveyor-worker` (applied here, as the chart does, in case no worker made it yet).
    e2e.kubectl("apply", "-f", "-", input=yaml.safe_dump(build_worker_cluster_role()))
    e2e.kubectl("create", "rolebinding", "deployer-worker", "-n", e2e.namespace,
                "--clusterrole=conveyor-worker", f"--serviceaccount={e2e.namespace}:deployer")
    e2e.deploy()
    e2e.kubectl(
        "patch", "cvd", DEPLOYMENT, "-n", e2e.namespace, "--type=merge",
        "-p", '{"spec": {"worker": {"serviceAccountName": "deployer"}}}',
    )
    e2e.final(e2e.run("hello", "own"), "terminated")
    job = wait_for(e2e.job, 10, "the worker Job")
    assert job["spec"]["template"]["spec"]["serviceAccountName"] == "deployer"


TRANSITION_REASONS = {"Queued", "Scheduled", "Admitted", "Rejected", "Invalid", "Cancelling", "Cancelled",
                      "Started", "Succeeded", "Failed", "WorkerLost"}


def _transitions(e2e: E2E, name: str) -> list[str]:
    return [reason for reason in e2e.cluster.events_for(name) if reason in TRANSITION_REASONS]


def test_each_transition_is_one_event_posted_by_whoever_made_it(e2e: E2E) -> None:
    e2e.deploy()
    name = e2e.run("hello", "story")
    e2e.final(name, "terminated")
    expected = ["Admitted", "Started", "Succeeded"]
    wait_for(lambda: _transitions(e2e, name) == expected, 20, f"events {expected}")
    selector = f"involvedObject.name={name}"
    events = e2e.cluster.core.list_namespaced_event(e2e.namespace, field_selector=selector)
    posted_by = {e.reason: e.reporting_component for e in events.items if e.reason in TRANSITION_REASONS}
    assert posted_by == {"Admitted": "conveyor-operator", "Started": "conveyor-worker",
                         "Succeeded": "conveyor-worker"}


def test_a_failed_workflow_has_one_failed_event(e2e: E2E) -> None:
    e2e.deploy()
    name = e2e.run("broken", "story")
    e2e.final(name, "failed")
    expected = ["Admitted", "Started", "Failed"]
    wait_for(lambda: _transitions(e2e, name) == expected, 20, f"events {expected}")


def _resume(e2e: E2E, name: str, token: str) -> None:
    e2e.kubectl("annotate", "--overwrite", "cvx", name, "-n", e2e.namespace, f"conveyor.dev/resume={token}")


def _count(e2e: E2E, name: str, reason: str) -> int:
    return e2e.cluster.events_for(name).count(reason)


def test_a_resumed_execution_runs_again_skipping_the_tasks_that_succeeded(e2e: E2E) -> None:
    e2e.deploy()
    name = e2e.run("flaky", "f")
    failed = e2e.final(name, "failed", "terminated")["status"]
    assert failed["phase"] == "failed" and failed["resumable"] is True
    _resume(e2e, name, "one")
    status = wait_for(
        lambda: (e2e.cluster.get(name) or {}).get("status", {}).get("phase") == "terminated"
        and e2e.cluster.get(name), WORKER_TIMEOUT, "the resumed attempt to end terminated",
    )["status"]
    assert status["attempt"] == 2 and status["resumeToken"] == "one"
    assert (e2e.marks("f-first"), e2e.marks("f-failed-once"), e2e.marks("f-second")) == (1, 1, 1)


def test_resuming_a_workflow_that_is_not_resumable_is_refused_and_changes_no_phase(e2e: E2E) -> None:
    e2e.deploy()
    name = e2e.run("broken", "nr")
    e2e.final(name, "failed")
    _resume(e2e, name, "one")
    wait_for(lambda: _count(e2e, name, "ResumeRefused") == 1, 20, "a ResumeRefused event")
    status = e2e.cluster.get(name)["status"]  # type: ignore[index]
    assert status["phase"] == "failed" and "not resumable" in status["error"]
    assert status.get("attempt") in (None, 1)


def test_a_resume_token_is_acted_on_once(e2e: E2E) -> None:
    e2e.deploy()
    name = e2e.run("broken", "once")
    e2e.final(name, "failed")
    _resume(e2e, name, "one")
    wait_for(lambda: _count(e2e, name, "ResumeRefused") == 1, 20, "the first refusal")
    e2e.kubectl("annotate", "--overwrite", "cvx", name, "-n", e2e.namespace, "touched=yes")
    _resume(e2e, name, "two")
    wait_for(lambda: _count(e2e, name, "ResumeRefused") >= 2, 20, "the second refusal")
    assert _count(e2e, name, "ResumeRefused") == 2
