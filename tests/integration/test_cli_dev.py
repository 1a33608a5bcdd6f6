"""`conveyor dev` as a user runs it: a subprocess that writes its kubeconfig once everything is
ready, serves kubectl and the CLI, applies the demo's examples (skipping broken files), and stops
everything, child processes included, on Ctrl-C (SIGINT).

The tests share one `conveyor dev` process and run in file order; the last one interrupts it.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conveyor.cli.main import main

BOOT = textwrap.dedent(
    """
    from conveyor.cli.main import main
    from conveyor.cli.dev import dev
    from conveyor.cli.deployments import deployments
    from conveyor.cli.executions import executions
    from conveyor.cli.snapshots import snapshots
    from conveyor.cli.workflows import workflows
    for command in (dev, executions, deployments, workflows, snapshots):
        if command.name not in main.commands:
            main.add_command(command)
    main(prog_name="conveyor")
    """
)
"""`conveyor` with the commands under test registered, even before main.py registers them."""
CONVEYOR = [sys.executable, "-c", BOOT]
READY_SECONDS = 90
WORKERS_REGISTERED = "worker" in main.commands


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def descendants(pid: int) -> set[int]:
    """Every process below `pid`, from /proc (children of each thread of each process)."""
    found: set[int] = set()
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    frontier.append(child)
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@dataclass
class Dev:
    process: subprocess.Popen[str]
    kubeconfig: Path
    workdir: Path

    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    def run(
        self, *argv: str, input: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        env = self.env()
        return subprocess.run(argv, input=input, capture_output=True, text=True, env=env, timeout=timeout)


EXAMPLES = {
    "00-namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n",
    "app/10-config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: demo}\n"
    "data: {colour: blue}\n",
    "broken.yaml": "apiVersion: v1\nkind: [unclosed\n",
}


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:
    workdir = tmp_path_factory.mktemp("dev")
    for relative, text in EXAMPLES.items():
        (workdir / "examples" / relative).parent.mkdir(parents=True, exist_ok=True)
        (workdir / "examples" / relative).write_text(text)
    kubeconfig = workdir / ".conveyor" / "kubeconfig"
    process = subprocess.Popen(
        [*CONVEYOR, "dev", "--port", str(free_port()), "--demo"],
        cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    session = Dev(process, kubeconfig, workdir)
    deadline = time.monotonic() + READY_SECONDS
    while not kubeconfig.exists():
        if process.poll() is not None:
            failure = process.stderr.read() if process.stderr else ""
            raise AssertionError(f"conveyor dev exited early ({process.returncode}):\n{failure}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("conveyor dev wrote no kubeconfig")
        time.sleep(0.05)
    yield session
    if process.poll() is None:  # a test failed before the last one interrupted it
        process.kill()
        process.wait(30)


def test_kubectl_sees_the_crds(dev: Dev) -> None:
    proc = dev.run("kubectl", "get", "crd", "-o", "name")
    assert proc.returncode == 0, proc.stderr
    assert set(proc.stdout.split()) >= {
        "customresourcedefinition.apiextensions.k8s.io/deployments.conveyor.dev",
        "customresourcedefinition.apiextensions.k8s.io/executions.conveyor.dev",
    }


def test_the_cli_lists_executions_of_every_namespace(dev: Dev) -> None:
    proc = dev.run(*CONVEYOR, "executions", "list", "-A")
    assert proc.returncode == 0, proc.stderr
    assert "No executions found in any namespace." in proc.stderr


def test_the_operator_configuration_is_installed(dev: Dev) -> None:
    proc = dev.run("kubectl", "get", "configmap", "conveyor-config", "-n", "conveyor-system", "-o", "name")
    assert proc.returncode == 0, proc.stderr


def test_demo_applies_the_examples_and_skips_broken_files(dev: Dev) -> None:
    deadline = time.monotonic() + 30
    while dev.run("kubectl", "get", "configmap", "settings", "-n", "demo").returncode != 0:
        assert time.monotonic() < deadline, "the demo did not apply examples/app/10-config.yaml"
        time.sleep(0.1)


@pytest.mark.skipif(not WORKERS_REGISTERED, reason="`conveyor worker` is not registered in cli/main.py yet")
def test_a_workflow_runs_end_to_end_on_the_workers(dev: Dev) -> None:
    manifest = textwrap.dedent(
        """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: flows, namespace: demo}
        data:
          flows.py: |
            from conveyor.workflows import workflow
            def step(ctx, n):
                ctx.logger.info("step %s", n)
            @workflow
            def install(ctx, count=2):
                graph = ctx.graph()
                graph.sequence(*[graph.add_task(step, {"n": i}, name=f"s{i}") for i in range(count)])
                graph.execute()
        ---
        apiVersion: conveyor.dev/v1alpha1
        kind: Deployment
        metadata: {name: app, namespace: demo}
        spec:
          source: {configMap: flows}
          worker: {idleTimeoutSeconds: 5}
          workflows:
            install:
              mapping: flows.install
              parameters: {count: {type: integer, default: 2}}
        """
    )
    applied = dev.run("kubectl", "apply", "-f", "-", input=manifest)
    assert applied.returncode == 0, applied.stderr
    proc = dev.run(*CONVEYOR, "executions", "start", "install", "-d", "app", "-n", "demo", "-p", "count=3",
                   "--timeout", "60", timeout=90)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "terminated (operations 3/3)" in proc.stdout


REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
_FENCE = re.compile(r"^```sh(?: exit=(\d+))?\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def runnable_blocks(markdown: str) -> list[tuple[str, int]]:
    """The `sh` blocks of a page with the exit code each must end with (`sh exit=N`, else 0)."""
    return [(body, int(code or 0)) for code, body in _FENCE.findall(markdown)]


def as_one_script(blocks: list[tuple[str, int]]) -> str:
    """The blocks in one shell, so variables carry over; the script stops at the first block that
    does not end as the page says, naming it."""
    parts = ["set -o pipefail"]
    for number, (body, code) in enumerate(blocks, start=1):
        parts.append(f"{{\n{body}\n}}\nstatus=$?")
        complaint = f"block {number} exited $status, not {code}"
        parts.append(f'if [ "$status" -ne {code} ]; then echo "{complaint}" >&2; exit 99; fi')
    return "\n".join(parts) + "\n"


def test_the_cli_reference_runs_as_written(dev: Dev, tmp_path: Path) -> None:
    blocks = runnable_blocks(REFERENCE.read_text())
    assert len(blocks) >= 10
    shims = tmp_path / "bin"  # `conveyor` with this test's commands, first on PATH
    shims.mkdir()
    (shims / "conveyor").write_text(f"#!{sys.executable}\n{BOOT}")
    (shims / "conveyor").chmod(0o755)
    env = {**dev.env(), "PATH": f"{shims}{os.pathsep}{os.environ['PATH']}"}
    script = as_one_script(blocks)
    proc = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, f"{proc.stderr}\n--- stdout ---\n{proc.stdout}"


def test_sigint_stops_everything_and_leaves_no_process_behind(dev: Dev) -> None:
    sleeper = textwrap.dedent(
        """
        apiVersion: batch/v1
        kind: Job
        metadata: {name: sleeper, namespace: demo}
        spec:
          template:
            spec:
              restartPolicy: Never
              containers:
              - {name: sleep, image: python:3.11-slim, command: [python, -c, "import time; time.sleep(600)"]}
        """
    )
    applied = dev.run("kubectl", "apply", "-f", "-", input=sleeper)
    assert applied.returncode == 0, applied.stderr
    deadline = time.monotonic() + 30
    while True:
        children = descendants(dev.process.pid)
        if any("time.sleep(600)" in command_line(pid) for pid in children):
            break
        assert time.monotonic() < deadline, "the kubelet started no process for the sleeper Job"
        time.sleep(0.1)
    dev.process.send_signal(signal.SIGINT)
    assert dev.process.wait(60) == 0
    assert not dev.kubeconfig.exists(), "the kubeconfig of a stopped control plane was left behind"
    deadline = time.monotonic() + 10
    while left := {pid for pid in children if alive(pid)}:
        assert time.monotonic() < deadline, f"processes left behind: {sorted(left)}"
        time.sleep(0.1)
