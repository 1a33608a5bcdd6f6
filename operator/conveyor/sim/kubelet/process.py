"""Supervision of one container as a local process group: start, capture logs, restart, stop.

No API here: the pod loop (`pods.py`) turns a Pod's container into a `ContainerCommand`, and reads
back a `ContainerStatus` whenever `on_change` fires. What must hold, as on a node:
- each run is its own session / process group, so a stop reaches the children the command spawned,
  and when the main process exits the rest of its group goes with it (as a container's PID namespace
  dies with its PID 1);
- stop = SIGTERM to the group, the grace period, then SIGKILL; after a stop nothing restarts;
- restarts follow the restart policy with the kubelet's back-off (immediate, then base doubling to the
  cap), and the container waits in CrashLoopBackOff meanwhile;
- nothing outlives the sim: every live group is killed at interpreter exit, and each child asks the
  kernel for SIGKILL when the sim dies (PR_SET_PDEATHSIG), for the case where no exit hook runs.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import os
import shutil
import signal
import sys
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from conveyor.sim.kubelet.logfiles import LogRun, LogWriter

KEEP_RUNS = 2  # the current run's log and the previous one (what `previous=true` serves)
PIPE_DRAIN_SECONDS = 2.0


class RestartPolicy(StrEnum):
    ALWAYS = "Always"
    ON_FAILURE = "OnFailure"
    NEVER = "Never"

    def restarts_after(self, exit_code: int) -> bool:
        return self is RestartPolicy.ALWAYS or (self is RestartPolicy.ON_FAILURE and exit_code != 0)


@dataclass(frozen=True)
class BackOff:
    """Kubelet's crash-loop back-off: the first restart is immediate, then base, 2*base, ... cap."""

    base: float = 10.0
    cap: float = 300.0

    def delay(self, restart: int) -> float:
        """Seconds to wait before restart number `restart` (1 for the first)."""
        if restart <= 1:
            return 0.0
        return min(self.base * 2 ** (restart - 2), self.cap)


@dataclass(frozen=True)
class Waiting:
    reason: str
    message: str = ""


@dataclass(frozen=True)
class Running:
    started_at: datetime


@dataclass(frozen=True)
class Terminated:
    exit_code: int
    reason: str
    started_at: datetime | None
    finished_at: datetime
    message: str = ""
    signal: int | None = None


ContainerState = Waiting | Running | Terminated


@dataclass
class ContainerStatus:
    """What the pod loop reports for one container (kube's ContainerStatus, without the image)."""

    state: ContainerState = field(default_factory=lambda: Waiting("ContainerCreating"))
    last_state: Terminated | None = None
    restart_count: int = 0
    ready: bool = False  # running, and its readiness probe (if any) passes

    @property
    def done(self) -> bool:
        """Terminated for good: the policy will not restart it (or it was stopped)."""
        return isinstance(self.state, Terminated)


@dataclass(frozen=True)
class ContainerCommand:
    """A container, resolved: what to exec, with which environment, where."""

    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str]
    workdir: Path
    log_dir: Path


def now() -> datetime:
    return datetime.now(UTC)


def sim_path(env_path: str | None = None) -> str:
    """PATH for a container: the sim's own interpreter folder first, so `python` and `conveyor` are
    the sim's venv, then the container's PATH (or the sim's)."""
    own = str(Path(sys.executable).parent)
    rest = env_path if env_path is not None else os.environ.get("PATH", os.defpath)
    return os.pathsep.join([own, *[p for p in rest.split(os.pathsep) if p and p != own]])


def resolve_executable(name: str, path: str) -> str | None:
    """The file exec would run: names with a slash are taken as paths, others searched on `path`."""
    if "/" in name:
        return name if os.path.isfile(name) and os.access(name, os.X_OK) else None
    return shutil.which(name, path=path)


