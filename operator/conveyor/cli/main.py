"""The `conveyor` command group; each verb lives in a module of its own beside this one."""

from __future__ import annotations

import click

from conveyor import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="conveyor")
def main() -> None:
    """Conveyor: deployment workflows on Kubernetes."""


def _register() -> None:
    from conveyor.cli.crds import crds
    from conveyor.cli.operator import operator
    from conveyor.cli.sim import sim
    from conveyor.cli.worker import worker

    main.add_command(crds)
    main.add_command(operator)
    main.add_command(sim)
    main.add_command(worker)


_register()
