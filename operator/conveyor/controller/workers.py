"""Making sure an admitted execution has a worker to run it: its identity, then its Job.

What must hold:
- a worker Job exists, and is not finished, for every deployment (and the system) with a `pending`
  execution. Checked at admission and again on every lease check: a worker may exit idle, or be
  killed, just as an execution is admitted, and the Job it leaves behind is finished but present
  (replaced here: deleted, then created again);
- before a Job is created, the identity it runs as is in place (`worker_identity`): the ClusterRole
  `conveyor-worker` (created only when missing and the operator may), then the deployment's own
  ServiceAccount `conveyor-worker-<deployment>` and its RoleBinding, both owned by the Deployment
  (the system worker: `conveyor-worker`, in the operator's namespace). What cannot be made is
  reported as a `Problem` naming what is missing and what to do, and no Job is created; the caller
  ends the execution with it (a pod for a ServiceAccount that does not exist never starts, and the
  execution would wait forever). So is a Deployment name too long for an account of its own;
- a Deployment that names its own `spec.worker.serviceAccountName` gets nothing created: that
  account and its permissions are its owner's business;
- identity is checked once per account per owning Deployment (its uid: a Deployment deleted and
  made again lost its account with the old one) per process (a few GETs), not per execution; an
  account still owned by the deleted Deployment of the same name is waited out (next lease
  check), never used: garbage collection is about to remove it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from conveyor.controller.worker_identity import (
    WORKER_CLUSTER_ROLE,
    WorkerIdentity,
    build_worker_cluster_role,
    build_worker_role_binding,
    build_worker_service_account,
    managed_identity_of,
    service_account_name_problem,
)
from conveyor.kube.api import KubeApi
from conveyor.locks.api import ApiError, Conflict

logger = logging.getLogger(__name__)

_RBAC = ("apis", "rbac.authorization.k8s.io", "v1")
FORBIDDEN = 403
CONFLICT = 409


class IdentityGoingAway(ApiError):
    """The account (or binding) found is a deleted Deployment's of the same name, about to be
    garbage-collected: the worker waits for the next lease check rather than start as an account
    that is going to vanish under it."""

    def __init__(self, what: str) -> None:
        super().__init__(CONFLICT, "Conflict", f"the worker's {what} still belongs to a deleted Deployment")


@dataclass(frozen=True)
class Problem:
    """Why no worker can run in a namespace, for an Event and the execution's error."""

    message: str


def _finished(job: dict[str, Any]) -> bool:
    conditions = (job.get("status") or {}).get("conditions") or []
    return any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True" for c in conditions)


def _owned_by_another(obj: dict[str, Any], identity: WorkerIdentity) -> bool:
    if identity.owner is None:
        return False
    owners = (obj.get("metadata") or {}).get("ownerReferences") or []
    same_name = [ref for ref in owners
                 if ref.get("kind") == identity.owner["kind"] and ref.get("name") == identity.owner["name"]]
    return bool(same_name) and all(ref.get("uid") != identity.owner["uid"] for ref in same_name)


def _cache_key(identity: WorkerIdentity) -> tuple[str, str, str]:
    uid = (identity.owner or {}).get("uid", "")
    return identity.namespace, identity.service_account, uid


class WorkerProvisioner:
    """Identity and Job of workers, over the operator's API client."""

    def __init__(self, api: KubeApi) -> None:
        self.api = api
        self._ready: set[tuple[str, str, str]] = set()
        self._cluster_role_ready = False

    async def ensure_worker(self, job: dict[str, Any]) -> Problem | None:
        """`job` (`worker_job`) running, as an identity that exists; else why it cannot be."""
        identity = managed_identity_of(job)
        if identity is not None:
            problem = await self._ensure_identity(identity)
            if problem is not None:
                return problem
        await self._ensure_job(job)
        return None

    async def _ensure_identity(self, identity: WorkerIdentity) -> Problem | None:
        """The ClusterRole, then the account and its RoleBinding (both named `service_account`)."""
        key = _cache_key(identity)
        if key in self._ready:
            return None
        if identity.deployment is not None:
            too_long = service_account_name_problem(identity.deployment)
            if too_long is not None:
                return Problem(too_long)
        problem = await self._ensure_cluster_role()
        if problem is not None:
            return problem
        namespace, name = identity.namespace, identity.service_account
        problem = await self._ensure(
            ("api", "v1", "namespaces", namespace, "serviceaccounts"), identity,
            build_worker_service_account(identity), f"ServiceAccount {namespace}/{name}",
        )
        if problem is not None:
            return problem
        problem = await self._ensure(
            (*_RBAC, "namespaces", namespace, "rolebindings"), identity, build_worker_role_binding(identity),
            f"RoleBinding {namespace}/{name} (to ClusterRole {WORKER_CLUSTER_ROLE})",
        )
        if problem is None:
            self._ready.add(key)
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
        self, collection: tuple[str, ...], identity: WorkerIdentity, body: dict[str, Any], what: str
    ) -> Problem | None:
        """`body` created unless present; raises IdentityGoingAway when the one present is a deleted
        Deployment's (the operator may not update or delete it, and need not: it is collected)."""
        try:
            existing = await self.api.get_object(*collection, identity.service_account)
            if existing is not None:
                if _owned_by_another(existing, identity):
                    raise IdentityGoingAway(what)
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

    async def _ensure_job(self, job: dict[str, Any]) -> bool:
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
