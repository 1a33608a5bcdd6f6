"""`shell.run` cannot be turned into shell injection (issue 8, "Security").

Whatever a workflow passes (often a parameter an Execution's author chose), every argv item reaches
the program as exactly one argument, byte for byte, and every env value is exactly the variable's
value: no shell ever sees them, so `;`, `$(...)`, backticks, newlines, globs and quotes mean nothing.
A string command is refused rather than split. Each test runs a small Python program that reports
what it received, and a canary file shows that no injected command ran.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor.plugins import shell
from conveyor.workflows import NonRecoverableError, OperationContext, Task, WorkflowContext

PY = sys.executable
ECHO_ARGV = "import json, sys; print(json.dumps(sys.argv[1:]))"
ECHO_ENV = "import json, os, sys; print(json.dumps(os.environ.get(sys.argv[1])))"


@pytest.fixture
def op_ctx(ctx: WorkflowContext) -> OperationContext:
    return ctx.operation_context(Task("run", "run", "shell.run", None, {}, 0, 0.0), attempt=1)


def received_argv(op_ctx: OperationContext, args: list[str], cwd: Path | None = None) -> list[str]:
    result = shell.run(op_ctx, [PY, "-c", ECHO_ARGV, *args], cwd=str(cwd) if cwd else None)
    received: list[str] = json.loads(result["output"])
    return received


def injections(canary: Path) -> list[str]:
    """Payloads that would create `canary` (or worse) if a shell ever interpreted them."""
    return [
        f"; touch {canary}",
        f"x; rm -rf {canary.parent} ; touch {canary}",
        f"$(touch {canary})",
        f"`touch {canary}`",
        f"x\ntouch {canary}",
        f"x && touch {canary}",
        f"x || touch {canary}",
        f"x | tee {canary}",
        f"> {canary}",
        f"'; touch {canary}; echo '",
        f'"; touch {canary}; echo "',
        f"${{IFS}}touch${{IFS}}{canary}",
    ]


def test_injection_payloads_in_argv_reach_the_program_literally_and_run_nothing(
    op_ctx: OperationContext, tmp_path: Path
) -> None:
    canary = tmp_path / "injected"
    payloads = injections(canary)
    assert received_argv(op_ctx, payloads) == payloads
    assert not canary.exists()


def test_glob_patterns_in_argv_are_not_expanded(op_ctx: OperationContext, tmp_path: Path) -> None:
    for name in ("a.txt", "b.txt", "c.log"):
        (tmp_path / name).write_text("")
    patterns = ["*", "*.txt", "?.log", "[ab].txt", "{a,b}.txt", "~", "~root"]
    assert received_argv(op_ctx, patterns, cwd=tmp_path) == patterns


def test_variables_in_argv_are_not_substituted(op_ctx: OperationContext) -> None:
    words = ["$HOME", "${PATH}", "$0", "$$", "%PATH%"]
    assert received_argv(op_ctx, words) == words


def test_an_injection_in_the_program_name_is_a_missing_program_not_a_command(
    op_ctx: OperationContext, tmp_path: Path
) -> None:
    canary = tmp_path / "injected"
    with pytest.raises(NonRecoverableError, match="cannot run"):
        shell.run(op_ctx, [f"true; touch {canary}"])
    assert not canary.exists()


@pytest.mark.parametrize("command", ["ls -l /tmp", "true", b"true", "touch /tmp/x; echo"])
def test_a_string_or_bytes_command_is_refused_not_split(op_ctx: OperationContext, command: object) -> None:
    with pytest.raises(NonRecoverableError, match="argv as a list"):
        shell.run(op_ctx, command)  # type: ignore[arg-type]


@pytest.mark.parametrize("argv", [[], [1, 2], [None], {"cmd": "ls"}, 42, None])
def test_argv_that_is_not_a_list_of_strings_is_refused(op_ctx: OperationContext, argv: object) -> None:
    with pytest.raises(NonRecoverableError):
        shell.run(op_ctx, argv)  # type: ignore[arg-type]


def test_env_values_are_passed_verbatim_and_not_interpreted(op_ctx: OperationContext, tmp_path: Path) -> None:
    canary = tmp_path / "injected"
    for value in [*injections(canary), "$HOME", "*"]:
        result = shell.run(op_ctx, [PY, "-c", ECHO_ENV, "PAYLOAD"], env={"PAYLOAD": value}, cwd=str(tmp_path))
        assert json.loads(result["output"]) == value
    assert not canary.exists()


@pytest.mark.parametrize(
    ("argv", "env"),
    [
        ([PY, "-c", "pass", "a\x00b"], None),
        ([PY, "-c", "pass"], {"VALUE": "a\x00b"}),
        ([PY, "-c", "pass"], {"A=B": "c"}),
        ([PY, "-c", "pass"], {"": "c"}),
    ],
    ids=["nul-in-argv", "nul-in-env-value", "equals-in-env-name", "empty-env-name"],
)
def test_arguments_the_os_cannot_pass_are_a_clear_task_error(
    op_ctx: OperationContext, argv: list[str], env: dict[str, str] | None
) -> None:
    """Not a ValueError from deep inside subprocess: the task fails saying which input is at fault."""
    with pytest.raises(NonRecoverableError, match=r"shell\.run"):
        shell.run(op_ctx, argv, env=env)


ARGUMENT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=40)
"""Any text the OS can carry as an argument: all of Unicode except NUL and lone surrogates."""


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(args=st.lists(ARGUMENT, max_size=6))
def test_any_argv_reaches_the_program_unchanged(op_ctx: OperationContext, args: list[str]) -> None:
    assert received_argv(op_ctx, args) == args


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=ARGUMENT)
def test_any_env_value_reaches_the_program_unchanged(op_ctx: OperationContext, value: str) -> None:
    result = shell.run(op_ctx, [PY, "-c", ECHO_ENV, "PAYLOAD"], env={"PAYLOAD": value})
    assert json.loads(result["output"]) == value
