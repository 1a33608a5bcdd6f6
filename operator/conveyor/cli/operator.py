"""`conveyor operator`: run the operator (kopf watches, leader election, admission, metrics)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from typing import TYPE_CHECKING

import click

from conveyor.api.names import (
    DEFAULT_METRICS_PORT,
    DEFAULT_OPERATOR_NAMESPACE,
    DEFAULT_WORKER_IMAGE,
    OPERATOR_NAMESPACE_ENV,
)
from conveyor.locks.leases import DEFAULT_LEASE_DURATION_SECONDS

if TYPE_CHECKING:
    from conveyor.controller.runtime import Operator


@click.command()
@click.option(
    "--namespace", "-n", "namespaces", multiple=True, help="Watch this namespace (repeat for more)."
)
@click.option("--all-namespaces", "-A", is_flag=True, help="Watch every namespace (the default without -n).")
@click.option(
    "--operator-namespace",
    default=lambda: os.environ.get(OPERATOR_NAMESPACE_ENV, DEFAULT_OPERATOR_NAMESPACE),
    show_default=f"${OPERATOR_NAMESPACE_ENV} or {DEFAULT_OPERATOR_NAMESPACE}",
    help="Where the configuration, the system lease, system-wide executions and the leader lease live.",
)
@click.option(
    "--metrics-port",
    type=int,
    default=DEFAULT_METRICS_PORT,
    show_default=True,
    help="Port of /metrics and /healthz (0: any free port).",
)
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False),
    default=lambda: os.environ.get("KUBECONFIG"),
    help="Kubeconfig file; left out: $KUBECONFIG, else the in-cluster service account.",
)
@click.option(
    "--worker-image",
    default=DEFAULT_WORKER_IMAGE,
    show_default=True,
    help="Worker image when neither the Deployment nor the configuration names one.",
)
@click.option(
    "--lease-duration",
    type=int,
    default=DEFAULT_LEASE_DURATION_SECONDS,
    show_default=True,
    help="Seconds a worker may go without renewing its lease before its executions are lost.",
)
@click.option(
    "--webhook-port",
    type=int,
    default=None,
    help="Serve the validating admission webhook on this port (HTTPS); left out: no webhook.",
)
@click.option(
    "--webhook-cert",
    type=click.Path(dir_okay=False),
    default=None,
    help="The webhook's serving certificate (PEM), with --webhook-key; both left out: self-signed.",
)
@click.option(
    "--webhook-key",
    type=click.Path(dir_okay=False),
    default=None,
    help="The private key of --webhook-cert (PEM).",
)
@click.option("--no-worker-jobs", is_flag=True, hidden=True, help="Do not create worker Jobs (tests).")
@click.option("--no-leader-election", is_flag=True, hidden=True, help="Admit without leading (tests only).")
@click.option(
    "--identity", default=None, help="Name of this replica in the leader Lease (default: host-pid)."
)
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
def operator(
    namespaces: tuple[str, ...],
    all_namespaces: bool,
    operator_namespace: str,
    metrics_port: int,
    kubeconfig: str | None,
    worker_image: str,
    lease_duration: int,
    webhook_port: int | None,
    webhook_cert: str | None,
    webhook_key: str | None,
    no_worker_jobs: bool,
    no_leader_election: bool,
    identity: str | None,
    verbose: bool,
) -> None:
    """Run the Conveyor operator."""
    if namespaces and all_namespaces:
        raise click.UsageError("--namespace and --all-namespaces are exclusive")
    if (webhook_cert is None) != (webhook_key is None):
        raise click.UsageError("--webhook-cert and --webhook-key go together")
    if webhook_cert is not None and webhook_port is None:
        raise click.UsageError("--webhook-cert needs --webhook-port")
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)  # one line per watch event otherwise
    from conveyor.controller.runtime import Operator, OperatorOptions  # kopf: only when it runs
    from conveyor.controller.webhook import WebhookOptions

    options = OperatorOptions(
        operator_namespace=operator_namespace,
        namespaces=list(namespaces) or None,
        kubeconfig=kubeconfig,
        metrics_port=metrics_port,
        leader_election=not no_leader_election,
        create_worker_jobs=not no_worker_jobs,
        worker_image=worker_image,
        lease_duration_seconds=lease_duration,
        handle_signals=True,
        webhook=None
        if webhook_port is None
        else WebhookOptions(port=webhook_port, certfile=webhook_cert, keyfile=webhook_key),
    )
    if identity:
        options.identity = identity
    asyncio.run(_run(Operator(options)))


async def _run(instance: Operator) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    await instance.run(stop)
