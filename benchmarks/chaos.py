"""Chaos: executions driven through a misbehaving cluster, checked from what was recorded.

`python benchmarks/chaos.py` (the full profile: 500 executions over 50 deployments) or
`python benchmarks/chaos.py --profile short` (the one tests/integration/test_chaos.py runs).

While a random mix of plain, forced, queued, scheduled and system-wide requests and cancels is
created, the run:
- kills operator replicas at random (full: the operator runs as an apps/v1 Deployment of two
  replicas in the sim and the sim's Deployment controller replaces a deleted pod; short: two
  `conveyor operator` processes this script kills, SIGKILL or SIGTERM, and starts again);
- deletes worker pods at random (the operator's real worker Jobs replace them);
- keeps a second operator replica running (leader election: only one admits);
- has the sim inject faults into every request but the harness's own (conveyor.sim.faults):
  writes answered 409, 500 or 429 with Retry-After, latency, watch streams cut.

What must hold, checked from a watch of every Execution (the history) and from the workflow's own
side effects (one line per run in a file: pods run on this machine):
- S1 and S2 never violated, S3: a final status never changes and nothing starts twice
  (tests/integration/history.py replays the history);
- every execution reaches a final status within a generous deadline after the chaos stops (lost: 0);
- no execution runs twice (duplicates: 0), and none runs without having been admitted;
- queued executions start in order: per deployment, FIFO by creation among non-forced queued
  executions (scheduled ones are left out: they join the queue at their time, not their creation);
- no scheduled execution is refused as "in the past" when its scheduledTime was not before its
  creation (however late the operator sees it: restarts, faults).
The exit status is non-zero when any of these fails.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from conveyor.api.names import GROUP, LEADER_LEASE_NAME, VERSION
from conveyor.sim.app import SimServer
from conveyor.sim.faults import FaultConfig

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
from history import FINAL, RUNNING, check_invariants  # noqa: E402

HARNESS_USER = "chaos-harness"
"""The harness impersonates this user, which the faults exempt: its view of the cluster is exact."""
NAMESPACE = "chaos"
SOURCE = "chaos-flows"
MODULE = "chaos_flows"
RUNS_FILE = "runs.log"
WORKER_SELECTOR = "app.kubernetes.io/component=worker"
OPERATOR_APP = "conveyor-chaos-operator"
FLOWS = textwrap.dedent(
    """
    import os

    from conveyor.workflows import workflow


    @workflow
    def work(ctx, folder, seconds=0.5):
        # The side effect the run is checked by: one line per run, written before anything else.
        with open(os.path.join(folder, "runs.log"), "a") as handle:
            handle.write(f"{ctx.execution_name} {os.getpid()}\\n")
        ctx.cancel_token.wait_forced(seconds)
        ctx.cancel_token.raise_if_forced()
    """
)
PARAMETERS = {"folder": {"type": "string"}, "seconds": {"type": "float", "default": 0.5}}
SYSTEM_CONFIG = textwrap.dedent(
    f"""
    systemWorkflows:
      sweep:
        mapping: {MODULE}.work
        source: {{configMap: {SOURCE}}}
        parameters: {{folder: {{type: string}}, seconds: {{type: float, default: 0.5}}}}
    """
)


@dataclass(frozen=True)
class Profile:
    name: str
    executions: int
    deployments: int
    create_seconds: float
    """Executions (and cancels) are created over this long; the chaos lasts as long."""
    settle_seconds: float
    """After the chaos stops, how long every execution has to reach a final status."""
    operator_mode: str
    """"deployment": an apps/v1 Deployment in the sim; "process": processes this script runs."""
    operator_kill_every: tuple[float, float]
    worker_kill_every: tuple[float, float]
    lease_duration: int
    """Seconds a worker may go without renewing its lease (a killed worker's executions end then)."""
    work_seconds: tuple[float, float]
    faults: FaultConfig
    cancel_share: float = 0.15
    mix: tuple[tuple[str, float], ...] = (
        ("plain", 0.30),
        ("forced", 0.12),
        ("queued", 0.37),
        ("scheduled", 0.15),
        ("system", 0.06),
    )


def _faults(cut: tuple[float, float], seed: int) -> FaultConfig:
    return FaultConfig(
        conflict=0.04,
        internal=0.03,
        throttle=0.03,
        retry_after_seconds=1,
        latency_ms=3.0,
        jitter_ms=3.0,
        watch_cut_min_seconds=cut[0],
        watch_cut_max_seconds=cut[1],
        exempt_users=(HARNESS_USER,),
        seed=seed,
    )


SHORT = Profile(
    name="short",
    executions=60,
    deployments=6,
    create_seconds=18.0,
    settle_seconds=35.0,
    operator_mode="process",
    operator_kill_every=(5.0, 8.0),
    worker_kill_every=(3.0, 6.0),
    lease_duration=5,
    work_seconds=(0.1, 0.8),
    faults=_faults((3.0, 10.0), 1),
)
FULL = Profile(
    name="full",
    executions=500,
    deployments=50,
    create_seconds=150.0,
    settle_seconds=240.0,
    operator_mode="deployment",
    operator_kill_every=(12.0, 25.0),
    worker_kill_every=(3.0, 7.0),
    lease_duration=10,
    work_seconds=(0.1, 1.5),
    faults=_faults((5.0, 30.0), 1),
)
PROFILES = {"short": SHORT, "full": FULL}


# ---- the record --------------------------------------------------------------------------------


class HistoryRecorder:
    """Every change of every Execution of the namespace, in the order the server applied them.

    A watch resumed from the last resourceVersion loses nothing; should the server answer 410 Gone
    (history compacted), events may have been lost: counted as a gap, which fails the run (the
    checks would be unreliable)."""

    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        self._custom: Any = client.CustomObjectsApi(api)  # the client's stubs type bodies as object
        self._namespace = namespace
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.received: list[float] = []
        """When each event arrived (monotonic seconds), beside `events`."""
        self.phases: dict[str, str | None] = {}
        self.gaps = 0
        self._stop = threading.Event()
        self._watch: watch.Watch | None = None
        self._thread = threading.Thread(target=self._run, name="chaos-recorder", daemon=True)
        self._version = ""

    def start(self) -> HistoryRecorder:
        listed = self._custom.list_namespaced_custom_object(GROUP, VERSION, self._namespace, "executions")
        self._version = listed["metadata"]["resourceVersion"]
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._watch is not None:
            self._watch.stop()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._watch = watch.Watch()
            try:
                for event in self._watch.stream(
                    self._custom.list_namespaced_custom_object,
                    GROUP,
                    VERSION,
                    self._namespace,
                    "executions",
                    resource_version=self._version,
                    timeout_seconds=10,
                    allow_watch_bookmarks=True,
                ):
                    obj = event["object"]
                    self._version = obj["metadata"]["resourceVersion"]
                    if event["type"] == "BOOKMARK":
                        continue
                    if event["type"] == "ERROR":
                        raise ApiException(status=obj.get("code", 500), reason=obj.get("message"))
                    self.events.append((event["type"], obj))
                    self.received.append(time.monotonic())
                    self.phases[obj["metadata"]["name"]] = (obj.get("status") or {}).get("phase")
            except ApiException as error:
                if self._stop.is_set():
                    return
                if error.status == 410:
                    self.gaps += 1
                    listed = self._custom.list_namespaced_custom_object(
                        GROUP, VERSION, self._namespace, "executions"
                    )
                    self._version = listed["metadata"]["resourceVersion"]
                else:
                    time.sleep(0.2)
            except Exception:  # a connection dropped at shutdown, or a transient failure: watch again
                if self._stop.is_set():
                    return
                time.sleep(0.2)


# ---- the operators -----------------------------------------------------------------------------


class OperatorProcesses:
    """Two `conveyor operator` replicas as processes of this script (the short profile)."""

    def __init__(self, kubeconfig: Path, logs: Path, lease_duration: int, rng: random.Random) -> None:
        self.kubeconfig = kubeconfig
        self.logs = logs
        self.lease_duration = lease_duration
        self.rng = rng
        self.slots: dict[str, subprocess.Popen[bytes] | None] = {"a": None, "b": None}
        self.generation: Counter[str] = Counter()
        self.restarts = 0
        self.unexpected_exits: list[str] = []
        self._restart_at: dict[str, float] = {}

    def start(self, slot: str) -> None:
        self.generation[slot] += 1
        identity = f"chaos-{slot}-{self.generation[slot]}"
        log = (self.logs / f"operator-{identity}.log").open("wb")
        argv = [
            str(Path(sys.executable).parent / "conveyor"),
            "operator",
            "-n",
            NAMESPACE,
            "--operator-namespace",
            NAMESPACE,
            "--metrics-port",
            "0",
            "--identity",
            identity,
            "--lease-duration",
            str(self.lease_duration),
            "--kubeconfig",
            str(self.kubeconfig),
        ]
        self.slots[slot] = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
        log.close()

    def start_all(self) -> None:
        for slot in self.slots:
            self.start(slot)

    def kill_one(self) -> str:
        """SIGKILL (no chance to release the leader Lease) or SIGTERM, at random; restarted later."""
        slot = self.rng.choice(sorted(s for s, p in self.slots.items() if p is not None))
        proc = self.slots[slot]
        assert proc is not None
        how = self.rng.choice([signal.SIGKILL, signal.SIGTERM])
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, how)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(15)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        self.slots[slot] = None
        self.restarts += 1
        self._restart_at[slot] = time.monotonic() + self.rng.uniform(0.3, 1.5)
        return f"{slot}:{signal.Signals(how).name}"

    def tend(self) -> None:
        """Restart killed replicas when due; note replicas that died on their own (a crash)."""
        now = time.monotonic()
        for slot, proc in self.slots.items():
            if proc is not None and proc.poll() is not None:
                self.unexpected_exits.append(f"chaos-{slot}-{self.generation[slot]} exited {proc.returncode}")
                self.slots[slot] = None
                self._restart_at[slot] = now
        for slot, due in list(self._restart_at.items()):
            if now >= due:
                del self._restart_at[slot]
                self.start(slot)

    def ensure_running(self) -> None:
        for slot in self._restart_at:
            self._restart_at[slot] = 0.0
        self.tend()

    def stop_all(self) -> None:
        for proc in self.slots.values():
            if proc is not None and proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.slots.values():
            if proc is not None:
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(5)


