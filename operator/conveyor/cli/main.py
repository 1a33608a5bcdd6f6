"""The `conveyor` command group; each verb lives in a module of its own beside this one.

A verb's module is imported when the verb is used, not before: `conveyor executions list` must not
pay for importing what `conveyor operator` or `conveyor dev` need (kopf, the kubernetes client).
`conveyor --help` lists every verb with its short help, so it still imports them all.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping

import click

from conveyor import __version__

VERBS = ("crds", "deployments", "dev", "executions", "operator", "sim", "snapshots", "worker", "workflows")
"""Each verb is the click command of the same name in the module `conveyor.cli.<verb>`."""


class LazyCommands(MutableMapping[str, click.Command]):
    """A group's `commands` whose entries are imported on first lookup.

    click reads a group's verbs only through this mapping (`get_command`, `list_commands`, "Did you
    mean"), so the names are all known at once while each module waits until its verb is looked up.
    `in` asks for a name without importing; `add_command` stores a command as a plain dict would.
    """

    def __init__(self, modules: dict[str, str]) -> None:
        self._entries: dict[str, click.Command | str] = dict(modules)

    def __getitem__(self, name: str) -> click.Command:
        entry = self._entries[name]
        if isinstance(entry, str):
            command = getattr(importlib.import_module(entry), name)
            if not isinstance(command, click.Command):
                raise TypeError(f"{entry}.{name} is not a click command")
            self._entries[name] = entry = command
        return entry

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._entries[name] = command

    def __delitem__(self, name: str) -> None:
        del self._entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


@click.group(
    context_settings={"help_option_names": ["-h", "--help"]},
    commands=LazyCommands({verb: f"conveyor.cli.{verb}" for verb in VERBS}),
)
@click.version_option(__version__, prog_name="conveyor")
def main() -> None:
    """Conveyor: deployment workflows on Kubernetes."""
