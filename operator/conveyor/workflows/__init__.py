"""The workflow framework users import: decorator, context, task graph, errors, plugin registry.

    from conveyor.workflows import workflow

    @workflow(resumable=True)
    def install(ctx, timeout=60):
        graph = ctx.graph()
        ...
        graph.execute()

See graph.py for building graphs, plugins.py for the operation signature, reporting.py for what
the worker implements, runner.py for how the worker runs a workflow.
"""

from conveyor.workflows.cancellation import CancelMode, CancelToken
from conveyor.workflows.context import DeploymentInfo, OperationContext, WorkflowContext
from conveyor.workflows.decorator import (
    WorkflowMappingError,
    WorkflowSpec,
    resolve_mapping,
    workflow,
    workflow_spec,
)
from conveyor.workflows.errors import (
    NonRecoverableError,
    OperationRetry,
    RecoverableError,
    TaskCancelled,
    WorkflowCancelled,
    WorkflowFailed,
)
from conveyor.workflows.graph import TaskGraph
from conveyor.workflows.plugins import (
    PluginError,
    UnknownOperationError,
    UnknownPluginError,
    register_plugin,
    resolve_operation,
    unregister_plugin,
)
from conveyor.workflows.reporting import MemoryReporter, Reporter, TaskInfo
from conveyor.workflows.runner import WorkflowOutcome, run_workflow
from conveyor.workflows.tasks import Subgraph, Task, TaskDefaults, TaskState

__all__ = [
    "CancelMode",
    "CancelToken",
    "DeploymentInfo",
    "MemoryReporter",
    "NonRecoverableError",
    "OperationContext",
    "OperationRetry",
    "PluginError",
    "RecoverableError",
    "Reporter",
    "Subgraph",
    "Task",
    "TaskCancelled",
    "TaskDefaults",
    "TaskGraph",
    "TaskInfo",
    "TaskState",
    "UnknownOperationError",
    "UnknownPluginError",
    "WorkflowCancelled",
    "WorkflowContext",
    "WorkflowFailed",
    "WorkflowMappingError",
    "WorkflowOutcome",
    "WorkflowSpec",
    "register_plugin",
    "resolve_mapping",
    "resolve_operation",
    "run_workflow",
    "unregister_plugin",
    "workflow",
    "workflow_spec",
]