class OperatorDeployment:
    """The operator as the chart runs it, an apps/v1 Deployment of two replicas (the full profile):
    a killed pod is replaced by the sim's Deployment controller, not by this script."""

    def __init__(self, api: client.ApiClient, lease_duration: int, rng: random.Random) -> None:
        self.core: Any = client.CoreV1Api(api)
        self.apps: Any = client.AppsV1Api(api)
        self.lease_duration = lease_duration
        self.rng = rng
        self.restarts = 0
        self.unexpected_exits: list[str] = []

    def start_all(self) -> None:
        env = [
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "CONVEYOR_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "HOME", "value": "/tmp"},
        ]
        container = {
            "name": "operator",
            "image": "ghcr.io/conveyor-dev/conveyor:latest",
            "command": ["conveyor"],
            "args": [
                "operator",
                f"--namespace={NAMESPACE}",
                "--operator-namespace=$(CONVEYOR_NAMESPACE)",
                "--metrics-port=0",
                f"--lease-duration={self.lease_duration}",
                "--identity=$(POD_NAME)",
            ],
            "env": env,
        }
        self.apps.create_namespaced_deployment(
            NAMESPACE,
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": OPERATOR_APP},
                "spec": {
                    "replicas": 2,
                    "selector": {"matchLabels": {"app": OPERATOR_APP}},
                    "template": {
                        "metadata": {"labels": {"app": OPERATOR_APP}},
                        "spec": {"containers": [container], "terminationGracePeriodSeconds": 5},
                    },
                },
            },
        )

    def _pods(self) -> list[Any]:
        pods = self.core.list_namespaced_pod(NAMESPACE, label_selector=f"app={OPERATOR_APP}").items
        return [p for p in pods if p.metadata.deletion_timestamp is None and p.status.phase == "Running"]

    def kill_one(self) -> str:
        pods = self._pods()
        if not pods:
            return "none running"
        pod = self.rng.choice(pods)
        grace = self.rng.choice([0, 5])  # 0: SIGKILL at once; 5: SIGTERM and a graceful stop
        with contextlib.suppress(ApiException):
            self.core.delete_namespaced_pod(pod.metadata.name, NAMESPACE, grace_period_seconds=grace,
                                            _preload_content=False)  # the sim may answer a Status
            self.restarts += 1
        return f"{pod.metadata.name}:grace={grace}"

    def tend(self) -> None:
        return None

    def ensure_running(self) -> None:
        return None

    def stop_all(self) -> None:
        with contextlib.suppress(ApiException):
            self.apps.delete_namespaced_deployment(OPERATOR_APP, NAMESPACE)