def start_error(argv: tuple[str, ...]) -> str:
    """The message containerd gives when a container's command cannot be exec'd."""
    if not argv:
        return (
            "the sim does not pull images, so a container needs an explicit `command` (or an "
            "entrypoint for its image in the sim's KubeletConfig.entrypoints)"
        )
    return (
        "failed to create containerd task: failed to create shim task: OCI runtime create failed: "
        "runc create failed: unable to start container process: exec: "
        f'"{argv[0]}": executable file not found in $PATH: unknown'
    )


class _Groups:
    """Every live process group this process started, killed at interpreter exit as a last resort."""

    def __init__(self) -> None:
        self.pgids: set[int] = set()
        atexit.register(self.kill_all)

    def kill_all(self) -> None:
        for pgid in list(self.pgids):
            kill_group(pgid, signal.SIGKILL)
        self.pgids.clear()


LIVE_GROUPS = _Groups()


def kill_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


PR_SET_PDEATHSIG = 1
# Looked up once here: the child between fork and exec must not load libraries (a forked child of a
# threaded process may deadlock in the loader).
_PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGKILL when the sim's thread that started us dies (Linux)."""
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class ContainerProcess:
    """One container: runs it, restarts it per policy, keeps its status and logs, stops it on demand.

    `on_change` is called (synchronously, on the event loop) after every status change; the pod loop
    uses it to write the Pod status.
    """

    def __init__(
        self,
        command: ContainerCommand,
        restart_policy: RestartPolicy,
        backoff: BackOff,
        on_change: Callable[[], None] = lambda: None,
        restart_label: str = "",
        while_running: Callable[[ContainerProcess], Coroutine[Any, Any, None]] | None = None,
        ready_when_started: bool = True,
    ) -> None:
        """`while_running(self)` is started with each run and cancelled when it ends (the probes);
        `ready_when_started` is False when a readiness probe decides readiness."""
        self.command = command
        self.restart_policy = restart_policy
        self.backoff = backoff
        self.status = ContainerStatus()
        self.runs: list[LogRun] = []
        self._on_change = on_change
        self._restart_label = restart_label or command.name
        self._while_running = while_running
        self._ready_when_started = ready_when_started
        self._proc: asyncio.subprocess.Process | None = None
        self._stopping = False
        self._stop_requested = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._supervise(), name=f"container {self.command.name}"
            )
        return self._task

    async def wait(self) -> None:
        if self._task is not None:
            await asyncio.shield(self._task)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.returncode is None else None

    async def stop(self, grace: float) -> None:
        """SIGTERM to the whole group, `grace` seconds, then SIGKILL; no restart afterwards."""
        self._stopping = True
        self._stop_requested.set()
        proc = self._proc
        if proc is not None and proc.returncode is None:
            kill_group(proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.shield(proc.wait()), max(grace, 0.0))
            except TimeoutError:
                pass
            kill_group(proc.pid, signal.SIGKILL)
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._task)
        if not isinstance(self.status.state, Terminated):
            # Stopped while waiting to (re)start: kube shows such a container as terminated too.
            last = self.status.last_state
            self._set(
                Terminated(
                    last.exit_code if last else 0,
                    last.reason if last else "Completed",
                    last.started_at if last else None,
                    now(),
                )
            )

    def set_ready(self, ready: bool) -> None:
        """The readiness probe's verdict on the current run."""
        if isinstance(self.status.state, Running) and self.status.ready != ready:
            self.status.ready = ready
            self._on_change()

    async def kill_run(self, grace: float) -> None:
        """End the current run as a failed liveness probe does (SIGTERM, grace, SIGKILL); the restart
        policy then decides what follows."""
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        kill_group(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(proc.wait()), max(grace, 0.0))
        except TimeoutError:
            kill_group(proc.pid, signal.SIGKILL)

    def kill_now(self) -> None:
        """SIGKILL the group at once (shutdown without an event loop)."""
        self._stopping = True
        if self._proc is not None and self._proc.returncode is None:
            kill_group(self._proc.pid, signal.SIGKILL)

    def log_run(self, previous: bool = False) -> LogRun | None:
        index = -2 if previous else -1
        return self.runs[index] if len(self.runs) >= -index else None

    # -- supervision --------------------------------------------------------------------------------

    async def _supervise(self) -> None:
        while not self._stopping:
            result = await self._run_once()
            if self._stopping or not self.restart_policy.restarts_after(result.exit_code):
                self._set(result)
                return
            self.status.last_state = result
            self.status.restart_count += 1
            delay = self.backoff.delay(self.status.restart_count)
            if delay > 0:
                self._set(
                    Waiting(
                        "CrashLoopBackOff",
                        f"back-off {_duration(delay)} restarting failed container="
                        f"{self.command.name} pod={self._restart_label}",
                    )
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop_requested.wait(), delay)

    async def _run_once(self) -> Terminated:
        run = self._new_log_run()
        env = dict(self.command.env)
        argv = self.command.argv
        executable = resolve_executable(argv[0], env.get("PATH", "")) if argv else None
        started = now()
        if executable is None:
            run.finish()
            return Terminated(128, "StartError", started, now(), start_error(argv))
        # Output goes through pipes of our own rather than asyncio's: asyncio's wait() (3.11) also
        # waits for its pipes to close, which a background child holding them would delay forever.
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            proc = await asyncio.create_subprocess_exec(
                executable,
                *argv[1:],
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out_w,
                stderr=err_w,
                env=env,
                cwd=str(self.command.workdir),
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        except OSError as e:
            for fd in (out_r, err_r):
                os.close(fd)
            run.finish()
            return Terminated(
                128,
                "StartError",
                started,
                now(),
                f'failed to start container process: exec: "{argv[0]}": {e.strerror}',
            )
        finally:
            for fd in (out_w, err_w):
                os.close(fd)
        self._proc = proc
        LIVE_GROUPS.pgids.add(proc.pid)
        started = now()
        readers = [
            asyncio.create_task(_pump(out_r, LogWriter(run, "stdout"))),
            asyncio.create_task(_pump(err_r, LogWriter(run, "stderr"))),
        ]
        self.status.ready = self._ready_when_started
        self._set(Running(started))
        side = asyncio.create_task(self._while_running(self)) if self._while_running else None
        try:
            code = await asyncio.shield(proc.wait())
        finally:
            self.status.ready = False
            if side is not None:
                side.cancel()
                await asyncio.gather(side, return_exceptions=True)
            # The main process is gone: its group goes too (a container dies with its PID 1).
            kill_group(proc.pid, signal.SIGKILL)
            LIVE_GROUPS.pgids.discard(proc.pid)
            _done, pending = await asyncio.wait(readers, timeout=PIPE_DRAIN_SECONDS)
            for task in pending:
                task.cancel()
            run.finish()
        if code < 0:
            return Terminated(128 - code, "Error", started, now(), signal=-code)
        return Terminated(code, "Completed" if code == 0 else "Error", started, now())

    def _new_log_run(self) -> LogRun:
        self.command.log_dir.mkdir(parents=True, exist_ok=True)
        run = LogRun(self.command.log_dir / f"{self.status.restart_count}.log")
        run.path.write_bytes(b"")
        self.runs.append(run)
        for old in self.runs[:-KEEP_RUNS]:
            old.path.unlink(missing_ok=True)
        self.runs = self.runs[-KEEP_RUNS:]
        return run

    def _set(self, state: ContainerState) -> None:
        self.status.state = state
        self._on_change()


async def _pump(fd: int, writer: LogWriter) -> None:
    """Copy one output pipe into the log until every writer of the pipe has closed it."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    pipe = os.fdopen(fd, "rb", buffering=0)
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    try:
        while chunk := await reader.read(65536):
            writer.feed(chunk)
    finally:
        writer.close()
        transport.close()


def _duration(seconds: float) -> str:
    """Go's time.Duration formatting for whole seconds and minutes (`10s`, `2m40s`, `5m0s`)."""
    if seconds < 60:
        return f"{seconds:g}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest}s"
