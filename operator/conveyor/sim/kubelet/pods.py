"""The kubelet loop: every Pod becomes local process groups, and its status follows them.

What must hold, as on a node:
- A Pod without `spec.nodeName` is bound to this node (`conveyor-sim`, also created as a Node); Pods
  bound elsewhere are left alone.
- Before anything runs, the Pod's ServiceAccount, and every ConfigMap / Secret its env refers to,
  must exist: otherwise the Pod stays Pending, its containers waiting with
  CreateContainerConfigError and the kubelet's message, and it is retried until they appear.
- Containers run with a KUBECONFIG for the Pod's ServiceAccount (written in the Pod's private dir)
  in place of the in-cluster token files, so the official client and kopf, which try in-cluster
  config first, fall back to it: KUBERNETES_SERVICE_HOST is deliberately not set.
- Volumes: emptyDir, configMap and secret volumes are folders under the Pod's dir (the latter two
  filled with the keys as files); `mountPath` cannot be honoured without containers, so each mount is
  announced as `CONVEYOR_SIM_MOUNT_<NAME>` (the mount's volume name, upper-cased, `-` and `.` as
  `_`) pointing at that folder.
- Init containers run one after the other before the containers, each to success (retried unless
  restartPolicy is Never, which fails the Pod).
- The environment is the Pod's (env, envFrom), over a small base: PATH with the sim's venv first,
  HOME (the Pod's folder), HOSTNAME (the Pod's name), KUBECONFIG, PYTHONUNBUFFERED=1 (what a Python
  image usually sets, so logs stream), and the locale / TLS / coverage variables of the sim's own
  environment. Nothing else of the sim's environment leaks in (notably not its own KUBECONFIG).
- Readiness and liveness probes run as the kubelet runs them (see `probes`); a container without a
  readiness probe is ready as soon as it runs.
- The status (phase, containerStatuses, conditions, podIP 127.0.0.1) is written on every change.
- A Pod with a deletionTimestamp: SIGTERM, its grace period, SIGKILL, the final status written, and
  only then the Pod is removed (a delete with grace 0).
- When the kubelet stops (the sim stops), every Pod's processes are stopped the same way, with the
  grace capped so the sim stops promptly.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import re
import shutil
import tempfile
import weakref
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from conveyor.sim.controllers.client import CONFIGMAPS, LEASES, NODES, PODS, SECRETS, SERVICEACCOUNTS, Client
from conveyor.sim.controllers.events import NORMAL, WARNING, EventRecorder
from conveyor.sim.errors import StatusError
from conveyor.sim.kubelet import node as nodeinfo
from conveyor.sim.kubelet import podstatus
from conveyor.sim.kubelet.podenv import (
    ContainerConfigError,
    check_service_account,
    container_argv,
    resolve_env,
)
from conveyor.sim.kubelet.probes import Probe, probe_of, run_probe
from conveyor.sim.kubelet.process import (
    BackOff,
    ContainerCommand,
    ContainerProcess,
    RestartPolicy,
    Running,
    Terminated,
    Waiting,
    now,
    sim_path,
)

if TYPE_CHECKING:
    from conveyor.sim.api import ApiService

log = logging.getLogger(__name__)

NODE_NAME = "conveyor-sim"
CONFIG_RETRY_SECONDS = 1.0
# Variables of the sim's own environment a container inherits (the image would define the rest).
INHERITED_ENV = ("LANG", "LC_ALL", "TZ", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR")
INHERITED_PREFIXES = ("COVERAGE_",)


@dataclass
class KubeletConfig:
    node_name: str = NODE_NAME
    root: Path | None = None  # where Pod folders go; a fresh temporary folder by default
    backoff: BackOff = field(default_factory=BackOff)
    shutdown_grace: float = 5.0  # the most a sim stop waits for a Pod's processes after SIGTERM
    server_url: str | None = None  # for the injected kubeconfigs; else read from the ApiService
    # Image repository → entrypoint, for containers that give only `args` (images are not pulled,
    # so their ENTRYPOINT is unknown), e.g. {"ghcr.io/acme/conveyor": ["conveyor"]}.
    entrypoints: dict[str, list[str]] = field(default_factory=dict)


def mount_variable(volume: str) -> str:
    return "CONVEYOR_SIM_MOUNT_" + re.sub(r"[^A-Za-z0-9]", "_", volume).upper()


def kubeconfig_for(server: str, ca_pem: str, namespace: str, account: str, token: str) -> dict[str, Any]:
    """A kubeconfig that authenticates as the Pod's ServiceAccount, defaulting to its namespace."""
    cluster: dict[str, Any] = {"server": server}
    if ca_pem:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem.encode()).decode()
    user = f"system:serviceaccount:{namespace}:{account}"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "in-sim",
        "clusters": [{"name": "conveyor-sim", "cluster": cluster}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [
            {"name": "in-sim", "context": {"cluster": "conveyor-sim", "user": user, "namespace": namespace}}
        ],
    }


