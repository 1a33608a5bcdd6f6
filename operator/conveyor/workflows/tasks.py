"""The structure of a task graph: tasks, subgraphs and their dependencies (no execution here).

Task ids must be stable across attempts of one execution, because checkpoints are keyed by them:
a named task's id is its name, an unnamed one's is its position in its graph plus what it runs
("3-shell.run", "graph2/0-shell.run" in the second unnamed graph), tasks of a named graph or of a
subgraph are prefixed by its name or id ("deploy/apply").
The same workflow code given the same parameters therefore yields the same ids, and the owning
context refuses a duplicate id anywhere in the execution.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from conveyor.workflows.plugins import resolve_operation
from conveyor.workflows.reporting import TaskInfo

if TYPE_CHECKING:
    from conveyor.workflows.context import WorkflowContext

UNLIMITED_RETRIES = -1


@dataclasses.dataclass(frozen=True)
class TaskDefaults:
    """Per-deployment defaults (the worker fills them from the Deployment); tasks may override.

    retries: how many times a failing task runs again (-1 = no limit).
    retry_interval: seconds between attempts unless the error gives `retry_after`.
    max_parallel: tasks of one graph running at once.
    force_grace_period: seconds a force cancel waits for running tasks before abandoning them.
    """

    retries: int = 3
    retry_interval: float = 5.0
    max_parallel: int = 8
    force_grace_period: float = 10.0

    def __post_init__(self) -> None:
        if self.retries < UNLIMITED_RETRIES:
            raise ValueError(f"retries must be >= -1, got {self.retries}")
        if self.retry_interval < 0 or self.force_grace_period < 0:
            raise ValueError("retry_interval and force_grace_period must be >= 0")
        if self.max_parallel < 1:
            raise ValueError(f"max_parallel must be >= 1, got {self.max_parallel}")


class TaskState(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    ABANDONED = "abandoned"


Target = str | Callable[..., Any]


class Task:
    """One node of a graph: an operation ("plugin.op") or a local callable, called `fn(ctx, **kwargs)`.

    The operation is resolved when the task is added, so a misspelt name fails while the graph is
    built (in dry run too) rather than halfway through a deployment.
    """

    def __init__(
        self,
        task_id: str,
        name: str,
        operation: str,
        function: Callable[..., Any] | None,
        kwargs: Mapping[str, Any],
        retries: int,
        retry_interval: float,
    ) -> None:
        self.id = task_id
        self.name = name
        self.operation = operation
        self.function = function
        self.kwargs = dict(kwargs)
        self.retries = retries
        self.retry_interval = retry_interval
        self.state = TaskState.PENDING
        self.result: Any = None
        self.error: str | None = None
        self.attempts = 0
        self.resumed = False
        self.abandoned = False

    def info(self, attempt: int | None = None) -> TaskInfo:
        return TaskInfo(self.id, self.name, self.operation, attempt if attempt is not None else self.attempts)

    def leaves(self) -> Iterator[Task]:
        """The tasks that do work (operations and callables), for progress counting."""
        yield self

    def __repr__(self) -> str:
        return f"<Task {self.id} {self.operation} {self.state}>"


class GraphBody:
    """Tasks and dependencies of one graph or subgraph; dependencies never cross bodies."""

    def __init__(
        self,
        ctx: WorkflowContext,
        prefix: str,
        max_parallel: int,
        fail_fast: bool,
        named_prefix: str | None = None,
    ) -> None:
        """`prefix` goes before unnamed tasks' ids, `named_prefix` (default: the same) before named ones'."""
        if max_parallel < 1:
            raise ValueError(f"max_parallel must be >= 1, got {max_parallel}")
        self.ctx = ctx
        self.prefix = prefix
        self.named_prefix = prefix if named_prefix is None else named_prefix
        self.max_parallel = max_parallel
        self.fail_fast = fail_fast
        self.tasks: list[Task] = []
        self.dependencies: dict[Task, list[Task]] = {}

    def owns(self, task: Task) -> bool:
        return task in self.dependencies

    def dependents(self, task: Task) -> Iterator[Task]:
        for candidate, requirements in self.dependencies.items():
            if task in requirements:
                yield candidate

    def leaves(self) -> Iterator[Task]:
        for task in self.tasks:
            yield from task.leaves()


def _label(target: Target) -> str:
    if isinstance(target, str):
        return target
    module = getattr(target, "__module__", None) or "?"
    qualname = getattr(target, "__qualname__", None) or type(target).__name__
    return f"{module}.{qualname}"


class GraphBuilder:
    """Building methods shared by TaskGraph and Subgraph (a subgraph is built like a graph)."""

    _body: GraphBody

    @property
    def tasks(self) -> list[Task]:
        return list(self._body.tasks)

    def _new_id(self, name: str | None, label: str) -> tuple[str, str]:
        if name is not None and (not name or "/" in name):
            raise ValueError(f"task name must be non-empty and contain no '/', got {name!r}")
        if name is not None:
            local, task_id = name, self._body.named_prefix + name
        else:
            local = f"{len(self._body.tasks)}-{label}"
            task_id = self._body.prefix + local
        self._body.ctx.claim_task_id(task_id)
        return task_id, local

    def _add(self, task: Task) -> Task:
        self._body.tasks.append(task)
        self._body.dependencies[task] = []
        return task

    def add_task(
        self,
        target: Target,
        kwargs: Mapping[str, Any] | None = None,
        *,
        name: str | None = None,
        retries: int | None = None,
        retry_interval: float | None = None,
    ) -> Task:
        """Add an operation ("plugin.op", resolved now) or a callable; both are called `fn(ctx, **kwargs)`.

        retries / retry_interval default to the deployment's TaskDefaults.
        """
        if isinstance(target, str):
            function = resolve_operation(target)
        elif callable(target):
            function = target
        else:
            raise TypeError(f"a task runs 'plugin.operation' or a callable, not {type(target).__name__}")
        defaults = self._body.ctx.defaults
        retries = defaults.retries if retries is None else retries
        if retries < UNLIMITED_RETRIES:
            raise ValueError(f"retries must be >= -1, got {retries}")
        interval = defaults.retry_interval if retry_interval is None else retry_interval
        if interval < 0:
            raise ValueError(f"retry_interval must be >= 0, got {interval}")
        label = _label(target)
        task_id, task_name = self._new_id(name, label)
        return self._add(Task(task_id, task_name, label, function, kwargs or {}, retries, interval))

    def add_subgraph(
        self,
        name: str | None = None,
        *,
        max_parallel: int | None = None,
        fail_fast: bool = True,
        retries: int = 0,
        retry_interval: float | None = None,
    ) -> Subgraph:
        """Add a subgraph: a task that runs a graph of its own; retrying it re-runs what did not succeed."""
        task_id, task_name = self._new_id(name, "subgraph")
        defaults = self._body.ctx.defaults
        body = GraphBody(
            self._body.ctx,
            task_id + "/",
            max_parallel if max_parallel is not None else defaults.max_parallel,
            fail_fast,
        )
        interval = defaults.retry_interval if retry_interval is None else retry_interval
        subgraph = Subgraph(task_id, task_name, body, retries, interval)
        self._add(subgraph)
        return subgraph

    def add_dependency(self, task: Task, depends_on: Task) -> None:
        """`task` runs only after `depends_on` succeeded; both must belong to this graph."""
        for member in (task, depends_on):
            if not self._body.owns(member):
                raise ValueError(f"task {member.id!r} does not belong to this graph")
        if task is depends_on or self._reaches(depends_on, task):
            raise ValueError(f"dependency {task.id!r} -> {depends_on.id!r} would make a cycle")
        if depends_on not in self._body.dependencies[task]:
            self._body.dependencies[task].append(depends_on)

    def _reaches(self, start: Task, goal: Task) -> bool:
        """True if `start` already (transitively) depends on `goal`."""
        seen: set[Task] = set()
        stack = [start]
        while stack:
            current = stack.pop()
            if current is goal:
                return True
            if current not in seen:
                seen.add(current)
                stack.extend(self._body.dependencies[current])
        return False

    def sequence(self, *stages: Task | Sequence[Task]) -> None:
        """Run stages one after the other; a stage given as a list runs its tasks in parallel.

        `sequence(a, [b, c], d)`: b and c after a, d after both.
        """
        previous: list[Task] = []
        for stage in stages:
            current = [stage] if isinstance(stage, Task) else list(stage)
            for task in current:
                for before in previous:
                    self.add_dependency(task, before)
            previous = current

    def fork(self, source: Task, *branches: Task) -> list[Task]:
        """Every branch starts after `source`; returns the branches."""
        self.sequence(source, list(branches))
        return list(branches)

    def join(self, *branches: Task, into: Task) -> Task:
        """`into` starts after every branch; returns it."""
        self.sequence(list(branches), into)
        return into


class Subgraph(Task, GraphBuilder):
    """A task whose work is a graph: built with the same methods, run when its dependencies succeed."""

    def __init__(self, task_id: str, name: str, body: GraphBody, retries: int, retry_interval: float) -> None:
        super().__init__(task_id, name, "subgraph", None, {}, retries, retry_interval)
        self._body = body

    @property
    def body(self) -> GraphBody:
        return self._body

    def leaves(self) -> Iterator[Task]:
        yield from self._body.leaves()
