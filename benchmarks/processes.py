"""The processes a benchmark starts (local control plane, operator, stand-alone workers), and their
cost read from /proc.

What must hold: every process started here is stopped when the benchmark ends, however it ends
(normal exit, exception, Ctrl-C, SIGTERM). Each child runs in its own session so a Ctrl-C at the
terminal reaches only the benchmark, which then stops its children in order; the sim's kubelet runs
worker pods in sessions of their own, so their pids are gathered from /proc (descendants of the sim)
before the sim is stopped, and any that outlive it are killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import yaml

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class ProcessCost:
    """CPU seconds (user + system, the process itself) and resident memory at one moment."""

    cpu_seconds: float
    rss_mb: float


def process_cost(pid: int) -> ProcessCost:
    """Read from /proc/<pid>/stat (utime, stime) and /proc/<pid>/statm (resident pages)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    resident = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    return ProcessCost(cpu, resident * PAGE_SIZE / 2**20)


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def descendants(root: int) -> list[int]:
    """Every live process below `root`, found by walking parent links in /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            parent = _parent_of(int(entry))
            if parent is not None:
                parents[int(entry)] = parent
    found: list[int] = []
    frontier = {root}
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        found.extend(children)
        frontier = set(children)
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Processes:
    """The children of one benchmark run; `stop_all` (idempotent) ends them, newest first."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self._children: list[tuple[str, subprocess.Popen[bytes], IO[bytes]]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        self._children.append((name, proc, log))
        return proc

    def log_tail(self, name: str, lines: int = 20) -> str:
        path = self.log_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self, proc: subprocess.Popen[bytes], grace: float = 10.0, signum: int = signal.SIGTERM) -> None:
        """`signum`, then SIGKILL after `grace`; then whatever it left behind (pods of the kubelet)."""
        if proc.poll() is None:
            orphans = descendants(proc.pid)
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signum)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
            for pid in orphans:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        for index, (_, child, log) in enumerate(self._children):
            if child is proc:
                log.close()
                del self._children[index]
                break

    def stop_all(self) -> None:
        while self._children:
            self.stop(self._children[-1][1])


def start_sim(processes: Processes, work: Path, controllers: bool = True) -> tuple[int, Path]:
    """`python -m conveyor.sim` on a free port; (its pid, its kubeconfig) once it serves."""
    kubeconfig = work / "kubeconfig"
    argv = [sys.executable, "-m", "conveyor.sim", "--kubeconfig", str(kubeconfig), "--port", "0"]
    if not controllers:
        argv.append("--no-controllers")
    proc = processes.start("sim", argv)
    deadline = time.monotonic() + 60
    while not (kubeconfig.exists() and yaml.safe_load(kubeconfig.read_text())):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the local control plane did not start:\n{processes.log_tail('sim')}")
        time.sleep(0.05)
    return proc.pid, kubeconfig


def start_profiler(processes: Processes, name: str, pid: int, output: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling `pid` (collapsed stacks, one line per stack and its count), until stopped
    with SIGINT (`Processes.stop(proc, signum=signal.SIGINT)`), which makes it write `output`."""
    argv = [
        str(Path(sys.executable).with_name("py-spy")),
        "record",
        "--pid",
        str(pid),
        "--rate",
        "200",
        "--format",
        "raw",
        "--nonblocking",
        "--output",
        str(output),
    ]
    return processes.start(f"py-spy-{name}", argv)


def conveyor_command() -> str:
    """The `conveyor` script of this interpreter's environment."""
    return str(Path(sys.executable).with_name("conveyor"))
