"""What `conveyor` imports before it runs a verb: only that verb's module, and no API client for help
and usage errors (importing the kubernetes client alone costs a tenth of a second or more)."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from conveyor.cli.main import VERBS, LazyCommands, main

PROBE = """
import sys
from conveyor.cli.main import main
try:
    main(sys.argv[1:], prog_name="conveyor")
except SystemExit:
    pass
print(" ".join(sorted(name for name in sys.modules if name.split(".")[0] in ("kubernetes", "rich", "kopf")
                      or name.startswith("conveyor.cli."))))
"""


def imported_by(*argv: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=60)
    return set(done.stdout.splitlines()[-1].split())


@pytest.mark.parametrize("verb", VERBS)
def test_every_verb_is_the_command_of_that_name_in_its_module(verb: str) -> None:
    command = main.commands[verb]
    assert isinstance(command, click.Command) and command.name == verb


def test_asking_whether_a_verb_exists_imports_nothing() -> None:
    commands = LazyCommands({"absent": "conveyor.cli.no_such_module"})
    assert "absent" in commands and "other" not in commands
    assert list(commands) == ["absent"]


def test_a_verb_imports_only_its_own_modules_and_no_api_client_for_help() -> None:
    loaded = imported_by("executions", "list", "--help")
    assert "conveyor.cli.executions" in loaded
    assert not {"conveyor.cli.dev", "conveyor.cli.operator", "conveyor.cli.worker"} & loaded
    assert not {name for name in loaded if name.split(".")[0] in ("kubernetes", "rich", "kopf")}


def test_a_usage_error_needs_no_api_client() -> None:
    loaded = imported_by("executions", "start", "wf", "-p", "oops")
    assert not {name for name in loaded if name.split(".")[0] == "kubernetes"}