# ---- the run -----------------------------------------------------------------------------------


@dataclass
class Request:
    name: str
    kind: str
    deployment: str | None
    created: float


@dataclass
class ChaosReport:
    profile: str
    executions: int = 0
    s1: list[str] = field(default_factory=list)
    s2: list[str] = field(default_factory=list)
    s3: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    unadmitted_runs: list[str] = field(default_factory=list)
    order_violations: list[str] = field(default_factory=list)
    scheduled_refused: list[str] = field(default_factory=list)
    recorder_gaps: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    operator_restarts: int = 0
    operator_crashes: list[str] = field(default_factory=list)
    worker_kills: int = 0
    cancels: int = 0
    harness_errors: list[str] = field(default_factory=list)
    phases: dict[str, int] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    wall_seconds: float = 0.0
    settle_seconds: float = 0.0
    admission_delays: list[float] = field(default_factory=list)
    """Seconds from each Execution's creation to its first status (admitted, queued, refused...), as
    the harness's watch saw them: operator unavailability (restarts, leader hand-over) shows here."""

    @property
    def violations(self) -> int:
        return len(self.s1) + len(self.s2) + len(self.s3)

    @property
    def clean(self) -> bool:
        return not (
            self.violations
            or self.lost
            or self.duplicates
            or self.unadmitted_runs
            or self.order_violations
            or self.scheduled_refused
            or self.recorder_gaps
        )

    def figures(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "executions": self.executions,
            "invariant_violations": self.violations,
            "s1_violations": len(self.s1),
            "s2_violations": len(self.s2),
            "s3_violations": len(self.s3),
            "lost_executions": len(self.lost),
            "duplicates": len(self.duplicates),
            "unadmitted_runs": len(self.unadmitted_runs),
            "order_violations": len(self.order_violations),
            "scheduled_refused": len(self.scheduled_refused),
            "recorder_gaps": self.recorder_gaps,
            "faults_injected": self.faults,
            "operator_restarts": self.operator_restarts,
            "operator_crashes": len(self.operator_crashes),
            "worker_kills": self.worker_kills,
            "cancels": self.cancels,
            "requests": self.requests,
            "final_phases": self.phases,
            "wall_seconds": round(self.wall_seconds, 1),
            "settle_seconds": round(self.settle_seconds, 1),
            "first_status_p50_s": round(_quantile(self.admission_delays, 0.5), 2),
            "first_status_max_s": round(_quantile(self.admission_delays, 1.0), 2),
        }

    def render(self) -> str:
        lines = [f"chaos ({self.profile}): {'OK' if self.clean else 'FAILED'}"]
        for key, value in self.figures().items():
            lines.append(f"  {key:22} {value}")
        details = [
            ("S1", self.s1),
            ("S2", self.s2),
            ("S3", self.s3),
            ("lost", self.lost),
            ("duplicates", self.duplicates),
            ("unadmitted runs", self.unadmitted_runs),
            ("order", self.order_violations),
            ("scheduled refused", self.scheduled_refused),
            ("operator crashes", self.operator_crashes),
            ("harness errors", self.harness_errors),
        ]
        for label, items in details:
            for item in items[:10]:
                lines.append(f"  {label}: {item}")
            if len(items) > 10:
                lines.append(f"  {label}: ... {len(items) - 10} more")
        for message, count in sorted(self.errors.items(), key=lambda kv: -kv[1])[:8]:
            lines.append(f"  failed x{count}: {message}")
        return "\n".join(lines)


