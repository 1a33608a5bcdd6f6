"""pods/{name}/exec, /attach and /portforward: the kubelet's streaming endpoints.

`exec` is served over WebSocket with the `v5.channel.k8s.io` / `v4.channel.k8s.io` protocols,
which kubectl 1.35 speaks first: every binary message starts with a channel byte (0 stdin, 1 stdout,
2 stderr, 3 the final Status, 4 terminal resize; v5 adds 255 "close this channel", which kubectl
sends when its stdin ends). The command runs as a local process in the container's environment
(its env and working folder), as the container itself does; with `tty=true` it gets a pseudo
terminal, so `kubectl exec -it pod -- sh` works. Exit codes come back as kube reports them
(`NonZeroExitCode` with an `ExitCode` cause), so kubectl exits with the command's code.

SPDY (kubectl's fallback), `attach` and `portforward` are refused with a 400 saying why: pods
are host processes, so a port a container listens on is already reachable on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import struct
import termios
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from conveyor.sim.errors import StatusError, bad_request
from conveyor.sim.kubelet.logs import choose_container
from conveyor.sim.kubelet.process import Running

if TYPE_CHECKING:
    from conveyor.sim.api import ApiService

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255


def exit_status(code: int) -> dict[str, Any]:
    """The Status a kubelet writes on the error channel when the command ends."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: error executing command, exit status {code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def _reason(error: OSError) -> str:
    if isinstance(error, FileNotFoundError):
        return "executable file not found in $PATH"
    return str(error.strerror or error)


def start_failure(argv: list[str], error: OSError) -> dict[str, Any]:
    """What containerd answers when the command cannot be exec'd (kubectl prints the message)."""
    return {
        "metadata": {},
        "status": "Failure",
        "message": "Internal error occurred: error executing command in container: failed to exec in "
                   f'container: exec failed: unable to start container process: exec: "{argv[0]}": '
                   f"{_reason(error)}: unknown",
        "reason": "InternalError",
        "code": 500,
    }


def _flag(query: Any, name: str) -> bool:
    return query.get(name) in ("true", "1")


async def _pipe_out(reader: asyncio.StreamReader, ws: web.WebSocketResponse, channel: int) -> None:
    while chunk := await reader.read(32 * 1024):
        await ws.send_bytes(bytes([channel]) + chunk)


async def _pipe_pty(fd: int, ws: web.WebSocketResponse) -> None:
    loop = asyncio.get_running_loop()
    while True:
        try:
            chunk = await loop.run_in_executor(None, os.read, fd, 32 * 1024)
        except OSError:  # EIO: the terminal's other side closed with the process
            return
        if not chunk:
            return
        await ws.send_bytes(bytes([STDOUT]) + chunk)


async def _feed_stdin(ws: web.WebSocketResponse, write: Any, close: Any, resize: Any) -> None:
    """Client messages: stdin bytes, a v5 close of stdin, terminal resizes."""
    async for msg in ws:
        if msg.type != WSMsgType.BINARY or not msg.data:
            continue
        channel, data = msg.data[0], msg.data[1:]
        if channel == STDIN and data:
            await write(data)
        elif channel == CLOSE and data[:1] == bytes([STDIN]):
            await close()
        elif channel == RESIZE:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                size = json.loads(data)
                resize(int(size["Height"]), int(size["Width"]))
    await close()


async def _run(ws: web.WebSocketResponse, argv: list[str], env: dict[str, str], cwd: str,
               stdin: bool, tty: bool) -> dict[str, Any]:
    """Run `argv` wired to the socket's channels; the Status to send when it ends."""
    master, slave = os.openpty() if tty else (-1, -1)

    def resize(rows: int, cols: int) -> None:
        if tty:
            fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, env=env, cwd=cwd,
            stdin=slave if tty else (asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL),
            stdout=slave if tty else asyncio.subprocess.PIPE,
            stderr=slave if tty else asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as e:
        if tty:
            os.close(master)
            os.close(slave)
        return start_failure(argv, e)
    if tty:
        os.close(slave)
        pumps = [asyncio.ensure_future(_pipe_pty(master, ws))]
    else:
        assert proc.stdout is not None and proc.stderr is not None
        pumps = [asyncio.ensure_future(_pipe_out(proc.stdout, ws, STDOUT)),
                 asyncio.ensure_future(_pipe_out(proc.stderr, ws, STDERR))]

    async def write(data: bytes) -> None:
        if tty:
            os.write(master, data)
        elif proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.write(data)
            with contextlib.suppress(ConnectionError):
                await proc.stdin.drain()

    async def close() -> None:
        if tty:
            with contextlib.suppress(OSError):
                os.write(master, b"\x04")
        elif proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.close()

    feeder = asyncio.ensure_future(_feed_stdin(ws, write, close, resize))
    try:
        code = await proc.wait()
        await asyncio.wait(pumps, timeout=5)
    finally:
        feeder.cancel()
        for pump in pumps:
            pump.cancel()
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        if tty:
            with contextlib.suppress(OSError):
                os.close(master)
    return exit_status(code)


async def serve_pod_stream(
    request: web.Request, api: ApiService, namespace: str, name: str, subresource: str
) -> web.StreamResponse:
    from conveyor.sim.controllers.client import PODS, Client
    from conveyor.sim.kubelet.pods import Kubelet

    pod = await Client(api).get(PODS, namespace, name)
    if pod is None:
        raise StatusError(404, "NotFound", f'pods "{name}" not found', {"name": name, "kind": "pods"})
    if subresource == "portforward":
        raise bad_request(
            "port-forward is not supported by the Conveyor sim: its pods run as local processes, "
            "so a port a container listens on is reachable at 127.0.0.1 directly"
        )
    if subresource == "attach":
        raise bad_request(
            "attach is not supported by the Conveyor sim: use `kubectl logs -f` to follow a container's "
            "output, or `kubectl exec` to run a command next to it"
        )
    if pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
        raise bad_request("cannot exec into a container in a completed pod; current phase is "
                          + pod["status"]["phase"])
    container = choose_container(pod, request.query.get("container", ""))
    kubelet = Kubelet.for_api(api)
    runner = kubelet.pods.get(pod["metadata"]["uid"]) if kubelet is not None else None
    process = runner.process(container) if runner is not None else None
    if process is None or not isinstance(process.status.state, Running):
        raise bad_request(f'unable to upgrade connection: container not found ("{container}")')
    argv = list(request.query.getall("command", []))
    if not argv:
        raise bad_request("you must specify at least 1 command")
    ws = web.WebSocketResponse(protocols=PROTOCOLS, max_msg_size=0)
    if not ws.can_prepare(request).ok:
        raise bad_request(
            "the Conveyor sim serves exec over WebSocket (v5.channel.k8s.io) only, not SPDY: "
            "use kubectl 1.30 or newer"
        )
    await ws.prepare(request)
    try:
        status = await _run(ws, argv, dict(process.command.env), str(process.command.workdir),
                            _flag(request.query, "stdin"), _flag(request.query, "tty"))
        with contextlib.suppress(ConnectionError):
            await ws.send_bytes(bytes([ERROR]) + json.dumps(status).encode())
    finally:
        await ws.close()
    return ws
