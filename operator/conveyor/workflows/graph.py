"""The task graph workflows build with `ctx.graph()` and run with `execute()`.

    graph = ctx.graph(max_parallel=4)
    render = graph.add_task("shell.run", {"argv": ["helm", "template", "."]}, name="render")
    apply = graph.add_task(apply_manifests, name="apply", retries=5, retry_interval=10)
    checks = [graph.add_task("http.request", {"url": url}) for url in urls]
    graph.sequence(render, apply, checks)
    graph.execute()     # raises WorkflowFailed / WorkflowCancelled

Building methods (add_task, add_subgraph, add_dependency, sequence, fork, join) are in
tasks.GraphBuilder and shared with subgraphs; the engine that runs them is engine.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.workflows.engine import execute_body
from conveyor.workflows.tasks import GraphBody, GraphBuilder

if TYPE_CHECKING:
    from conveyor.workflows.context import WorkflowContext


class TaskGraph(GraphBuilder):
    def __init__(
        self, ctx: WorkflowContext, prefix: str, max_parallel: int, fail_fast: bool = True,
        named_prefix: str | None = None,
    ) -> None:
        self._body = GraphBody(ctx, prefix, max_parallel, fail_fast, named_prefix)

    @property
    def max_parallel(self) -> int:
        return self._body.max_parallel

    def execute(self) -> None:
        """Run the graph to its end in worker threads; blocks the calling (workflow) thread.

        Raises WorkflowFailed naming the failed tasks, or WorkflowCancelled if cancellation was
        requested (also when it was requested before `execute()`: then nothing runs). Executing a
        graph again runs only the tasks that have not succeeded.
        """
        execute_body(self._body, self._body.ctx)
