"""`conveyor sim`: serve the local control plane until interrupted."""

from __future__ import annotations

import click

FAULTS_HELP = (
    "Inject faults into the HTTP API (chaos testing), as JSON, e.g. "
    '{"conflict": 0.05, "internal": 0.02, "throttle": 0.02, "latency_ms": 5, "jitter_ms": 5, '
    '"watch_cut_min_seconds": 5, "watch_cut_max_seconds": 30, "resources": ["executions"], '
    '"exempt_users": ["harness"], "seed": 1}. Default: $CONVEYOR_SIM_FAULTS, else none.'
)


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
    default="RBAC",
    show_default=True,
    help="RBAC: enforce the stored Roles, ClusterRoles and bindings (403 Forbidden as kube-apiserver "
    "answers). AlwaysAllow: let every authenticated request through. The default is RBAC, as a real "
    "cluster enforces it.",
)
@click.option("--faults", default=None, metavar="JSON", help=FAULTS_HELP)
def sim(
    host: str, port: int, kubeconfig: str, data_dir: str | None, no_controllers: bool,
    authorization_mode: str, faults: str | None,
) -> None:
    """Serve Conveyor's local Kubernetes control plane."""
    from conveyor.sim.__main__ import serve
    from conveyor.sim.faults import FaultConfig

    try:
        config = FaultConfig.from_json(faults) if faults else None
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--faults") from None
    serve(host, port, kubeconfig, data_dir, controllers=not no_controllers, authorization=authorization_mode,
          faults=config)
