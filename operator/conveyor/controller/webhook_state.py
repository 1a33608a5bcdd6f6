"""What the admission webhook reads of the cluster for one request: few, cheap calls.

The webhook runs in every operator replica, leader or not, so it cannot use the leader's policy; it
reads the state through the API instead, and only what the request's decision depends on:

- the request's Deployment (one GET), and the operator's configuration (one GET of the ConfigMap,
  kept for `config_ttl` seconds: the controller itself re-reads it every few seconds);
- for a request that must start now or fail (`webhook_decision.needs_state`): who runs, read from
  the Leases the admission loop acquires before an execution turns `pending` (the lock protocol's
  truth, and what the leader's policy counts as running): the request's deployment Lease and the
  system Lease (two GETs), or every deployment Lease of the watched namespaces (one LIST per
  namespace, or one in all) when the request is system-wide or a cap is set; and the queued
  system-wide executions, which live in the operator's namespace (one LIST of the Executions there
  without a `conveyor.dev/deployment` label: the operator labels every deployment's execution).

Nothing here scales with the number of Executions of a deployment; the one LIST of Executions is of
the operator's namespace's system-wide ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from conveyor.admission.policy import DeploymentKey, ExecKey
from conveyor.api.config import InvalidConfig, OperatorConfig, parse_operator_config
from conveyor.api.models import ExecutionPhase
from conveyor.api.names import CONFIG_MAP_NAME, EXECUTION, GROUP, LABEL_DEPLOYMENT, VERSION
from conveyor.controller.requests import admissible_deployment, phase_of
from conveyor.controller.webhook_decision import ObservedState
from conveyor.kube.api import KubeApi
from conveyor.locks.leases import LeaseLocks, LeaseRef

SYSTEM_WIDE_SELECTOR = f"!{LABEL_DEPLOYMENT}"
"""Executions without the deployment label: the system-wide ones (and deployment requests the
operator has not labelled yet, which are told apart by their spec)."""


@dataclass
class WebhookReader:
    """Reads for the webhook's decisions. `namespaces`: the operator's watched namespaces (None: all)."""

    api: KubeApi
    locks: LeaseLocks
    operator_namespace: str
    namespaces: list[str] | None
    config_ttl: float = 5.0
    _config: tuple[float, OperatorConfig | None] | None = None

    async def deployment(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The Deployment as admission sees it: None when absent or being deleted."""
        return admissible_deployment(await self.api.get_deployment(namespace, name))

    async def config(self) -> OperatorConfig | None:
        """The operator's configuration; None when it is broken (the controller then keeps its last
        good one, which the webhook cannot know)."""
        clock = asyncio.get_running_loop().time
        if self._config is not None and clock() - self._config[0] < self.config_ttl:
            return self._config[1]
        config_map = await self.api.get_config_map(self.operator_namespace, CONFIG_MAP_NAME)
        try:
            config: OperatorConfig | None = parse_operator_config((config_map or {}).get("data"))
        except InvalidConfig:
            config = None
        self._config = (clock(), config)
        return config

    async def state(self, namespace: str, deployment: str | None, max_running: int) -> ObservedState:
        """Who runs and which system-wide executions wait, as far as a request of `deployment` in
        `namespace` (None: system-wide) needs to know."""
        running: dict[ExecKey, DeploymentKey | None] = {}
        system = await self.locks.read(LeaseRef.system(self.operator_namespace))
        for holder in system.holders:
            running[ExecKey(self.operator_namespace, holder)] = None
        mine = LeaseRef.of_deployment(namespace, deployment) if deployment else None
        if deployment is None or max_running:
            held = await self.locks.held_deployment_leases(self.namespaces)
        else:
            assert mine is not None
            held = {mine: await self.locks.read(mine)}
        for ref, state in held.items():
            # Only the request's own deployment must be named right (its busy message lists its
            # holders); any other deployment only needs a key of its own.
            key = DeploymentKey(namespace, deployment) if ref == mine and deployment else DeploymentKey(
                ref.namespace, f"lease/{ref.name}"
            )
            for holder in state.holders:
                running[ExecKey(ref.namespace, holder)] = key
        return ObservedState(
            running=running, queued_system_wide=await self._queued_system_wide(), max_running=max_running
        )

    async def _queued_system_wide(self) -> list[dict[str, Any]]:
        path = f"/apis/{GROUP}/{VERSION}/namespaces/{self.operator_namespace}/{EXECUTION.plural}"
        listed = await self.api.request("GET", path, query={"labelSelector": SYSTEM_WIDE_SELECTOR})
        return list(_queued_system_wide(listed.get("items") or [], self.operator_namespace))


def _queued_system_wide(items: Iterable[dict[str, Any]], namespace: str) -> Iterable[dict[str, Any]]:
    for item in items:
        if (item.get("spec") or {}).get("deployment") or phase_of(item) is not ExecutionPhase.QUEUED:
            continue
        item.setdefault("metadata", {}).setdefault("namespace", namespace)
        yield item