def working_dir(container: dict[str, Any], default: Path) -> Path:
    """The container's workingDir when that folder exists on this machine, else the Pod's folder."""
    wanted = container.get("workingDir")
    return Path(wanted) if wanted and Path(wanted).is_dir() else default


class PodRunner:
    """One Pod on this node: prepares it, runs its containers, reports, and tears it down."""

    def __init__(self, kubelet: Kubelet, pod: dict[str, Any]) -> None:
        self.kubelet = kubelet
        self.pod = pod
        meta = pod["metadata"]
        self.namespace, self.name, self.uid = meta["namespace"], meta["name"], meta["uid"]
        self.dir = kubelet.root / f"{self.namespace}_{self.name}_{self.uid}"
        self.containers: dict[str, ContainerProcess] = {}
        self.init_containers: dict[str, ContainerProcess] = {}
        self.init_failed = False
        self.config_error: str | None = None
        self.started_at: str | None = None
        self._dirty = asyncio.Event()
        # (container, restart count) → the state reason last turned into an Event (see _record_transitions)
        self._reported: dict[tuple[str, int], str] = {}
        self._deleting: int | None = None  # grace seconds, once deletion is requested
        self._delete_requested = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None

    @property
    def spec(self) -> dict[str, Any]:
        return self.pod.get("spec") or {}

    def process(self, name: str) -> ContainerProcess | None:
        """The process of a container or init container, once it has been started."""
        return self.containers.get(name) or self.init_containers.get(name)

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write_status_loop(), name=f"pod status {self.name}")
        self._task = asyncio.create_task(self._run(), name=f"pod {self.namespace}/{self.name}")

    def update(self, pod: dict[str, Any]) -> None:
        self.pod = pod
        if pod["metadata"].get("deletionTimestamp"):
            grace = int(pod["metadata"].get("deletionGracePeriodSeconds") or 0)
            if self._deleting is None or grace < self._deleting:
                self._deleting = grace
                self._delete_requested.set()

    # -- main ----------------------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            prepared = await self._prepare()
            if prepared is not None and await self._initialize(prepared[0]):
                self._start_containers(prepared[1])
                await self._until_done_or_deleted(list(self.containers.values()))
            await self._flush_status()
            await self._delete_requested.wait()  # finished Pods stay (and keep their logs) until deleted
            if self._deleting is not None:
                await self._stop(float(self._deleting))
                await self._flush_status()
                await self.kubelet.client.delete(PODS, self.namespace, self.name, grace=0, uid=self.uid)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("pod %s/%s: kubelet failure", self.namespace, self.name)

    async def _prepare(self) -> tuple[list[ContainerCommand], list[ContainerCommand]] | None:
        """Resolve what the (init) containers need; wait (Pending) while something referenced is
        missing. None when the Pod is deleted meanwhile."""
        while self._deleting is None:
            try:
                await check_service_account(self.pod, self.kubelet.lookup)
                init = [await self._command(c) for c in self.spec.get("initContainers") or ()]
                commands = [await self._command(c) for c in self.spec.get("containers") or ()]
                await self._materialize_volumes()
            except ContainerConfigError as e:
                if self.config_error != e.message:
                    self.config_error = e.message
                    self._changed()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._delete_requested.wait(), CONFIG_RETRY_SECONDS)
                continue
            self.config_error = None
            return init, commands
        return None

    async def _command(self, container: dict[str, Any]) -> ContainerCommand:
        # The pod's IPs are known before its containers start (they are fixed on this node).
        addresses = {
            "podIP": podstatus.POD_IP,
            "podIPs": [{"ip": podstatus.POD_IP}],
            "hostIP": podstatus.HOST_IP,
            "hostIPs": [{"ip": podstatus.HOST_IP}],
        }
        pod = {**self.pod, "status": {**(self.pod.get("status") or {}), **addresses}}
        pod_env = await resolve_env(pod, container, self.kubelet.lookup)
        env = {k: v for k, v in os.environ.items() if k in INHERITED_ENV or k.startswith(INHERITED_PREFIXES)}
        env.update({"HOME": str(self.dir), "HOSTNAME": self.name, "PYTHONUNBUFFERED": "1"})
        env["KUBECONFIG"] = str(await self._kubeconfig())
        for mount in container.get("volumeMounts") or ():
            env[mount_variable(mount["name"])] = str(self._volume_dir(mount["name"]))
        env.update(pod_env)
        env["PATH"] = sim_path(pod_env.get("PATH"))
        argv = container_argv(container, env, self.kubelet.config.entrypoints)
        return ContainerCommand(
            container["name"],
            argv,
            env,
            working_dir(container, self.dir),
            self.dir / "logs" / container["name"],
        )

    async def _kubeconfig(self) -> Path:
        path = self.dir / "kubeconfig"
        if path.exists():
            return path
        self.dir.mkdir(parents=True, exist_ok=True)
        account = self.spec.get("serviceAccountName") or "default"
        api = self.kubelet.client.api
        server = self.kubelet.config.server_url or getattr(api, "server_url", None)
        if not server:
            raise ContainerConfigError("the sim's URL is not known yet: no kubeconfig can be made")
        config = kubeconfig_for(
            server,
            getattr(api, "ca_pem", "") or "",
            self.namespace,
            account,
            api.token_for_service_account(self.namespace, account),
        )
        path.write_text(yaml.safe_dump(config))
        path.chmod(0o600)
        return path

    def _volume_dir(self, name: str) -> Path:
        return self.dir / "volumes" / name

    async def _materialize_volumes(self) -> None:
        for volume in self.spec.get("volumes") or ():
            target = self._volume_dir(volume["name"])
            target.mkdir(parents=True, exist_ok=True)
            for kind, res, ref_name in (("configMap", CONFIGMAPS, "name"), ("secret", SECRETS, "secretName")):
                source = volume.get(kind)
                if source is None:
                    continue
                obj = await self.kubelet.client.get(res, self.namespace, source.get(ref_name) or "")
                if obj is None:
                    if source.get("optional"):
                        continue
                    word = "configmap" if kind == "configMap" else "secret"
                    raise ContainerConfigError(f'{word} "{source.get(ref_name)}" not found')
                data = {k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()}
                if kind == "secret":
                    data.update({k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()})
                else:
                    data.update({k: str(v).encode() for k, v in (obj.get("data") or {}).items()})
                items = source.get("items")
                files = {i["path"]: data[i["key"]] for i in items if i["key"] in data} if items else data
                for rel, content in files.items():
                    dest = target / rel
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    dest.write_bytes(content)

    async def _initialize(self, commands: list[ContainerCommand]) -> bool:
        """Run the init containers one after the other; each must succeed before the next starts.
        They are retried on failure unless the Pod's restartPolicy is Never (then the Pod fails)."""
        never = self.spec.get("restartPolicy") == "Never"
        policy = RestartPolicy.NEVER if never else RestartPolicy.ON_FAILURE
        label = f"{self.name}_{self.namespace}({self.uid})"
        self.started_at = self.started_at or podstatus.timestamp(now())
        for command in commands:
            process = ContainerProcess(command, policy, self.kubelet.config.backoff, self._changed, label)
            self.init_containers[command.name] = process
            process.start()
            self._changed()
            await self._until_done_or_deleted([process])
            if self._deleting is not None:
                return False
            state = process.status.state
            if not (isinstance(state, Terminated) and state.exit_code == 0):
                self.init_failed = True
                self._changed()
                return False
        return True

    def _start_containers(self, commands: list[ContainerCommand]) -> None:
        policy = RestartPolicy(self.spec.get("restartPolicy") or "Always")
        label = f"{self.name}_{self.namespace}({self.uid})"
        self.started_at = self.started_at or podstatus.timestamp(now())
        specs = {c["name"]: c for c in self.spec.get("containers") or ()}
        for command in commands:
            spec = specs.get(command.name) or {}
            readiness = probe_of(spec.get("readinessProbe"), spec, command.env, command.workdir)
            liveness = probe_of(spec.get("livenessProbe"), spec, command.env, command.workdir)
            process = ContainerProcess(
                command,
                policy,
                self.kubelet.config.backoff,
                self._changed,
                label,
                while_running=self._prober(readiness, liveness) if readiness or liveness else None,
                ready_when_started=readiness is None,
            )
            self.containers[command.name] = process
            process.start()
        self._changed()

    def _prober(
        self, readiness: Probe | None, liveness: Probe | None
    ) -> Callable[[ContainerProcess], Coroutine[Any, Any, None]]:
        """What runs beside each run of a container: its readiness and liveness probes."""
        grace = float(self.spec.get("terminationGracePeriodSeconds", 30))

        async def probe(process: ContainerProcess) -> None:
            kills: set[asyncio.Task[None]] = set()

            def alive(ok: bool) -> None:
                if not ok:
                    task = asyncio.create_task(process.kill_run(grace))
                    kills.add(task)
                    task.add_done_callback(kills.discard)

            loops = []
            if readiness is not None:
                loops.append(run_probe(readiness, process.set_ready, initially=False))
            if liveness is not None:
                loops.append(run_probe(liveness, alive, initially=True))
            await asyncio.gather(*loops)

        return probe

    async def _until_done_or_deleted(self, processes: list[ContainerProcess]) -> None:
        done: asyncio.Future[Any] = asyncio.ensure_future(asyncio.gather(*(c.wait() for c in processes)))
        deleted: asyncio.Future[Any] = asyncio.ensure_future(self._delete_requested.wait())
        try:
            await asyncio.wait({done, deleted}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for future in (done, deleted):
                future.cancel()
            await asyncio.gather(done, deleted, return_exceptions=True)

    def _processes(self) -> list[ContainerProcess]:
        return [*self.init_containers.values(), *self.containers.values()]

    async def _stop(self, grace: float) -> None:
        await asyncio.gather(*(c.stop(grace) for c in self._processes()))
        self._changed()

    async def shutdown(self, grace_cap: float) -> None:
        """The sim is stopping: stop the processes now (no status written, the Pod is kept)."""
        grace = float(self.spec.get("terminationGracePeriodSeconds", 30))
        if self._task is not None:
            self._task.cancel()
        await asyncio.gather(
            *(c.stop(min(grace, grace_cap)) for c in self._processes()), return_exceptions=True
        )
        for task in (self._task, self._writer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    def kill_now(self) -> None:
        for c in self._processes():
            c.kill_now()

    # -- status --------------------------------------------------------------------------------------

    def _changed(self) -> None:
        self._dirty.set()

    async def _write_status_loop(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            try:
                await self._write_status()
                await self._record_transitions()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("pod %s/%s: status write failed", self.namespace, self.name)
                self._dirty.set()
                await asyncio.sleep(0.5)

    async def _record_transitions(self) -> None:
        """The kubelet's container Events: Created and Started for each run, BackOff while it waits
        to restart one, Killing when the Pod is deleted; each once per container run."""
        for name, process in {**self.init_containers, **self.containers}.items():
            state = process.status.state
            key = (name, process.status.restart_count)
            if isinstance(state, Running):
                reason = "Started"
            elif isinstance(state, Waiting) and state.reason == "CrashLoopBackOff":
                reason = "BackOff"
            elif isinstance(state, Terminated) and self._deleting is not None:
                reason = "Killing"
            else:
                continue
            if self._reported.get(key) == reason or (reason == "Killing" and self._reported.get(key) is None):
                continue
            self._reported[key] = reason
            field = f"spec.{'initContainers' if name in self.init_containers else 'containers'}{{{name}}}"
            if reason == "Started":
                await self.kubelet.events.record(self.pod, NORMAL, "Created", f"Created container: {name}",
                                                 "kubelet", field)
                await self.kubelet.events.record(self.pod, NORMAL, "Started", f"Started container {name}",
                                                 "kubelet", field)
            elif reason == "BackOff":
                await self.kubelet.events.record(
                    self.pod, WARNING, "BackOff",
                    f"Back-off restarting failed container {name} in pod "
                    f"{self.name}_{self.namespace}({self.uid})",
                    "kubelet", field,
                )
            else:
                await self.kubelet.events.record(self.pod, NORMAL, "Killing", f"Stopping container {name}",
                                                 "kubelet", field)

    async def _flush_status(self) -> None:
        self._dirty.clear()
        await self._write_status()

    def status(self, current: dict[str, Any]) -> dict[str, Any]:
        """The Pod's status now, keeping from `current` what must not move (start time, transitions)."""
        specs = self.spec.get("containers") or []
        init_specs = self.spec.get("initContainers") or []
        at = podstatus.timestamp(now())
        not_created = "CreateContainerConfigError" if self.config_error else "PodInitializing"
        init_statuses = [self._status_of(c, self.init_containers, not_created) for c in init_specs]
        initialized = all(
            isinstance(p.status.state, Terminated) and p.status.state.exit_code == 0
            for p in (self.init_containers.get(c["name"]) for c in init_specs)
            if p is not None
        ) and len(self.init_containers) == len(init_specs)
        if self.containers:
            phase = podstatus.phase([self.containers[c["name"]].status for c in specs])
        else:
            phase = "Failed" if self.init_failed else "Pending"
        waiting = (
            not_created
            if init_specs
            else ("CreateContainerConfigError" if self.config_error else "ContainerCreating")
        )
        container_statuses = [self._status_of(c, self.containers, waiting) for c in specs]
        ready = phase == "Running" and all(s["ready"] for s in container_statuses)
        status: dict[str, Any] = {
            "phase": phase,
            "conditions": podstatus.conditions(
                ready,
                initialized,
                current.get("conditions") or [],
                at,
                podstatus.not_ready_reason(phase),
                [
                    c["name"]
                    for c, s in zip(init_specs, init_statuses, strict=True)
                    if "terminated" not in s["state"] or s["state"]["terminated"]["exitCode"] != 0
                ],
            ),
            "hostIP": podstatus.HOST_IP,
            "hostIPs": [{"ip": podstatus.HOST_IP}],
            "podIP": podstatus.POD_IP,
            "podIPs": [{"ip": podstatus.POD_IP}],
            "startTime": current.get("startTime") or self.started_at or at,
            "containerStatuses": container_statuses,
            "qosClass": current.get("qosClass") or "BestEffort",
        }
        if init_specs:
            status["initContainerStatuses"] = init_statuses
        return status

    def _status_of(
        self, spec: dict[str, Any], processes: dict[str, ContainerProcess], waiting: str
    ) -> dict[str, Any]:
        process = processes.get(spec["name"])
        if process is None:
            message = self.config_error if waiting == "CreateContainerConfigError" else ""
            return podstatus.waiting_status(spec, waiting, message or "")
        return podstatus.container_status(spec, process.status, self._container_id(spec["name"]))

    def _container_id(self, name: str) -> str:
        process = self.process(name)
        if process is None or not process.runs:
            return ""
        return f"conveyor-sim://{self.uid}-{name}-{process.status.restart_count}"

    async def _write_status(self) -> None:
        """A CAS write of the whole status, and only to this Pod: a Pod recreated under the same
        name (another uid) must never receive a late status of its predecessor."""

        def change(current: dict[str, Any]) -> bool:
            if current["metadata"].get("uid") != self.uid:
                return False
            status = self.status(current.get("status") or {})
            if status == current.get("status"):
                return False
            current["status"] = status
            return True

        written = await self.kubelet.client.modify(PODS, self.namespace, self.name, change, "status")
        if written is not None and written["metadata"].get("uid") == self.uid:
            self.pod = {**self.pod, "status": written.get("status") or {}}


class Kubelet:
    """Runs the Pods bound to this node; a controller coroutine for the sim's server.

    The kubelet of an ApiService is found with `Kubelet.for_api` (the pods/log handler needs it).
    """

    _by_api: weakref.WeakKeyDictionary[ApiService, Kubelet] = weakref.WeakKeyDictionary()

    def __init__(self, api: ApiService, config: KubeletConfig | None = None) -> None:
        self.client = Client(api)
        self.events = EventRecorder(self.client)
        self.config = config or KubeletConfig()
        self._own_root = self.config.root is None
        self.root = self.config.root or Path(tempfile.mkdtemp(prefix="conveyor-sim-pods-"))
        self.pods: dict[str, PodRunner] = {}
        self._syncing = asyncio.Lock()  # pod events and node changes both sync pods: one at a time
        Kubelet._by_api[api] = self

    @classmethod
    def for_api(cls, api: ApiService) -> Kubelet | None:
        return cls._by_api.get(api)

    async def lookup(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        res = {"configmaps": CONFIGMAPS, "secrets": SECRETS, "serviceaccounts": SERVICEACCOUNTS}[kind]
        return await self.client.get(res, namespace, name)

    def find(self, namespace: str, name: str) -> PodRunner | None:
        for runner in self.pods.values():
            if runner.namespace == namespace and runner.name == name:
                return runner
        return None

    async def run(self) -> None:
        node_watch: asyncio.Task[None] | None = None
        try:
            await self._ensure_node()
            node_watch = asyncio.create_task(self._watch_node(), name="kubelet node watch")
            while True:
                try:
                    async for kind, pod in self.client.list_and_watch(PODS, resync_seconds=60.0):
                        async with self._syncing:
                            await self._sync(kind, pod)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("kubelet: pod watch failed; re-listing")
                    await asyncio.sleep(1.0)
        finally:
            if node_watch is not None:
                node_watch.cancel()
            await self.shutdown()

    async def _watch_node(self) -> None:
        """An uncordoned node takes the Pods that waited while it was unschedulable (the scheduler's
        retry on a node update)."""
        while True:
            try:
                async for kind, node in self.client.list_and_watch(NODES, resync_seconds=300.0):
                    if kind == "DELETED" or node["metadata"]["name"] != self.config.node_name:
                        continue
                    if (node.get("spec") or {}).get("unschedulable"):
                        continue
                    for pod in await self.client.list(PODS):
                        if not (pod.get("spec") or {}).get("nodeName"):
                            async with self._syncing:
                                await self._sync("MODIFIED", pod)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("kubelet: node watch failed; re-listing")
                await asyncio.sleep(1.0)

    async def _cordoned_for(self, pod: dict[str, Any]) -> bool:
        """The node is cordoned and the Pod does not tolerate it: the scheduler leaves it Pending."""
        node = await self.client.get(NODES, None, self.config.node_name)
        if node is None or not (node.get("spec") or {}).get("unschedulable"):
            return False
        tolerated = any(
            t.get("operator") == "Exists" and t.get("key") in (None, "", "node.kubernetes.io/unschedulable")
            for t in (pod.get("spec") or {}).get("tolerations") or ()
        )
        if tolerated:
            return False
        await self.events.record(
            pod, WARNING, "FailedScheduling",
            "0/1 nodes are available: 1 node(s) were unschedulable. preemption: 0/1 nodes are available: "
            "1 Preemption is not helpful for scheduling.", "default-scheduler",
        )
        return True

    async def shutdown(self) -> None:
        runners = list(self.pods.values())
        self.pods.clear()
        await asyncio.gather(
            *(r.shutdown(self.config.shutdown_grace) for r in runners), return_exceptions=True
        )
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    async def _ensure_node(self) -> None:
        node = await self.client.get(NODES, None, self.config.node_name)
        if node is None:
            body = {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": self.config.node_name,
                    "labels": {
                        "kubernetes.io/hostname": self.config.node_name,
                        "kubernetes.io/os": "linux",
                        "kubernetes.io/arch": "amd64",
                        "beta.kubernetes.io/os": "linux",
                        "beta.kubernetes.io/arch": "amd64",
                        "node-role.kubernetes.io/control-plane": "",
                    },
                },
                "spec": {},
            }
            created = await self.client.create(NODES, None, body)
            at = podstatus.timestamp(now())
            status = nodeinfo.node_status(self.config.node_name, podstatus.HOST_IP, str(self.root), at)
            node = await self.client.patch_status(NODES, created, status) or created
        if await self.client.get(LEASES, "kube-node-lease", self.config.node_name) is None:
            renew = now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            lease = nodeinfo.node_lease(self.config.node_name, node["metadata"]["uid"], renew)
            with contextlib.suppress(StatusError):  # another kubelet start won the race: fine
                await self.client.create(LEASES, "kube-node-lease", lease)

    async def _sync(self, kind: str, pod: dict[str, Any]) -> None:
        uid = pod["metadata"]["uid"]
        runner = self.pods.get(uid)
        if kind == "DELETED":
            if runner is not None:
                del self.pods[uid]
                await runner.shutdown(0.0)  # removed without a graceful delete: kill now
            return
        node = (pod.get("spec") or {}).get("nodeName")
        if node and node != self.config.node_name:
            return
        if runner is not None:
            runner.update(pod)
            return
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            if pod["metadata"].get("deletionTimestamp"):
                await self.client.delete(
                    PODS, pod["metadata"]["namespace"], pod["metadata"]["name"], grace=0, uid=uid
                )
            return
        if not node:
            if not pod["metadata"].get("deletionTimestamp") and await self._cordoned_for(pod):
                return
            bound = await self._bind(pod)
            if bound is None:
                return
            pod = bound
            await self.events.record(
                pod, NORMAL, "Scheduled",
                f"Successfully assigned {pod['metadata']['namespace']}/{pod['metadata']['name']} "
                f"to {self.config.node_name}", "default-scheduler",
            )
        runner = PodRunner(self, pod)
        self.pods[uid] = runner
        runner.update(pod)
        runner.start()

    async def _bind(self, pod: dict[str, Any]) -> dict[str, Any] | None:
        node = self.config.node_name

        def bind(current: dict[str, Any]) -> bool:
            if current["metadata"].get("uid") != pod["metadata"]["uid"] or (current.get("spec") or {}).get(
                "nodeName"
            ):
                return False
            current.setdefault("spec", {})["nodeName"] = node
            return True

        bound = await self.client.modify(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"], bind)
        if bound is None or bound["metadata"].get("uid") != pod["metadata"]["uid"]:
            return None
        if (bound.get("spec") or {}).get("nodeName") != node:
            return None
        return bound