def _grant_cluster_admin(sim: SimServer) -> None:
    """The sim enforces RBAC, as a cluster does; the run is about faults and kills, not permissions,
    so the harness user and the operators' ServiceAccounts (Deployment mode) get cluster-admin, as
    an installer would give them what the chart grants."""
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "chaos-cluster-admin"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": HARNESS_USER},
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:serviceaccounts"},
        ],
    }
    sim.call(sim.api.create(("rbac.authorization.k8s.io", "v1", "clusterrolebindings"), None, binding))


class ChaosRun:
    def __init__(self, profile: Profile, work: Path, seed: int) -> None:
        self.profile = profile
        self.work = work
        self.rng = random.Random(seed)
        self.report = ChaosReport(profile.name)
        self.requests: list[Request] = []

    # -- setup --

    def _harness_client(self, kubeconfig: Path) -> client.ApiClient:
        api = config.new_client_from_config(config_file=str(kubeconfig))
        api.set_default_header("Impersonate-User", HARNESS_USER)
        return api

    def _prepare(self, api: client.ApiClient, kubeconfig: Path) -> None:
        env = {
            **os.environ,
            "KUBECONFIG": str(kubeconfig),
            "PATH": f"{REPO / '.tools' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        for argv in (
            ["apply", "-f", str(REPO / "crds")],
            [
                "wait",
                "--for=condition=Established",
                "crd/executions.conveyor.dev",
                "crd/deployments.conveyor.dev",
                "--timeout=30s",
            ],
        ):
            subprocess.run(["kubectl", *argv], env=env, check=True, capture_output=True)
        core: Any = client.CoreV1Api(api)
        core.create_namespace({"metadata": {"name": NAMESPACE}})
        core.create_namespaced_config_map(
            NAMESPACE, {"metadata": {"name": SOURCE}, "data": {f"{MODULE}.py": FLOWS}}
        )
        core.create_namespaced_config_map(
            NAMESPACE, {"metadata": {"name": "conveyor-config"}, "data": {"config.yaml": SYSTEM_CONFIG}}
        )
        custom: Any = client.CustomObjectsApi(api)
        for index in range(self.profile.deployments):
            custom.create_namespaced_custom_object(
                GROUP,
                VERSION,
                NAMESPACE,
                "deployments",
                {
                    "apiVersion": f"{GROUP}/{VERSION}",
                    "kind": "Deployment",
                    "metadata": {"name": f"d{index:02d}"},
                    "spec": {
                        "source": {"configMap": SOURCE},
                        "worker": {"idleTimeoutSeconds": 900},
                        "workflows": {"work": {"mapping": f"{MODULE}.work", "parameters": PARAMETERS}},
                    },
                },
            )

    # -- actions --

    def _create(self, custom: Any) -> None:
        kinds, weights = zip(*self.profile.mix, strict=True)
        kind = self.rng.choices(kinds, weights)[0]
        seconds = round(self.rng.uniform(*self.profile.work_seconds), 2)
        parameters = {"folder": str(self.work), "seconds": seconds}
        deployment: str | None = f"d{self.rng.randrange(self.profile.deployments):02d}"
        spec: dict[str, Any] = {"workflow": "work", "parameters": parameters}
        if kind == "forced":
            spec["force"] = True
        elif kind == "queued":
            spec["queue"] = True
        elif kind == "scheduled":
            when = datetime.now(UTC) + timedelta(seconds=self.rng.uniform(1.0, 4.0))
            spec["scheduledTime"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        elif kind == "system":
            deployment = None
            spec["workflow"] = "sweep"
            spec["queue"] = self.rng.random() < 0.7
        if deployment is not None:
            spec["deployment"] = deployment
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Execution",
            "metadata": {"generateName": f"{kind}-"},
            "spec": spec,
        }
        try:
            created = custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "executions", body)
        except ApiException as error:
            self.report.harness_errors.append(f"create {kind}: {error.status} {error.reason}")
            return
        self.requests.append(Request(created["metadata"]["name"], kind, deployment, time.monotonic()))

    def _cancel(self, custom: Any, recorder: HistoryRecorder) -> None:
        open_ones = [r for r in self.requests if recorder.phases.get(r.name) not in FINAL]
        if not open_ones:
            return
        target = self.rng.choice(open_ones)
        mode = self.rng.choice(["graceful", "force", "kill"])
        try:
            custom.patch_namespaced_custom_object(
                GROUP, VERSION, NAMESPACE, "executions", target.name, {"spec": {"cancel": mode}}
            )
            self.report.cancels += 1
        except ApiException as error:
            self.report.harness_errors.append(f"cancel {target.name}: {error.status} {error.reason}")

    def _kill_worker(self, core: Any) -> None:
        pods = [
            p
            for p in core.list_namespaced_pod(NAMESPACE, label_selector=WORKER_SELECTOR).items
            if p.metadata.deletion_timestamp is None and p.status.phase == "Running"
        ]
        if not pods:
            return
        pod = self.rng.choice(pods)
        with contextlib.suppress(ApiException):
            core.delete_namespaced_pod(pod.metadata.name, NAMESPACE, grace_period_seconds=0,
                                       _preload_content=False)  # the sim may answer a Status
            self.report.worker_kills += 1

    # -- the whole run --

    def run(self) -> ChaosReport:
        began = time.monotonic()
        self.work.mkdir(parents=True, exist_ok=True)
        (self.work / RUNS_FILE).touch()
        with SimServer.run_in_thread(kubeconfig=self.work / "kubeconfig", controllers=_controllers()) as sim:
            assert sim.kubeconfig is not None
            _grant_cluster_admin(sim)
            api = self._harness_client(sim.kubeconfig)
            self._prepare(api, sim.kubeconfig)
            recorder = HistoryRecorder(api, NAMESPACE).start()
            operators: OperatorProcesses | OperatorDeployment
            if self.profile.operator_mode == "process":
                operators = OperatorProcesses(
                    sim.kubeconfig, self.work, self.profile.lease_duration, self.rng
                )
            else:
                operators = OperatorDeployment(api, self.profile.lease_duration, self.rng)
            operators.start_all()
            try:
                _wait_for_leader(api, timeout=90.0)
                sim.faults.configure(self.profile.faults)
                sim.faults.reset_counts()
                self._chaos(api, recorder, operators)
                self.report.faults = sim.faults.counts()
                sim.faults.disable()
                operators.ensure_running()
                settle_began = time.monotonic()
                self._settle(recorder, operators)
                self.report.settle_seconds = time.monotonic() - settle_began
                time.sleep(1.0)  # let the last status writes reach the recorder's watch
            finally:
                recorder.stop()
                operators.stop_all()
                self.report.operator_restarts = operators.restarts
                self.report.operator_crashes = list(operators.unexpected_exits)
            self._check(api, recorder)
            api.close()
        self.report.wall_seconds = time.monotonic() - began
        return self.report

    def _chaos(
        self,
        api: client.ApiClient,
        recorder: HistoryRecorder,
        operators: OperatorProcesses | OperatorDeployment,
    ) -> None:
        custom = client.CustomObjectsApi(api)
        core = client.CoreV1Api(api)
        profile = self.profile
        start = time.monotonic()
        plan: list[tuple[float, str]] = []
        for index in range(profile.executions):
            plan.append((profile.create_seconds * (index + self.rng.random()) / profile.executions, "create"))
        for _ in range(int(profile.executions * profile.cancel_share)):
            plan.append((self.rng.uniform(1.0, profile.create_seconds), "cancel"))
        for what, every in (("operator", profile.operator_kill_every), ("worker", profile.worker_kill_every)):
            moment = self.rng.uniform(*every)
            while moment < profile.create_seconds:
                plan.append((moment, what))
                moment += self.rng.uniform(*every)
        plan.sort()
        for moment, what in plan:
            while time.monotonic() - start < moment:
                operators.tend()
                time.sleep(min(0.05, max(0.0, moment - (time.monotonic() - start))))
            if what == "create":
                self._create(custom)
            elif what == "cancel":
                self._cancel(custom, recorder)
            elif what == "operator":
                operators.kill_one()
            elif what == "worker":
                self._kill_worker(core)
        self.report.executions = len(self.requests)
        self.report.requests = dict(Counter(r.kind for r in self.requests))

    def _settle(self, recorder: HistoryRecorder, operators: OperatorProcesses | OperatorDeployment) -> None:
        deadline = time.monotonic() + self.profile.settle_seconds
        names = [r.name for r in self.requests]
        while time.monotonic() < deadline:
            operators.tend()
            if all(recorder.phases.get(name) in FINAL for name in names):
                return
            time.sleep(0.2)

    # -- the checks --

    def _check(self, api: client.ApiClient, recorder: HistoryRecorder) -> None:
        report = self.report
        custom: Any = client.CustomObjectsApi(api)
        listed = custom.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "executions")["items"]
        final = {o["metadata"]["name"]: o for o in listed}
        found = check_invariants(recorder.events)
        report.s1, report.s2, report.s3 = found.s1, found.s2, found.s3
        report.recorder_gaps = recorder.gaps
        phases: Counter[str] = Counter()
        errors: Counter[str] = Counter()
        for request in self.requests:
            obj = final.get(request.name)
            status = (obj or {}).get("status") or {}
            phase = status.get("phase")
            phases[str(phase)] += 1
            if phase not in FINAL:
                report.lost.append(f"{request.name} ({request.kind}, {request.deployment}): {phase}")
            if phase == "failed":
                errors[_shorten(status.get("error") or "")] += 1
                if obj is not None and _refused_as_past_although_valid(obj):
                    report.scheduled_refused.append(
                        f"{request.name}: scheduledTime {obj['spec']['scheduledTime']}, created "
                        f"{obj['metadata']['creationTimestamp']}: {status.get('error')}"
                    )
        report.phases = dict(phases)
        report.errors = dict(errors)
        lines = (self.work / RUNS_FILE).read_text().splitlines()
        runs = Counter(line.split()[0] for line in lines if line.strip())
        report.duplicates = [f"{name} ran {count} times" for name, count in sorted(runs.items()) if count > 1]
        admitted = {
            obj["metadata"]["name"]
            for _, obj in recorder.events
            if (obj.get("status") or {}).get("phase") in RUNNING
        }
        report.unadmitted_runs = [
            f"{name} ran but was never admitted" for name in sorted(runs) if name not in admitted
        ]
        report.order_violations = queue_order_violations(recorder.events)
        report.admission_delays = first_status_delays(recorder.events, recorder.received)
        with (self.work / "history.jsonl").open("w") as out:  # for the post-mortem of a failed run
            for kind, obj in recorder.events:
                out.write(json.dumps({"type": kind, "object": obj}, separators=(",", ":")) + "\n")


