"""`ctx`: what a workflow (WorkflowContext) and an operation (OperationContext) see of their execution.

The worker builds one WorkflowContext per execution attempt, with a Reporter that writes to the
cluster and a CancelToken it triggers from its watch; tests and local runs use MemoryReporter.
Logging goes through a logger owned by the context (not registered in the logging module, so
nothing accumulates across executions); every record reaches `reporter.log` carrying
`record.execution` (and `record.task` inside a task), and warnings and worse are also events.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Mapping
from typing import Any

from conveyor.workflows.cancellation import CancelMode, CancelToken
from conveyor.workflows.graph import TaskGraph
from conveyor.workflows.progress import ProgressTracker
from conveyor.workflows.reporting import MemoryReporter, Reporter
from conveyor.workflows.tasks import Target, Task, TaskDefaults

LOGGER_PARENT = "conveyor.executions"


@dataclasses.dataclass(frozen=True)
class DeploymentInfo:
    name: str
    namespace: str
    inputs: Mapping[str, Any] = dataclasses.field(default_factory=dict)


class _ReporterHandler(logging.Handler):
    """Sends the execution's records to the reporter; warning and above also become events."""

    def __init__(self, reporter: Reporter, execution_name: str) -> None:
        super().__init__(logging.NOTSET)
        self._reporter = reporter
        self._execution_name = execution_name

    def emit(self, record: logging.LogRecord) -> None:
        try:
            record.execution = self._execution_name
            self._reporter.log(record)
            if record.levelno >= logging.WARNING:
                data = {"task": record.task} if hasattr(record, "task") else {}
                self._reporter.event(record.getMessage(), record.levelname.lower(), data)
        except Exception:
            self.handleError(record)


class _TaskFilter(logging.Filter):
    def __init__(self, task_id: str) -> None:
        super().__init__()
        self._task_id = task_id

    def filter(self, record: logging.LogRecord) -> bool:
        record.task = self._task_id
        return True


