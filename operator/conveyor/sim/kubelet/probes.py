"""Readiness and liveness probes (exec, httpGet, tcpSocket), run as the kubelet runs them.

What must hold: a container with a readiness probe is ready only after `successThreshold`
consecutive successes and stops being ready after `failureThreshold` consecutive failures; one
without is ready as soon as it runs. A liveness probe that fails `failureThreshold` times in a row
gets the container killed (and restarted per the restart policy). Probes start `initialDelaySeconds`
after the container starts and repeat every `periodSeconds`; each attempt is bounded by
`timeoutSeconds`. Every container shares this machine's network, so ports are probed on 127.0.0.1.
gRPC probes are not run (they count as successes).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conveyor.sim.kubelet.process import resolve_executable

Check = Callable[[], Awaitable[bool]]


@dataclass(frozen=True)
class Probe:
    check: Check
    initial_delay: float = 0.0
    period: float = 10.0
    timeout: float = 1.0
    success_threshold: int = 1
    failure_threshold: int = 3


def _port(value: Any, container: dict[str, Any]) -> int:
    """A probe's port: a number, or the name of one of the container's ports."""
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return int(value)
    for port in container.get("ports") or ():
        if port.get("name") == value:
            return int(port["containerPort"])
    raise ValueError(f"port {value!r} not found in the container's ports")


def exec_check(command: list[str], env: Mapping[str, str], workdir: Path) -> Check:
    async def check() -> bool:
        if not command:
            return False
        executable = resolve_executable(command[0], env.get("PATH", ""))
        if executable is None:
            return False
        proc = await asyncio.create_subprocess_exec(
            executable,
            *command[1:],
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            env=dict(env),
            cwd=str(workdir),
            start_new_session=True,
        )
        try:
            return await proc.wait() == 0
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()

    return check


def http_check(action: dict[str, Any], container: dict[str, Any]) -> Check:
    port = _port(action.get("port"), container)
    host = action.get("host") or "127.0.0.1"
    https = (action.get("scheme") or "HTTP").upper() == "HTTPS"
    path = action.get("path") or "/"
    headers = "".join(f"{h['name']}: {h['value']}\r\n" for h in action.get("httpHeaders") or ())

    async def check() -> bool:
        context = None
        if https:  # the kubelet does not verify probe certificates
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        reader, writer = await asyncio.open_connection(host, port, ssl=context)
        try:
            target = urllib.parse.quote(path, safe="/?&=%:@!$'()*+,;~-._")
            writer.write(
                f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: kube-probe/1.35\r\n"
                f"{headers}Connection: close\r\n\r\n".encode()
            )
            await writer.drain()
            status_line = await reader.readline()
            parts = status_line.split()
            return len(parts) >= 2 and parts[1].isdigit() and 200 <= int(parts[1]) < 400
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    return check


def tcp_check(action: dict[str, Any], container: dict[str, Any]) -> Check:
    port = _port(action.get("port"), container)
    host = action.get("host") or "127.0.0.1"

    async def check() -> bool:
        _reader, writer = await asyncio.open_connection(host, port)
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
        return True

    return check


async def _always() -> bool:
    return True


def probe_of(
    spec: dict[str, Any] | None, container: dict[str, Any], env: Mapping[str, str], workdir: Path
) -> Probe | None:
    """The Probe a container spec's probe field describes (None when there is none)."""
    if not spec:
        return None
    check: Check
    if "exec" in spec:
        check = exec_check(list((spec["exec"] or {}).get("command") or ()), env, workdir)
    elif "httpGet" in spec:
        check = http_check(spec["httpGet"], container)
    elif "tcpSocket" in spec:
        check = tcp_check(spec["tcpSocket"], container)
    else:
        check = _always
    return Probe(
        check,
        float(spec.get("initialDelaySeconds") or 0),
        float(spec.get("periodSeconds") or 10),
        float(spec.get("timeoutSeconds") or 1),
        int(spec.get("successThreshold") or 1),
        int(spec.get("failureThreshold") or 3),
    )


async def attempt(probe: Probe) -> bool:
    try:
        return await asyncio.wait_for(probe.check(), probe.timeout)
    except (TimeoutError, OSError, ValueError):
        return False


async def run_probe(probe: Probe, report: Callable[[bool], None], initially: bool) -> None:
    """Probe forever (the caller cancels it when the container stops); `report` hears each change of
    the thresholded result, which starts at `initially`."""
    await asyncio.sleep(probe.initial_delay)
    state = initially
    successes = failures = 0
    while True:
        ok = await attempt(probe)
        successes, failures = (successes + 1, 0) if ok else (0, failures + 1)
        if not state and successes >= probe.success_threshold:
            state = True
            report(True)
        elif state and failures >= probe.failure_threshold:
            state = False
            report(False)
        await asyncio.sleep(probe.period)
