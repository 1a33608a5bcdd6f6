"""`conveyor sim`: serve the local control plane until interrupted."""

from __future__ import annotations

import click


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=0, show_default=True, type=int, help="Port to listen on (0: any free port).")
@click.option(
    "--kubeconfig",
    required=True,
    type=click.Path(dir_okay=False),
    help="Where to write the kubeconfig, once the server accepts requests.",
)
@click.option(
    "--data-dir",
    default=None,
    type=click.Path(file_okay=False),
    help="Keep state here so that it survives a restart.",
)
@click.option("--no-controllers", is_flag=True, help="Serve the API only: no Job controller, no kubelet.")
@click.option(
    "--authorization-mode",
    type=click.Choice(["RBAC", "AlwaysAllow"]),
    default="AlwaysAllow",
    show_default=True,
    help="RBAC: enforce the stored Roles, ClusterRoles and bindings (403 Forbidden as kube-apiserver "
    "answers). AlwaysAllow: let every authenticated request through. The default stays AlwaysAllow "
    "until Conveyor's operator and worker RBAC are complete; it will become RBAC.",
)
def sim(
    host: str, port: int, kubeconfig: str, data_dir: str | None, no_controllers: bool, authorization_mode: str
) -> None:
    """Serve Conveyor's local Kubernetes control plane."""
    from conveyor.sim.__main__ import serve

    serve(host, port, kubeconfig, data_dir, controllers=not no_controllers, authorization=authorization_mode)
