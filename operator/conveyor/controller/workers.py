"""Making sure an admitted execution has a worker to run it: its identity, then its Job.

What must hold:
- a worker Job exists, and is not finished, for every deployment (and the system) with a `pending`
  execution. Checked at admission and again on every lease check: a worker may exit idle, or be
  killed, just as an execution is admitted, and the Job it leaves behind is finished but present
  (replaced here: deleted, then created again);
- before the first Job of a namespace, the worker's identity is in place (`worker_identity`): the
  ClusterRole `conveyor-worker` (created only when missing and the operator may), the
  ServiceAccount and the RoleBinding. What cannot be made is reported as a `Problem` naming what
  is missing and what to do; the caller ends the execution with it (a pod for a ServiceAccount that
  does not exist never starts, and the execution would wait forever);
- a Deployment that names its own `spec.worker.serviceAccountName` gets nothing created: that
  account and its permissions are its owner's business;
- identity is checked once per namespace per process (a few GETs), not per execution.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from conveyor.controller.worker_identity import (
    WORKER_CLUSTER_ROLE,
    WORKER_ROLE_BINDING,
    WORKER_SERVICE_ACCOUNT,
    build_worker_cluster_role,
    build_worker_role_binding,
    build_worker_service_account,
)
from conveyor.kube.api import KubeApi
from conveyor.locks.api import ApiError, Conflict

logger = logging.getLogger(__name__)

_RBAC = ("apis", "rbac.authorization.k8s.io", "v1")
FORBIDDEN = 403


@dataclass(frozen=True)
class Problem:
    """Why no worker can run in a namespace, for an Event and the execution's error."""

    message: str


def _finished(job: dict[str, Any]) -> bool:
    conditions = (job.get("status") or {}).get("conditions") or []
    return any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True" for c in conditions)


class WorkerProvisioner:
    """Identity and Job of workers, over the operator's API client."""

    def __init__(self, api: KubeApi) -> None:
        self.api = api
        self._ready: set[str] = set()
        self._cluster_role_ready = False

    async def ensure_identity(self, namespace: str) -> Problem | None:
        """The ClusterRole, ServiceAccount and RoleBinding `conveyor-worker` for `namespace`."""
        if namespace in self._ready:
            return None
        problem = await self._ensure_cluster_role()
        if problem is not None:
            return problem
        sa_path = ("api", "v1", "namespaces", namespace, "serviceaccounts")
        problem = await self._ensure(
            sa_path, WORKER_SERVICE_ACCOUNT, build_worker_service_account(namespace),
            f"ServiceAccount {namespace}/{WORKER_SERVICE_ACCOUNT}",
        )
        if problem is not None:
            return problem
        binding_path = (*_RBAC, "namespaces", namespace, "rolebindings")
        problem = await self._ensure(
            binding_path, WORKER_ROLE_BINDING, build_worker_role_binding(namespace),
            f"RoleBinding {namespace}/{WORKER_ROLE_BINDING} (to ClusterRole {WORKER_CLUSTER_ROLE})",
        )
        if problem is None:
            self._ready.add(namespace)
        return problem

    async def _ensure_cluster_role(self) -> Problem | None:
        if self._cluster_role_ready:
            return None
        path = (*_RBAC, "clusterroles")
        try:
            present = await self.api.get_object(*path, WORKER_CLUSTER_ROLE) is not None
        except ApiError as error:
            if error.status != FORBIDDEN:
                raise
            present = True  # not ours to read: the chart made it (a binding to a missing one is harmless)
        if not present:
            try:
                await self.api.create_object(*path, body=build_worker_cluster_role(), count_as="rbac")
            except Conflict:
                pass
            except ApiError as error:
                if error.status != FORBIDDEN:
                    raise
                return Problem(
                    f"the ClusterRole {WORKER_CLUSTER_ROLE} is missing and the operator may not create "
                    f"it ({error.message}): install it with the Helm chart (templates/rbac-worker.yaml)"
                )
        self._cluster_role_ready = True
        return None

    async def _ensure(
        self, collection: tuple[str, ...], name: str, body: dict[str, Any], what: str
    ) -> Problem | None:
        try:
            if await self.api.get_object(*collection, name) is not None:
                return None
            await self.api.create_object(*collection, body=body, count_as="rbac")
        except Conflict:
            return None
        except ApiError as error:
            if error.status != FORBIDDEN:
                raise
            return Problem(
                f"the worker's {what} is missing and the operator may not create it ({error.message}): "
                "create it, or grant the operator the chart's rules (templates/rbac-operator.yaml)"
            )
        return None

    async def ensure_job(self, job: dict[str, Any]) -> bool:
        """The Job, created, or replaced when finished; True when one was created."""
        metadata = job["metadata"]
        namespace, name = metadata["namespace"], metadata["name"]
        existing = await self.api.get_job(namespace, name)
        if existing is not None:
            if not _finished(existing):
                return False
            if not (existing.get("metadata") or {}).get("deletionTimestamp"):
                await self.api.delete_job(namespace, name)
        try:
            await self.api.create_job(namespace, job)
        except Conflict:  # the old one is still being deleted: the next lease check tries again
            logger.info("worker Job %s/%s is still going away; retrying later", namespace, name)
            return False
        return True
