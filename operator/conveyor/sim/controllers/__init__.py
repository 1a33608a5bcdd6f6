"""The sim's controllers (Job, Deployment, ReplicaSet, StatefulSet, DaemonSet, Endpoints) and the
list the server starts by default.

`all_controllers()` gives the coroutines `SimServer(controllers=...)` runs as tasks beside the
server (cancelled when it stops); the kubelet is one of them. Each talks to the server only through
the ApiService it is handed. Serve pod logs with `conveyor.sim.kubelet.logs.serve_pod_log`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from conveyor.sim.controllers.client import Client
from conveyor.sim.controllers.daemonsets import DaemonSetController
from conveyor.sim.controllers.deployments import DeploymentController, ReplicaSetController
from conveyor.sim.controllers.endpoints import EndpointsController
from conveyor.sim.controllers.jobs import JobController
from conveyor.sim.controllers.statefulsets import StatefulSetController
from conveyor.sim.kubelet.pods import Kubelet, KubeletConfig

if TYPE_CHECKING:
    from conveyor.sim.api import ApiService

ControllerFn = Callable[["ApiService"], Awaitable[None]]


def jobs(failure_backoff: float = 0.0) -> ControllerFn:
    async def run(api: ApiService) -> None:
        await JobController(Client(api), failure_backoff).run()

    return run


async def run_replicasets(api: ApiService) -> None:
    await ReplicaSetController(Client(api)).run()


async def run_deployments(api: ApiService) -> None:
    await DeploymentController(Client(api)).run()


async def run_statefulsets(api: ApiService) -> None:
    await StatefulSetController(Client(api)).run()


async def run_daemonsets(api: ApiService) -> None:
    await DaemonSetController(Client(api)).run()


async def run_endpoints(api: ApiService) -> None:
    await EndpointsController(Client(api)).run()


def kubelet(config: KubeletConfig | None = None) -> ControllerFn:
    async def run(api: ApiService) -> None:
        await Kubelet(api, config).run()

    return run


def all_controllers(
    kubelet_config: KubeletConfig | None = None, job_failure_backoff: float = 0.0
) -> list[ControllerFn]:
    """The Job, ReplicaSet, Deployment, StatefulSet, DaemonSet and Endpoints controllers and the kubelet.
    `job_failure_backoff=10` delays replacements of failed Job pods as kube does (off by default:
    see JobController)."""
    return [jobs(job_failure_backoff), run_replicasets, run_deployments, run_statefulsets, run_daemonsets,
            run_endpoints, kubelet(kubelet_config)]


CONTROLLERS = all_controllers()  # what `python -m conveyor.sim` starts unless --no-controllers
