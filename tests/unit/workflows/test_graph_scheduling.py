"""Task graph scheduling: dependencies, fork/join, parallelism, subgraphs."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from conveyor.workflows import OperationContext, TaskState, WorkflowContext

WAIT = 10.0
"""Upper bound of every wait on a condition here; never reached when the code is right."""


class Journal:
    """Records the order in which tasks ran; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.order: list[str] = []

    def task(self, label: str) -> Callable[[OperationContext], str]:
        def run(ctx: OperationContext) -> str:
            with self._lock:
                self.order.append(label)
            return label

        run.__qualname__ = f"record_{label}"
        return run


def test_a_task_runs_only_after_its_dependencies(ctx: WorkflowContext) -> None:
    journal = Journal()
    graph = ctx.graph()
    c = graph.add_task(journal.task("c"), name="c")
    b = graph.add_task(journal.task("b"), name="b")
    a = graph.add_task(journal.task("a"), name="a")
    graph.add_dependency(c, b)
    graph.add_dependency(b, a)
    graph.execute()
    assert journal.order == ["a", "b", "c"]


def test_fork_and_join_run_branches_between_source_and_target(ctx: WorkflowContext) -> None:
    journal = Journal()
    graph = ctx.graph()
    source = graph.add_task(journal.task("source"), name="source")
    branches = [graph.add_task(journal.task(f"branch{i}"), name=f"branch{i}") for i in range(3)]
    target = graph.add_task(journal.task("target"), name="target")
    graph.fork(source, *branches)
    graph.join(*branches, into=target)
    graph.execute()
    assert journal.order[0] == "source"
    assert sorted(journal.order[1:4]) == ["branch0", "branch1", "branch2"]
    assert journal.order[4] == "target"


def test_parallel_branches_really_run_at_the_same_time(ctx: WorkflowContext) -> None:
    both_running = threading.Barrier(2, timeout=WAIT)

    def meet(ctx: OperationContext) -> None:
        both_running.wait()  # deadlocks (and times out) unless both branches run at once

    graph = ctx.graph(max_parallel=2)
    graph.add_task(meet, name="left", retries=0)
    graph.add_task(meet, name="right", retries=0)
    graph.execute()


def test_parallelism_limit_is_never_exceeded(make_ctx: Callable[..., WorkflowContext]) -> None:
    limit = 2
    lock = threading.Lock()
    running, highest = 0, 0
    pair = threading.Barrier(limit, timeout=WAIT)

    def work(ctx: OperationContext) -> None:
        nonlocal running, highest
        with lock:
            running += 1
            highest = max(highest, running)
        pair.wait()  # the limit is reached: `limit` tasks are in here together
        with lock:
            running -= 1

    graph = make_ctx(max_parallel=limit).graph()
    for index in range(6):
        graph.add_task(work, name=f"t{index}", retries=0)
    graph.execute()
    assert highest == limit


def test_sequence_with_a_list_runs_that_stage_in_parallel_between_neighbours(ctx: WorkflowContext) -> None:
    journal = Journal()
    graph = ctx.graph()
    first, middle1, middle2, last = (graph.add_task(journal.task(n), name=n) for n in ("a", "b1", "b2", "c"))
    graph.sequence(first, [middle1, middle2], last)
    graph.execute()
    assert journal.order[0] == "a" and journal.order[3] == "c"


def test_subgraph_is_a_task_that_runs_its_own_tasks_in_order(ctx: WorkflowContext) -> None:
    journal = Journal()
    graph = ctx.graph()
    before = graph.add_task(journal.task("before"), name="before")
    deploy = graph.add_subgraph("deploy")
    inner1 = deploy.add_task(journal.task("inner1"), name="apply")
    inner2 = deploy.add_task(journal.task("inner2"), name="wait")
    deploy.add_dependency(inner2, inner1)
    after = graph.add_task(journal.task("after"), name="after")
    graph.sequence(before, deploy, after)
    graph.execute()
    assert journal.order == ["before", "inner1", "inner2", "after"]
    assert inner1.id == "deploy/apply"
    assert deploy.state is TaskState.SUCCEEDED


def test_task_results_are_kept_on_the_task(ctx: WorkflowContext) -> None:
    graph = ctx.graph()
    task = graph.add_task(lambda ctx, x: x * 2, {"x": 21}, name="double")
    graph.execute()
    assert task.result == 42


def test_a_dependency_cycle_is_refused_when_declared(ctx: WorkflowContext) -> None:
    graph = ctx.graph()
    a = graph.add_task(lambda ctx: None, name="a")
    b = graph.add_task(lambda ctx: None, name="b")
    graph.add_dependency(b, a)
    with pytest.raises(ValueError, match="cycle"):
        graph.add_dependency(a, b)


def test_a_dependency_on_a_task_of_another_graph_is_refused(ctx: WorkflowContext) -> None:
    first, second = ctx.graph(), ctx.graph()
    a = first.add_task(lambda ctx: None, name="a")
    b = second.add_task(lambda ctx: None, name="b")
    with pytest.raises(ValueError, match="does not belong"):
        second.add_dependency(b, a)


def test_duplicate_task_names_in_one_execution_are_refused(ctx: WorkflowContext) -> None:
    ctx.graph().add_task(lambda ctx: None, name="apply")
    with pytest.raises(ValueError, match="duplicate task id 'apply'"):
        ctx.graph().add_task(lambda ctx: None, name="apply")


def test_unnamed_tasks_get_ids_from_their_position(ctx: WorkflowContext) -> None:
    def step(ctx: Any) -> None:
        return None

    graph = ctx.graph()
    ids = [graph.add_task(step).id for _ in range(2)]
    assert ids == [f"0-{__name__}.{step.__qualname__}", f"1-{__name__}.{step.__qualname__}"]
    assert ctx.graph().add_task(step).id.startswith("graph2/0-")


def test_execute_task_runs_one_task_at_once_and_returns_its_result(ctx: WorkflowContext) -> None:
    assert ctx.execute_task(lambda ctx, word: word.upper(), {"word": "done"}) == "DONE"
