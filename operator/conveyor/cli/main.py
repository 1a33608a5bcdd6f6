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
    from conveyor.cli.deployments import deployments
    from conveyor.cli.dev import dev
    from conveyor.cli.executions import executions
    from conveyor.cli.operator import operator
    from conveyor.cli.sim import sim
    from conveyor.cli.snapshots import snapshots
    from conveyor.cli.worker import worker
    from conveyor.cli.workflows import workflows

    for command in (crds, deployments, dev, executions, operator, sim, snapshots, worker, workflows):
        main.add_command(command)


_register()
