"""Workflows every Deployment has without declaring them.

`BUILTIN_WORKFLOWS` maps a workflow name to its "module.function" mapping, so the operator can
admit and the worker can resolve a built-in exactly like a declared one. `create_snapshot` and
`restore_snapshot` (snapshots.py) are system-wide (`@workflow(system_wide=True)`): they refuse to run
for a deployment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conveyor.workflows.context import WorkflowContext
from conveyor.workflows.decorator import workflow

BUILTIN_WORKFLOWS: dict[str, str] = {
    "execute_operation": "conveyor.workflows.builtin.execute_operation",
    "create_snapshot": "conveyor.workflows.snapshots.create_snapshot",
    "restore_snapshot": "conveyor.workflows.snapshots.restore_snapshot",
}


@workflow
def execute_operation(
    ctx: WorkflowContext,
    operation: str,
    operation_kwargs: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> Any:
    """Run one plugin operation ("plugin.op") with `operation_kwargs` and any extra parameters.

    Extra parameters (the Execution's custom parameters) are merged over `operation_kwargs`, so
    `{operation: shell.run, argv: [...]}` and `{operation: shell.run, operation_kwargs: {argv: [...]}}`
    mean the same.
    """
    merged = {**(operation_kwargs or {}), **kwargs}
    return ctx.execute_task(operation, merged, name=operation)
