"""The container supervisor on its own (no API server): processes, logs, restarts, stops."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from conveyor.sim.kubelet.logfiles import LogOptions, stream_log
from conveyor.sim.kubelet.process import (
    BackOff,
    ContainerCommand,
    ContainerProcess,
    RestartPolicy,
    Running,
    Terminated,
    Waiting,
    sim_path,
)

FAST = BackOff(base=0.2, cap=0.4)


def container(
    tmp_path: Path, *argv: str, policy: RestartPolicy = RestartPolicy.NEVER, env: dict[str, str] | None = None
) -> ContainerProcess:
    command = ContainerCommand(
        "main", tuple(argv), {"PATH": sim_path(), **(env or {})}, tmp_path, tmp_path / "logs"
    )
    return ContainerProcess(command, policy, FAST)


def py(code: str) -> tuple[str, str, str]:
    return ("python", "-c", code)


async def eventually(check: Callable[[], bool], within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def read_log(c: ContainerProcess, previous: bool = False, **options: object) -> bytes:
    run = c.log_run(previous)
    assert run is not None
    return b"".join([chunk async for chunk in stream_log(run, LogOptions(**options))])  # type: ignore[arg-type]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ", 1)[1].startswith("Z"))


async def test_exit_zero_terminates_completed(tmp_path: Path) -> None:
    c = container(tmp_path, *py("print('hello')"))
    await asyncio.wait_for(c.start(), 10)
    assert isinstance(c.status.state, Terminated)
    assert (c.status.state.exit_code, c.status.state.reason) == (0, "Completed")
    assert await read_log(c) == b"hello\n"


async def test_nonzero_exit_is_error_with_its_code(tmp_path: Path) -> None:
    c = container(tmp_path, "sh", "-c", "exit 3")
    await asyncio.wait_for(c.start(), 10)
    assert isinstance(c.status.state, Terminated)
    assert (c.status.state.exit_code, c.status.state.reason) == (3, "Error")


async def test_python_and_conveyor_resolve_to_the_sims_environment(tmp_path: Path) -> None:
    c = container(tmp_path, "sh", "-c", "command -v python; command -v conveyor")
    await asyncio.wait_for(c.start(), 10)
    bindir = str(Path(sys.executable).parent)
    assert (await read_log(c)).decode().split() == [f"{bindir}/python", f"{bindir}/conveyor"]


async def test_unknown_command_fails_with_start_error(tmp_path: Path) -> None:
    c = container(tmp_path, "no-such-command-xyz")
    await asyncio.wait_for(c.start(), 10)
    state = c.status.state
    assert isinstance(state, Terminated)
    assert (state.exit_code, state.reason) == (128, "StartError")
    assert 'exec: "no-such-command-xyz": executable file not found in $PATH' in state.message


async def test_stdout_and_stderr_are_both_captured_with_timestamps(tmp_path: Path) -> None:
    c = container(tmp_path, "sh", "-c", "echo out; echo err >&2")
    await asyncio.wait_for(c.start(), 10)
    lines = (await read_log(c, timestamps=True)).decode().splitlines()
    assert sorted(line.split(" ", 1)[1] for line in lines) == ["err", "out"]
    assert all(line.split(" ", 1)[0].endswith("Z") and len(line.split(" ")[0]) == 30 for line in lines)


async def test_tail_lines_and_limit_bytes_cut_the_log(tmp_path: Path) -> None:
    c = container(tmp_path, *py("for i in range(5): print(i)"))
    await asyncio.wait_for(c.start(), 10)
    assert await read_log(c, tail_lines=2) == b"3\n4\n"
    assert await read_log(c, limit_bytes=3) == b"0\n1"


async def test_a_line_without_newline_is_kept_as_written(tmp_path: Path) -> None:
    c = container(tmp_path, "printf", "a\\nb")
    await asyncio.wait_for(c.start(), 10)
    assert await read_log(c) == b"a\nb"


async def test_on_failure_restarts_until_success_and_keeps_the_previous_log(tmp_path: Path) -> None:
    marker = tmp_path / "count"
    code = (
        f"import pathlib; p = pathlib.Path({str(marker)!r}); n = int(p.read_text()) if p.exists() else 0;"
        "p.write_text(str(n + 1)); print('run', n); raise SystemExit(0 if n == 2 else 1)"
    )
    c = container(tmp_path, *py(code), policy=RestartPolicy.ON_FAILURE)
    await asyncio.wait_for(c.start(), 10)
    assert c.status.restart_count == 2
    assert isinstance(c.status.state, Terminated) and c.status.state.exit_code == 0
    assert isinstance(c.status.last_state, Terminated) and c.status.last_state.exit_code == 1
    assert await read_log(c) == b"run 2\n"
    assert await read_log(c, previous=True) == b"run 1\n"


async def test_always_restarts_with_crash_loop_back_off(tmp_path: Path) -> None:
    c = container(tmp_path, "sh", "-c", "exit 0", policy=RestartPolicy.ALWAYS)
    c.start()
    await eventually(lambda: c.status.restart_count >= 2 and isinstance(c.status.state, Waiting))
    assert isinstance(c.status.state, Waiting)
    assert c.status.state.reason == "CrashLoopBackOff"
    assert c.status.state.message.startswith("back-off 0.2s restarting failed container=main")
    await c.stop(1)


def test_back_off_is_immediate_then_doubles_to_the_cap() -> None:
    backoff = BackOff(base=10, cap=300)
    assert [backoff.delay(n) for n in range(1, 9)] == [0, 10, 20, 40, 80, 160, 300, 300]


async def test_stop_sends_sigterm_and_waits_for_the_process(tmp_path: Path) -> None:
    marker = tmp_path / "terminated"
    code = (
        "import signal, sys, time, pathlib\n"
        "def bye(*_):\n"
        f"    time.sleep(0.3); pathlib.Path({str(marker)!r}).write_text('bye'); sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, bye)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    c = container(tmp_path, *py(code), policy=RestartPolicy.ALWAYS)
    c.start()
    await eventually(lambda: c.log_run() is not None and b"ready" in c.log_run().path.read_bytes())  # type: ignore[union-attr]
    await asyncio.wait_for(c.stop(grace=5), 10)
    assert marker.read_text() == "bye"
    assert isinstance(c.status.state, Terminated) and c.status.state.exit_code == 0
    assert c.status.restart_count == 0


async def test_stop_kills_after_the_grace_period(tmp_path: Path) -> None:
    code = (
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\ntime.sleep(60)\n"
    )
    c = container(tmp_path, *py(code))
    c.start()
    await eventually(lambda: c.log_run() is not None and b"ready" in c.log_run().path.read_bytes())  # type: ignore[union-attr]
    started = asyncio.get_running_loop().time()
    await asyncio.wait_for(c.stop(grace=0.5), 10)
    assert asyncio.get_running_loop().time() - started >= 0.5
    state = c.status.state
    assert isinstance(state, Terminated)
    assert (state.exit_code, state.reason) == (137, "Error")


async def test_stop_reaches_the_children_of_the_command(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    c = container(tmp_path, "sh", "-c", f"sleep 60 & echo $! > {pidfile}; wait")
    c.start()
    await eventually(lambda: pidfile.exists() and pidfile.read_text().strip() != "")
    child = int(pidfile.read_text())
    assert alive(child)
    await asyncio.wait_for(c.stop(grace=2), 10)
    await eventually(lambda: not alive(child), within=5)


async def test_children_die_with_the_main_process(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    c = container(tmp_path, "sh", "-c", f"sleep 60 & echo $! > {pidfile}")
    await asyncio.wait_for(c.start(), 10)
    await eventually(lambda: not alive(int(pidfile.read_text())), within=5)


async def test_follow_streams_until_the_run_ends(tmp_path: Path) -> None:
    c = container(tmp_path, *py("import time\nfor i in range(3):\n    print(i, flush=True); time.sleep(0.2)"))
    c.start()
    await eventually(lambda: c.log_run() is not None)
    assert await asyncio.wait_for(read_log(c, follow=True), 10) == b"0\n1\n2\n"
    assert isinstance(c.status.state, Terminated)


async def test_running_state_is_reported_while_the_process_runs(tmp_path: Path) -> None:
    seen: list[object] = []
    c = container(tmp_path, "sleep", "30")
    c._on_change = lambda: seen.append(c.status.state)
    c.start()
    await eventually(lambda: isinstance(c.status.state, Running))
    assert c.pid is not None and alive(c.pid)
    await c.stop(grace=1)
    assert [type(s) for s in seen] == [Running, Terminated]


@pytest.mark.parametrize("env", [{"GREETING": "hi"}])
async def test_env_reaches_the_process(tmp_path: Path, env: dict[str, str]) -> None:
    c = container(tmp_path, "sh", "-c", "echo $GREETING", env=env)
    await asyncio.wait_for(c.start(), 10)
    assert await read_log(c) == b"hi\n"


def test_image_repository_drops_tag_and_digest() -> None:
    from conveyor.sim.kubelet.podenv import image_repository

    assert image_repository("ghcr.io/acme/conveyor:1.2@sha256:abc") == "ghcr.io/acme/conveyor"
    assert image_repository("localhost:5000/conveyor") == "localhost:5000/conveyor"


def test_args_alone_use_the_configured_entrypoint_of_the_image() -> None:
    from conveyor.sim.kubelet.podenv import container_argv

    spec = {"name": "c", "image": "acme/tool:1", "args": ["--name", "$(WHO)"]}
    assert container_argv(spec, {"WHO": "me"}, {"acme/tool": ["tool", "run"]}) == (
        "tool",
        "run",
        "--name",
        "me",
    )
    assert container_argv(spec, {}, {}) == ()


POD = {"metadata": {"name": "p", "namespace": "ns"}, "spec": {}}


async def lookup_in(
    objects: dict[tuple[str, str], dict[str, object]], kind: str, namespace: str, name: str
) -> dict[str, object] | None:
    return objects.get((kind, name))


async def test_env_from_sources_are_prefixed_and_overridden_by_env() -> None:
    from conveyor.sim.kubelet.podenv import resolve_env

    objects = {
        ("configmaps", "cm"): {"data": {"A": "1", "B": "2"}},
        ("secrets", "s"): {"data": {"TOKEN": "c2VjcmV0"}},
    }
    container = {
        "envFrom": [{"configMapRef": {"name": "cm"}, "prefix": "CM_"}, {"secretRef": {"name": "s"}}],
        "env": [{"name": "CM_A", "value": "override"}, {"name": "BOTH", "value": "$(CM_B)-$$(CM_B)"}],
    }
    env = await resolve_env(POD, container, lambda *a: lookup_in(objects, *a))
    assert env == {"CM_A": "override", "CM_B": "2", "TOKEN": "secret", "BOTH": "2-$(CM_B)"}


async def test_optional_secret_key_ref_that_is_missing_leaves_the_variable_unset() -> None:
    from conveyor.sim.kubelet.podenv import resolve_env

    container = {
        "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "k", "optional": True}}}]
    }
    assert await resolve_env(POD, container, lambda *a: lookup_in({}, *a)) == {}


async def test_missing_key_of_an_existing_config_map_is_a_config_error() -> None:
    from conveyor.sim.kubelet.podenv import ContainerConfigError, resolve_env

    objects = {("configmaps", "cm"): {"data": {}}}
    container = {"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}}]}
    with pytest.raises(ContainerConfigError, match="couldn't find key k in ConfigMap ns/cm"):
        await resolve_env(POD, container, lambda *a: lookup_in(objects, *a))
