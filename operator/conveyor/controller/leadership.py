"""Leader election between operator replicas: the official client's asyncio elector on the Lease
`conveyor-operator` in the operator's namespace (client-go semantics: holderIdentity,
leaseDurationSeconds 15, renewTime, leaseTransitions), so only one replica runs admission.

Where the official elector falls short, and what is added here:
- its `create` fails on kubernetes 37 (see `CountingLeaseLock`);
- it never counts `leaseTransitions`: the lock below counts a change of holder, as client-go does;
- it never releases the Lease on shutdown, so a successor would wait a whole lease duration:
  `release` empties `holderIdentity` (a CAS, and only while this replica still holds it), which the
  elector of the next replica reads as free at once;
- `run` returns when leadership is lost: `lead_forever` stands again, for as long as it runs.

Leader election only makes a second admitter rare; the Lease protocol keeps S1/S2 even when two
admit at once (a paused leader that has not noticed it lost the Lease), which the tests check.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from kubernetes.aio import client as aio_client
from kubernetes.aio.client import ApiClient
from kubernetes.aio.leaderelection.electionconfig import Config
from kubernetes.aio.leaderelection.leaderelection import LeaderElection
from kubernetes.aio.leaderelection.leaderelectionrecord import LeaderElectionRecord
from kubernetes.aio.leaderelection.resourcelock.leaselock import LeaseLock

from conveyor.api.names import LEADER_LEASE_NAME
from conveyor.kube.api import KubeApi
from conveyor.locks.api import ApiError, Conflict
from conveyor.locks.holders import format_micro_time

logger = logging.getLogger(__name__)

LEASE_DURATION_SECONDS = 15
RENEW_DEADLINE_SECONDS = 10
RETRY_PERIOD_SECONDS = 2


class CountingLeaseLock(LeaseLock):
    """The official LeaseLock, counting leaseTransitions when the holder changes, and able to create
    the Lease (kubernetes 37's `create` passes `pretty=True`, which its own generated client refuses
    with a pydantic ValidationError, so the first replica could never lead)."""

    async def create(self, name: str, namespace: str, election_record: LeaderElectionRecord) -> bool:
        body = aio_client.V1Lease(
            metadata=aio_client.V1ObjectMeta(name=name), spec=self.update_lease(election_record)
        )
        try:
            await self.api_instance.create_namespaced_lease(namespace, body)
        except aio_client.ApiException as error:
            logger.warning("could not create the leader Lease: %s", error.reason)
            return False
        return True

    async def update(self, name: str, namespace: str, updated_record: LeaderElectionRecord) -> bool:
        reference: Any = self.lease_reference
        spec = None if reference is None else reference.spec
        if spec is not None and spec.holder_identity != updated_record.holder_identity:
            spec.lease_transitions = (reference.spec.lease_transitions or 0) + 1
        result: bool = await super().update(name, namespace, updated_record)
        return result


class Leadership:
    """Stand for leadership; run `lead` while leading, cancel it when the Lease is lost."""

    def __init__(self, api_client: ApiClient, api: KubeApi, namespace: str, identity: str) -> None:
        self._api_client = api_client
        self._api = api
        self.namespace = namespace
        self.identity = identity
        self.leading = False
        self._lead_task: asyncio.Task[object] | None = None

    async def lead_forever(self, lead: Callable[[], Awaitable[None]]) -> None:
        async def started() -> None:
            self._lead_task = asyncio.current_task()
            self.leading = True
            logger.info("%s leads", self.identity)
            try:
                await lead()
            finally:
                self.leading = False

        async def stopped() -> None:
            self.leading = False
            logger.warning("%s lost the leadership", self.identity)

        try:
            await self._stand(started, stopped)
        finally:
            # The elector runs `started` as a task of its own and cancels it only when the Lease
            # is lost, not when the elector itself is cancelled: without this, admission would go
            # on after shutdown and after the Lease is released.
            lead_task = self._lead_task
            while lead_task is not None and not lead_task.done():
                lead_task.cancel()
                await asyncio.wait([lead_task], timeout=1)

    async def _stand(
        self,
        started: Callable[[], Coroutine[Any, Any, None]],
        stopped: Callable[[], Coroutine[Any, Any, None]],
    ) -> None:
        while True:
            lock = CountingLeaseLock(LEADER_LEASE_NAME, self.namespace, self.identity, self._api_client)
            config = Config(
                lock,
                lease_duration=LEASE_DURATION_SECONDS,
                renew_deadline=RENEW_DEADLINE_SECONDS,
                retry_period=RETRY_PERIOD_SECONDS,
                onstarted_leading=started,
                onstopped_leading=stopped,
            )
            await LeaderElection(config).run()

    async def release(self) -> None:
        """Give the Lease up (shutdown), so the next replica leads at once."""
        path = f"/apis/coordination.k8s.io/v1/namespaces/{self.namespace}/leases/{LEADER_LEASE_NAME}"
        for _ in range(5):
            try:
                lease = await self._api.request("GET", path)
            except ApiError:
                return
            spec = lease.get("spec") or {}
            if spec.get("holderIdentity") != self.identity:
                return
            spec["holderIdentity"] = ""
            spec["leaseDurationSeconds"] = 1
            spec["renewTime"] = format_micro_time(datetime.now(UTC))
            with contextlib.suppress(Conflict):
                await self._api.request("PUT", path, body=lease, count_as="leader")
                return
            await asyncio.sleep(0)
