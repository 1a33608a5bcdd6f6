"""Contexts for framework tests: an in-memory reporter, no retry waits, a short force grace period."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from conveyor.workflows import DeploymentInfo, MemoryReporter, TaskDefaults, WorkflowContext

WAIT = 10.0
"""Upper bound for any wait on a condition in these tests; never reached when the code is right."""


@pytest.fixture
def reporter() -> MemoryReporter:
    return MemoryReporter()


@pytest.fixture
def make_ctx(reporter: MemoryReporter) -> Callable[..., WorkflowContext]:
    def make(**overrides: Any) -> WorkflowContext:
        defaults = TaskDefaults(
            retries=overrides.pop("retries", 3),
            retry_interval=overrides.pop("retry_interval", 0.0),
            max_parallel=overrides.pop("max_parallel", 8),
            force_grace_period=overrides.pop("force_grace_period", WAIT),
        )
        options: dict[str, Any] = {
            "execution_name": "install-x7k2p",
            "workflow_name": "install",
            "deployment": DeploymentInfo("web", "shop", {"replicas": 3}),
            "reporter": reporter,
            "defaults": defaults,
        }
        options.update(overrides)
        return WorkflowContext(**options)

    return make


@pytest.fixture
def ctx(make_ctx: Callable[..., WorkflowContext]) -> WorkflowContext:
    return make_ctx()
