"""The controller that keeps aggregated ClusterRoles whole (rules in aggregation.py).

What must hold: it follows every change to any ClusterRole (labels, rules, deletion) and rewrites
the aggregated roles whose union changed, as the system (not through HTTP); a lost race (409) is
retried on the next pass, which the write that won has already asked for.
"""

from __future__ import annotations

import asyncio
import logging

from conveyor.sim.aggregation import aggregated_rules
from conveyor.sim.api import ApiService, Request
from conveyor.sim.errors import StatusError
from conveyor.sim.rbac import RBAC
from conveyor.sim.storage import Event

log = logging.getLogger(__name__)

_CONTROLLER_USER = "system:serviceaccount:kube-system:clusterrole-aggregation-controller"


class ClusterRoleAggregation:
    """Keeps aggregated ClusterRoles up to date; runs as a task beside the server."""

    def __init__(self, api: ApiService) -> None:
        self.api = api
        self._wake = asyncio.Event()
        api.store.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        if event.group == RBAC and event.plural == "clusterroles":
            self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                await self.reconcile()
            except Exception:  # keep aggregating; one bad role must not stop the controller
                log.exception("cluster role aggregation failed")
            await self._wake.wait()
            self._wake.clear()

    async def reconcile(self) -> None:
        roles = self.api.store.objects(RBAC, "clusterroles")
        stored = {role["metadata"]["name"]: role for role in roles}
        rt = self.api.resource((RBAC, "v1", "clusterroles"))
        for name, rules in aggregated_rules(roles).items():
            role = stored[name]
            if list(role.get("rules") or ()) == rules:
                continue
            try:
                await self.api.update(rt, None, name, {**role, "rules": rules},
                                      field_manager="clusterrole-aggregation-controller",
                                      req=Request(user=_CONTROLLER_USER))
            except StatusError as err:
                if err.code not in (404, 409):
                    raise
                self._wake.set()  # changed under us: the next pass sees the new state
