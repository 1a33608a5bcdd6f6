"""`conveyor worker`: run one deployment's executions (or, with --system, the system-wide ones).

The operator's worker Job runs it as `conveyor worker --namespace N --deployment D
--operator-namespace O --idle-timeout S`; the pod's name comes from $CONVEYOR_POD_NAME (downward API)
and its credentials from $KUBECONFIG when set (the local control plane's kubelet injects one) or the
pod's service account. Exits 0 after the idle timeout with nothing to run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from typing import TYPE_CHECKING

import click

from conveyor.api.models import DEFAULT_IDLE_TIMEOUT_SECONDS
from conveyor.api.names import DEFAULT_OPERATOR_NAMESPACE, OPERATOR_NAMESPACE_ENV

if TYPE_CHECKING:
    from conveyor.worker.settings import WorkerSettings


@click.command()
@click.option("--namespace", "-n", required=True, help="Namespace of the deployment and its executions.")
@click.option("--deployment", "-d", default=None, help="The Deployment whose executions to run.")
@click.option(
    "--system", is_flag=True,
    help="Run system-wide executions (in the operator's namespace) instead of a deployment's.",
)
@click.option(
    "--operator-namespace",
    default=lambda: os.environ.get(OPERATOR_NAMESPACE_ENV, DEFAULT_OPERATOR_NAMESPACE),
    show_default=f"${OPERATOR_NAMESPACE_ENV} or {DEFAULT_OPERATOR_NAMESPACE}",
    help="Where the system lease and the operator's configuration live.",
)
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False),
    default=lambda: os.environ.get("KUBECONFIG") or None,
    help="Kubeconfig file; left out: $KUBECONFIG, else the in-cluster service account.",
)
@click.option(
    "--idle-timeout", type=float, default=DEFAULT_IDLE_TIMEOUT_SECONDS, show_default=True,
    help="Exit 0 after this many seconds with nothing to run.",
)
@click.option("--pod-name", default=None, help="This worker's name in `status.worker` (default: "
              "$CONVEYOR_POD_NAME, else the hostname).")
@click.option("--progress-interval", type=float, default=1.0, show_default=True, hidden=True,
              help="Seconds between two progress writes of one execution.")
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
def worker(
    namespace: str,
    deployment: str | None,
    system: bool,
    operator_namespace: str,
    kubeconfig: str | None,
    idle_timeout: float,
    pod_name: str | None,
    progress_interval: float,
    verbose: bool,
) -> None:
    """Run the executions of one deployment (a worker Job's command)."""
    from conveyor.worker.settings import WorkerSettings, default_pod_name

    if system and deployment:
        raise click.UsageError("--system and --deployment are exclusive")
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    settings = WorkerSettings(
        namespace=namespace,
        deployment=deployment,
        operator_namespace=operator_namespace,
        pod_name=pod_name or default_pod_name(),
        idle_timeout=idle_timeout,
        progress_interval=progress_interval,
    )
    sys.exit(asyncio.run(_run(settings, kubeconfig)))


async def _run(settings: WorkerSettings, kubeconfig: str | None) -> int:
    from conveyor.worker.process import serve

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    return await serve(settings, kubeconfig, stop)
