"""`conveyor sim`: serve the local control plane (placeholder until the server lands)."""

from __future__ import annotations

import click


@click.command()
def sim() -> None:
    """Serve Conveyor's local Kubernetes control plane."""
    raise click.ClickException("not implemented yet")
