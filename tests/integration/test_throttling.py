"""A throttled write (429 TooManyRequests with Retry-After, as kube-apiserver's priority and
fairness answers) reaches the operator's client with the seconds the server asked for."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from conveyor.kube.api import KubeApi, load_client
from conveyor.locks.api import ApiError
from conveyor.sim.app import SimServer
from conveyor.sim.faults import FaultConfig

pytestmark = pytest.mark.sim_only


@pytest.fixture(scope="module")
def throttling_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimServer]:
    kubeconfig = tmp_path_factory.mktemp("throttled") / "kubeconfig"
    with SimServer.run_in_thread(kubeconfig=kubeconfig, controllers=[]) as server:
        yield server


def _kubeconfig(server: SimServer) -> str:
    assert server.kubeconfig is not None
    return str(server.kubeconfig)


def test_a_throttled_write_carries_the_servers_retry_after(throttling_sim: SimServer) -> None:
    throttling_sim.faults.configure(
        FaultConfig(throttle=1.0, retry_after_seconds=7, resources=("leases",), seed=1)
    )

    async def create_lease() -> ApiError:
        api = KubeApi(await load_client(_kubeconfig(throttling_sim)))
        try:
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "x"}}
            with pytest.raises(ApiError) as caught:
                await api.create_lease("default", body)
            return caught.value
        finally:
            await api.close()

    try:
        error = asyncio.run(create_lease())
    finally:
        throttling_sim.faults.configure(FaultConfig())
    assert (error.status, error.retry_after) == (429, 7.0)
