"""A rebuild (`AdmissionLoop.resync`) lists every Execution, which takes a while when thousands
exist; the watch keeps talking meanwhile. What it says in that window is newer than the list.

Found by the long bad-input storm: an execution created while a rebuild listed was dropped from the
loop's cache and never decided.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from conveyor.api.names import EXECUTION, GROUP, VERSION
from conveyor.controller.admission_loop import AdmissionLoop, LoopSettings
from conveyor.controller.metrics import OperatorMetrics
from conveyor.controller.requests import exec_key
from conveyor.kube.api import KubeApi, load_client
from conveyor.locks.leases import LeaseLocks

Listing = Callable[[str | None], Awaitable[list[dict[str, Any]]]]


def _body(name: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Execution",
        "metadata": {"name": name},
        "spec": {"deployment": "web", "workflow": "install"},
    }


async def _create(api: KubeApi, namespace: str, name: str) -> dict[str, Any]:
    created: dict[str, Any] = await api.request(
        "POST", f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{EXECUTION.plural}", body=_body(name)
    )
    return created


def run_resync(
    kubeconfig: str,
    namespace: str,
    during_list: Callable[[KubeApi, AdmissionLoop], Awaitable[None]],
    before: Callable[[KubeApi], Awaitable[None]] | None = None,
) -> AdmissionLoop:
    """One rebuild of a fresh loop, with `during_list` run after the list's snapshot was taken and
    before the loop sees it (as a watch event arriving while a long list is on its way)."""

    async def main() -> AdmissionLoop:
        api = KubeApi(await load_client(kubeconfig))
        try:
            settings = LoopSettings(
                operator_namespace=namespace, namespaces=[namespace], create_worker_jobs=False
            )
            loop = AdmissionLoop(api, LeaseLocks(api), settings, OperatorMetrics())
            if before is not None:
                await before(api)
            snapshot: Listing = api.list_executions

            async def slow_list(ns: str | None) -> list[dict[str, Any]]:
                items = await snapshot(ns)
                await during_list(api, loop)
                return items

            api.list_executions = slow_list  # type: ignore[method-assign,assignment]
            await loop.resync()
            await loop.outbox.close()
            return loop
        finally:
            await api.close()

    return asyncio.run(main())


@pytest.mark.usefixtures("crds")
def test_an_execution_created_while_a_rebuild_lists_stays_to_be_decided(
    kubeconfig: str, namespace: str
) -> None:
    created: dict[str, Any] = {}

    async def create_and_tell(api: KubeApi, loop: AdmissionLoop) -> None:
        created.update(await _create(api, namespace, "late"))
        loop.observe_execution("ADDED", created)

    loop = run_resync(kubeconfig, namespace, create_and_tell)
    assert exec_key(created) in loop.executions


@pytest.mark.usefixtures("crds")
def test_an_execution_deleted_while_a_rebuild_lists_is_not_brought_back(
    kubeconfig: str, namespace: str
) -> None:
    gone: dict[str, Any] = {}

    async def create(api: KubeApi) -> None:
        gone.update(await _create(api, namespace, "gone"))

    async def delete_and_tell(api: KubeApi, loop: AdmissionLoop) -> None:
        await api.request("DELETE", f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{EXECUTION.plural}/gone")
        loop.observe_execution("DELETED", gone)

    loop = run_resync(kubeconfig, namespace, delete_and_tell, before=create)
    assert exec_key(gone) not in loop.executions
