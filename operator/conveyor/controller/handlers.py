"""kopf wiring: thin handlers that only feed the admission loop's cache.

Only `@kopf.on.event` handlers are registered: kopf keeps no handler progress and no diff-base for
them, so it writes nothing on Executions or Deployments (no annotations, no finalizers of its own:
Conveyor's finalizer is managed by the admission loop). Every replica runs these; only the leader's
loop acts on what they record.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import kopf

from conveyor.api.names import DEPLOYMENT, EXECUTION, GROUP, VERSION
from conveyor.controller.admission_loop import AdmissionLoop


def build_registry(loop: AdmissionLoop, login: Callable[..., kopf.ConnectionInfo]) -> kopf.OperatorRegistry:
    """`login` is called with kopf's login kwargs (settings, logger...)."""
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def _login(**kwargs: Any) -> kopf.ConnectionInfo:
        return login(**kwargs)

    @kopf.on.startup(registry=registry)
    def _configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.posting.enabled = False  # Conveyor posts its own Events, counted
        settings.watching.server_timeout = 300
        settings.watching.client_timeout = 330
        settings.networking.error_backoffs = [0.1, 0.5, 1, 2]
        settings.scanning.disabled = True  # the CRDs are known; no cluster-wide discovery rescans

    @kopf.on.event(GROUP, VERSION, EXECUTION.plural, registry=registry)
    async def _execution(event: kopf.RawEvent, **_: Any) -> None:
        loop.observe_execution(event.get("type"), dict(event["object"]))

    @kopf.on.event(GROUP, VERSION, DEPLOYMENT.plural, registry=registry)
    async def _deployment(event: kopf.RawEvent, **_: Any) -> None:
        loop.observe_deployment(event.get("type"), dict(event["object"]))

    return registry
