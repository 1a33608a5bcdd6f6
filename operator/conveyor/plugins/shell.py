"""`shell.run`: run a program from an argv list, never through a shell.

    graph.add_task("shell.run", {"argv": ["helm", "upgrade", "--install", "web", "."], "timeout": 300})

A string command is refused rather than split: splitting and quoting rules are exactly where
shell injection comes from. Output (stdout and stderr merged, in order) goes line by line to the
task's logger, hence to the pod log. The program runs in its own process group so a timeout or a
force cancel stops it and everything it started.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from conveyor.workflows.cancellation import CancelMode
from conveyor.workflows.context import OperationContext
from conveyor.workflows.errors import NonRecoverableError, RecoverableError, TaskCancelled

__all__ = ["run"]

TAIL_LINES = 20
OUTPUT_LIMIT = 1024 * 1024
KILL_AFTER = 3.0
"""Seconds between SIGTERM and SIGKILL to the process group."""
READER_JOIN_TIMEOUT = 5.0
"""How long to wait for output after the program exits (a detached grandchild may keep the pipe)."""


def _validate_argv(argv: object) -> list[str]:
    if isinstance(argv, str | bytes):
        raise NonRecoverableError(
            f"shell.run takes argv as a list of strings, not a string ({argv!r}); no shell is used, "
            "so write e.g. ['ls', '-l', '/tmp'] (wrap in ['sh', '-c', ...] only if you need a shell)"
        )
    if not isinstance(argv, Sequence) or not argv:
        raise NonRecoverableError(f"shell.run needs a non-empty argv list, got {argv!r}")
    if not all(isinstance(part, str | os.PathLike) for part in argv):
        raise NonRecoverableError(f"shell.run argv items must be strings, got {argv!r}")
    command = [os.fspath(part) for part in argv]
    if any("\x00" in part for part in command):
        raise NonRecoverableError("shell.run argv items cannot contain a NUL character (no OS can pass one)")
    return command


def _environment(env: Mapping[str, Any] | None) -> dict[str, str]:
    """The worker's environment with `env` over it. Names and values the OS cannot carry are the
    task's error, said plainly (values are not echoed: they may be secrets)."""
    overrides = {str(key): str(value) for key, value in (env or {}).items()}
    for key, value in overrides.items():
        if not key or "=" in key or "\x00" in key:
            raise NonRecoverableError(
                f"shell.run env name {key!r} is not a valid variable name (empty, or with '=' or NUL)"
            )
        if "\x00" in value:
            raise NonRecoverableError(f"shell.run env value of {key} cannot contain a NUL character")
    return {**os.environ, **overrides}


def _signal_group(process: subprocess.Popen[str], signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _stop_group(process: subprocess.Popen[str]) -> None:
    """SIGTERM the group now and SIGKILL it shortly after if the leader still runs."""
    _signal_group(process, signal.SIGTERM)

    def kill_if_alive() -> None:
        if process.poll() is None:
            _signal_group(process, signal.SIGKILL)

    timer = threading.Timer(KILL_AFTER, kill_if_alive)
    timer.daemon = True
    timer.start()


class _OutputCollector:
    """Reads merged output line by line into the logger, keeping a tail and a bounded full copy."""

    def __init__(self, ctx: OperationContext, stream: Iterable[str]) -> None:
        self._ctx = ctx
        self._stream = stream
        self.tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        self._chunks: list[str] = []
        self._size = 0
        self.thread = threading.Thread(target=self._read, name=f"output:{ctx.task_id}", daemon=True)

    def _read(self) -> None:
        for raw in self._stream:
            line = raw.rstrip("\n")
            self._ctx.logger.info("%s", line)
            self.tail.append(line)
            if self._size < OUTPUT_LIMIT:
                self._chunks.append(raw)
                self._size += len(raw)

    @property
    def output(self) -> str:
        return "".join(self._chunks)[:OUTPUT_LIMIT]


def run(
    ctx: OperationContext,
    argv: Sequence[str],
    timeout: float | None = None,
    env: Mapping[str, Any] | None = None,
    cwd: str | None = None,
    retry_on_exit_codes: Sequence[int] = (),
    retry_on_timeout: bool = False,
) -> dict[str, Any]:
    """Run `argv`; return {"exit_code": 0, "output": <merged output, first MiB>}.

    env: variables set over the worker's environment. Exit code not 0: NonRecoverableError with
    the code and the output's last lines, or RecoverableError if the code is in
    `retry_on_exit_codes`. Timeout: the group is stopped; NonRecoverableError, or RecoverableError
    with `retry_on_timeout`. Force cancel: the group is stopped and the task ends cancelled.
    """
    command = _validate_argv(argv)
    environment = _environment(env)
    ctx.logger.info("running %s", command)
    try:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=environment, cwd=cwd, text=True, errors="replace", bufsize=1, start_new_session=True,
        )
    except (FileNotFoundError, PermissionError, NotADirectoryError) as error:
        raise NonRecoverableError(f"cannot run {command[0]!r}: {error}") from error
    assert process.stdout is not None
    collector = _OutputCollector(ctx, process.stdout)
    collector.thread.start()
    stopped_by: list[str] = []

    def on_cancel(mode: CancelMode) -> None:
        if mode is CancelMode.FORCE and process.poll() is None:
            stopped_by.append("force cancel")
            _stop_group(process)

    remove_listener = ctx.cancel_token.add_listener(on_cancel)
    try:
        try:
            exit_code = process.wait(timeout)
        except subprocess.TimeoutExpired:
            stopped_by.append(f"timeout after {timeout:g}s")
            _stop_group(process)
            exit_code = process.wait()
    finally:
        remove_listener()
    collector.thread.join(READER_JOIN_TIMEOUT)
    tail = "\n".join(collector.tail)
    if "force cancel" in stopped_by:
        raise TaskCancelled(f"{command[0]} stopped by force cancel")
    if stopped_by:
        message = f"{command[0]} stopped: {stopped_by[0]}; last output:\n{tail}"
        raise RecoverableError(message) if retry_on_timeout else NonRecoverableError(message)
    if exit_code != 0:
        message = f"{command[0]} exited with code {exit_code}; last output:\n{tail}"
        if exit_code in retry_on_exit_codes:
            raise RecoverableError(message)
        raise NonRecoverableError(message)
    return {"exit_code": exit_code, "output": collector.output}
