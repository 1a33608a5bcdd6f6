"""`shell.run`: argv only, output to the log, exit codes, timeout, force cancel kills the group."""

from __future__ import annotations

import os
import select
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.plugins import shell
from conveyor.workflows import (
    MemoryReporter,
    NonRecoverableError,
    OperationContext,
    RecoverableError,
    Task,
    TaskCancelled,
    WorkflowContext,
    register_plugin,
    unregister_plugin,
)

WAIT = 10.0
"""Upper bound of every wait on a condition here; never reached when the code is right."""

PY = sys.executable


@pytest.fixture
def op_ctx(ctx: WorkflowContext) -> OperationContext:
    return ctx.operation_context(Task("run", "run", "shell.run", None, {}, 0, 0.0), attempt=1)


@pytest.fixture
def shell_plugin() -> Iterator[None]:
    register_plugin("shell", shell)
    yield
    unregister_plugin("shell")


def test_output_goes_to_the_log_line_by_line(
    ctx: WorkflowContext, reporter: MemoryReporter, shell_plugin: None
) -> None:
    result = ctx.execute_task("shell.run", {"argv": [PY, "-c", "print('one'); print('two')"]}, name="say")
    assert result == {"exit_code": 0, "output": "one\ntwo\n"}
    assert [r.getMessage() for r in reporter.log_records if getattr(r, "task", None) == "say"][-2:] == [
        "one", "two",
    ]


def test_a_string_command_is_refused(op_ctx: OperationContext) -> None:
    with pytest.raises(NonRecoverableError, match="argv as a list"):
        shell.run(op_ctx, "ls -l /tmp")


def test_arguments_are_never_interpreted_by_a_shell(op_ctx: OperationContext) -> None:
    result = shell.run(op_ctx, [PY, "-c", "import sys; print(sys.argv[1])", "$HOME; echo injected"])
    assert result["output"] == "$HOME; echo injected\n"


def test_non_zero_exit_is_non_recoverable_with_code_and_output_tail(op_ctx: OperationContext) -> None:
    script = "import sys; print('\\n'.join(f'line{i}' for i in range(50))); sys.exit(3)"
    with pytest.raises(NonRecoverableError, match="exited with code 3") as failure:
        shell.run(op_ctx, [PY, "-c", script])
    assert str(failure.value).endswith("line49") and "line29" not in str(failure.value)


def test_listed_exit_codes_are_recoverable(op_ctx: OperationContext) -> None:
    with pytest.raises(RecoverableError, match="code 75"):
        shell.run(op_ctx, [PY, "-c", "raise SystemExit(75)"], retry_on_exit_codes=[75])


def test_timeout_stops_the_program(op_ctx: OperationContext) -> None:
    with pytest.raises(NonRecoverableError, match=r"timeout after 0\.2s"):
        shell.run(op_ctx, [PY, "-c", "import time; time.sleep(60)"], timeout=0.2)


def test_env_and_cwd_are_applied(op_ctx: OperationContext, tmp_path: Path) -> None:
    script = "import os; print(os.environ['TARGET'], os.getcwd())"
    result = shell.run(op_ctx, [PY, "-c", script], env={"TARGET": "prod"}, cwd=str(tmp_path))
    assert result["output"] == f"prod {tmp_path}\n"


def test_a_missing_program_is_non_recoverable(op_ctx: OperationContext) -> None:
    with pytest.raises(NonRecoverableError, match="cannot run 'no-such-program-xyz'"):
        shell.run(op_ctx, ["no-such-program-xyz"])


def exits_within(pid: int, timeout: float) -> bool:
    """Wait for a process that is not our child to exit (a pidfd becomes readable when it does)."""
    try:
        descriptor = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([descriptor], [], [], timeout)
        return bool(readable)
    finally:
        os.close(descriptor)


def test_force_cancel_kills_the_whole_process_group(
    op_ctx: OperationContext, reporter: MemoryReporter
) -> None:

    script = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen(['sleep', '60'])\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    printed = threading.Event()
    original_log = reporter.log

    def log(record):  # type: ignore[no-untyped-def]
        original_log(record)
        if record.getMessage().isdigit():
            printed.set()

    reporter.log = log  # type: ignore[method-assign]
    errors: list[BaseException] = []

    def run() -> None:
        try:
            shell.run(op_ctx, [PY, "-c", script])
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert printed.wait(WAIT)
    grandchild = int(next(m for m in reporter.messages() if m.isdigit()))
    op_ctx.cancel_token.request("force")
    thread.join(WAIT)
    assert isinstance(errors[0], TaskCancelled)
    assert exits_within(grandchild, WAIT)