class WorkflowContext:
    """The `ctx` a workflow is called with: `fn(ctx, **parameters)`.

    `deployment` is None for a system-wide execution; `namespace` is then the operator's.
    """

    def __init__(
        self,
        *,
        execution_name: str,
        workflow_name: str,
        namespace: str = "default",
        deployment: DeploymentInfo | None = None,
        parameters: Mapping[str, Any] | None = None,
        reporter: Reporter | None = None,
        dry_run: bool = False,
        resumable: bool = False,
        cancel_token: CancelToken | None = None,
        defaults: TaskDefaults | None = None,
        log_level: int = logging.INFO,
    ) -> None:
        self.execution_name = execution_name
        self.workflow_name = workflow_name
        self.namespace = deployment.namespace if deployment is not None else namespace
        self.deployment = deployment
        self.parameters: Mapping[str, Any] = dict(parameters or {})
        self.reporter: Reporter = reporter if reporter is not None else MemoryReporter()
        self.dry_run = dry_run
        self.resumable = resumable
        self.cancel_token = cancel_token if cancel_token is not None else CancelToken()
        self.defaults = defaults if defaults is not None else TaskDefaults()
        self.progress = ProgressTracker(self.reporter.progress)
        self.logger = logging.Logger(f"{LOGGER_PARENT}.{execution_name}", log_level)
        self.logger.parent = logging.getLogger(LOGGER_PARENT)
        self.logger.propagate = False  # the reporter is the one sink; the worker prints from it
        self.logger.addHandler(_ReporterHandler(self.reporter, execution_name))
        self._ids_lock = threading.Lock()
        self._task_ids: set[str] = set()
        self._graphs = 0
        self._single_tasks = 0

    @property
    def inputs(self) -> Mapping[str, Any]:
        """The deployment's `spec.inputs` (empty for a system-wide execution)."""
        return self.deployment.inputs if self.deployment is not None else {}

    @property
    def system_wide(self) -> bool:
        return self.deployment is None

    @property
    def cancel_requested(self) -> CancelMode | None:
        """None, or the cancel mode asked for (truthy): workflow code between graphs should check it."""
        return self.cancel_token.mode

    def send_event(self, message: str, level: str = "info", **data: Any) -> None:
        """An event on the Execution (a Kubernetes Event through the worker's reporter)."""
        if level not in ("debug", "info", "warning", "error", "critical"):
            raise ValueError(f"unknown event level {level!r}")
        self.reporter.event(message, level, data)

    def graph(self, name: str | None = None, *, max_parallel: int | None = None, fail_fast: bool = True
              ) -> TaskGraph:
        """A new task graph. With a `name`, its task ids are prefixed "name/". Without, a named task's
        id is its name, and unnamed tasks of the second and later graphs are prefixed "graph<N>/",
        so ids stay deterministic and distinct.

        fail_fast: after a task fails, start nothing more (default); otherwise only its dependents
        are skipped and independent branches go on.
        """
        with self._ids_lock:
            self._graphs += 1
            number = self._graphs
        if name is not None:
            if not name or "/" in name:
                raise ValueError(f"graph name must be non-empty and contain no '/', got {name!r}")
            prefix = named_prefix = name + "/"
        else:
            prefix, named_prefix = ("" if number == 1 else f"graph{number}/"), ""
        parallel = self.defaults.max_parallel if max_parallel is None else max_parallel
        return TaskGraph(self, prefix, parallel, fail_fast, named_prefix)

    def execute_task(
        self,
        target: Target,
        kwargs: Mapping[str, Any] | None = None,
        *,
        name: str | None = None,
        retries: int | None = None,
        retry_interval: float | None = None,
    ) -> Any:
        """Run one task now, with retries, events and cancellation as in a graph; return its result.

        Raises WorkflowFailed if the task fails, WorkflowCancelled if cancellation stopped it.
        """
        with self._ids_lock:
            self._single_tasks += 1
            number = self._single_tasks
        graph = TaskGraph(self, f"task{number}/", 1, named_prefix="")
        task = graph.add_task(target, kwargs, name=name, retries=retries, retry_interval=retry_interval)
        graph.execute()
        return task.result

    def claim_task_id(self, task_id: str) -> None:
        """Reserve a task id for this execution; a duplicate would make checkpoints ambiguous."""
        with self._ids_lock:
            if task_id in self._task_ids:
                raise ValueError(f"duplicate task id {task_id!r} in execution {self.execution_name}: "
                                 "give the task (or its graph) a distinct name")
            self._task_ids.add(task_id)

    def operation_context(self, task: Task, attempt: int) -> OperationContext:
        return OperationContext(self, task, attempt)


class OperationContext:
    """The `ctx` an operation or a task callable receives: `operation(ctx, **kwargs)`.

    An operation should log through `ctx.logger`, honour `ctx.dry_run` if called directly, and,
    if it blocks for long, wait on `ctx.cancel_token` (`wait_forced(timeout)`, `raise_if_forced()`,
    or `add_listener` to interrupt something it started) so a force cancel stops it promptly.
    """

    def __init__(self, workflow: WorkflowContext, task: Task, attempt: int) -> None:
        self.workflow = workflow
        self.task_id = task.id
        self.task_name = task.name
        self.operation = task.operation
        self.attempt = attempt
        self.logger = logging.Logger(f"{workflow.logger.name}.{task.id}", logging.NOTSET)
        self.logger.parent = workflow.logger
        self.logger.addFilter(_TaskFilter(task.id))

    @property
    def dry_run(self) -> bool:
        return self.workflow.dry_run

    @property
    def cancel_token(self) -> CancelToken:
        return self.workflow.cancel_token

    @property
    def execution_name(self) -> str:
        return self.workflow.execution_name

    @property
    def deployment(self) -> DeploymentInfo | None:
        return self.workflow.deployment

    @property
    def inputs(self) -> Mapping[str, Any]:
        return self.workflow.inputs

    def send_event(self, message: str, level: str = "info", **data: Any) -> None:
        self.workflow.send_event(message, level, task=self.task_id, **data)