def queue_order_violations(events: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Per deployment, FIFO by creation among non-forced queued executions: when a non-forced
    execution starts (from the queue or at once), no older one of its deployment may still be
    waiting in the queue. Creation order is the
    order of first appearance in the history (the server's resourceVersion order). Executions with
    a `scheduledTime`, and ones whose cancel was requested, are left out."""
    order: dict[str, int] = {}
    phases: dict[str, str | None] = {}
    eligible: dict[str, str] = {}  # name -> deployment, for non-forced, unscheduled deployment executions
    found: list[str] = []
    for kind, obj in events:
        name = obj["metadata"]["name"]
        spec = obj.get("spec") or {}
        if kind == "DELETED":
            phases.pop(name, None)
            continue
        order.setdefault(name, len(order))
        if spec.get("cancel"):
            eligible.pop(name, None)
        elif spec.get("deployment") and not spec.get("force") and not spec.get("scheduledTime"):
            eligible[name] = spec["deployment"]
        old, new = phases.get(name), (obj.get("status") or {}).get("phase")
        phases[name] = new
        if old not in RUNNING and new in RUNNING and name in eligible:
            deployment = eligible[name]
            skipped = sorted(
                other
                for other, dep in eligible.items()
                if dep == deployment and phases.get(other) == "queued" and order[other] < order[name]
            )
            if skipped:
                found.append(f"{name} ({deployment}) started before older queued {skipped}")
    return found


def _refused_as_past_although_valid(obj: dict[str, Any]) -> bool:
    """A scheduled execution refused as "in the past" although its scheduledTime was not before its
    creation (metadata.creationTimestamp, the server's clock, whole seconds): DESIGN.md says a
    scheduled execution whose time has come goes through admission as if `queue` were set."""
    error = (obj.get("status") or {}).get("error") or ""
    scheduled = (obj.get("spec") or {}).get("scheduledTime")
    if "is in the past" not in error or not scheduled:
        return False
    at = datetime.fromisoformat(scheduled.replace("Z", "+00:00"))
    created = datetime.fromisoformat(obj["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
    return at >= created


def first_status_delays(events: list[tuple[str, dict[str, Any]]], received: list[float]) -> list[float]:
    """Per execution, seconds between its ADDED event and the first event that carries a phase."""
    added: dict[str, float] = {}
    delays: list[float] = []
    for (kind, obj), moment in zip(events, received, strict=True):
        name = obj["metadata"]["name"]
        if kind == "ADDED" and not (obj.get("status") or {}).get("phase"):
            added[name] = moment
        elif name in added and (obj.get("status") or {}).get("phase"):
            delays.append(moment - added.pop(name))
    return delays


def _quantile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _shorten(message: str) -> str:
    first = message.splitlines()[0] if message else "(no error)"
    return first if len(first) <= 140 else first[:137] + "..."


def _wait_for_leader(api: client.ApiClient, timeout: float) -> None:
    """Chaos starts once an operator replica leads: executions created before any operator runs
    would only measure its start-up."""
    coordination: Any = client.CoordinationV1Api(api)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ApiException):
            lease = coordination.read_namespaced_lease(LEADER_LEASE_NAME, NAMESPACE)
            if lease.spec.holder_identity:
                return
        time.sleep(0.2)
    raise RuntimeError(f"no operator replica took the leader Lease within {timeout:g}s")


def _controllers() -> list[Any]:
    from conveyor.sim.__main__ import default_controllers

    return default_controllers()


@contextlib.contextmanager
def _work_folder(path: str | None) -> Iterator[Path]:
    if path:
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        yield folder
        return
    import tempfile

    with tempfile.TemporaryDirectory(prefix="conveyor-chaos-") as tmp:
        yield Path(tmp)


def run_chaos(profile: Profile, work: Path, seed: int = 1) -> ChaosReport:
    """One chaos run in `work` (logs of the operators, the side-effect file, the kubeconfig)."""
    profile = replace(profile, faults=replace(profile.faults, seed=seed))
    return ChaosRun(profile, work, seed).run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="full")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--operator-mode", choices=["deployment", "process"], default=None)
    parser.add_argument("--work-dir", default=None, help="Keep logs and the side-effect file here.")
    parser.add_argument("--json", default=None, help="Also write the figures to this file.")
    args = parser.parse_args(argv)
    profile = PROFILES[args.profile]
    if args.operator_mode:
        profile = replace(profile, operator_mode=args.operator_mode)
    with _work_folder(args.work_dir) as work:
        report = run_chaos(profile, work, args.seed)
    print(report.render(), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report.figures(), indent=2) + "\n")
    return 0 if report.clean else 1


if __name__ == "__main__":
    sys.exit(main())
