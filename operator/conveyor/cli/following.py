"""Waiting for an Execution with its progress on screen, and the exit code its outcome gives.

Exit codes are a contract for scripts: 0 terminated (with --no-wait: admitted, started, queued or
scheduled), 1 failed/rejected/invalid (the reason on stderr, word for word), 3 cancelled, 4 timed
out waiting (the execution goes on).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import click

from conveyor.api.models import ExecutionPhase
from conveyor.api.names import GROUP, VERSION
from conveyor.cli.context import EXIT_CANCELLED, EXIT_FAILED, EXIT_TIMEOUT, ClusterClient, fail
from conveyor.cli.precheck import precheck
from conveyor.cli.render import is_final, progress_view
from conveyor.cli.watches import PLURAL, EventFeed, WaitTimedOut, watch_execution

DEFAULT_DECISION_TIMEOUT = 30.0
"""--no-wait: how long to wait for the operator's first decision when --timeout is not given."""


def follow(
    cluster: ClusterClient,
    namespace: str,
    name: str,
    until: Callable[[dict[str, Any]], bool],
    timeout: float | None,
    show_events: bool = True,
) -> dict[str, Any]:
    """Show the execution's progress (status, operations, Events) until `until` holds; exit 4 at
    the timeout (the execution itself goes on)."""
    view = progress_view(name)
    lock = threading.Lock()

    def changed(obj: dict[str, Any]) -> None:
        with lock:
            view.update(obj)

    def event(ev: dict[str, Any]) -> None:
        with lock:
            view.event(ev)

    feed = EventFeed(cluster, namespace, name, event) if show_events else None
    if feed is not None:
        feed.start()
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        return watch_execution(cluster, namespace, name, until, deadline, changed)
    except WaitTimedOut as timed_out:
        phase = (timed_out.last.get("status") or {}).get("phase") or "not yet decided"
        if feed is not None:
            feed.stop()
            feed = None
        with lock:
            view.close()
        fail(
            f"timed out after {timeout:g}s waiting for execution {name} (status: {phase}); it goes on: "
            f"conveyor executions wait {name} -n {namespace}",
            EXIT_TIMEOUT,
        )
    finally:
        if feed is not None:
            feed.stop()
        with lock:
            view.close()


def final_exit(obj: dict[str, Any]) -> None:
    """Print the outcome; exit 1 failed (its reason on stderr, as the operator wrote it), 3 cancelled."""
    name = obj["metadata"]["name"]
    status = obj.get("status") or {}
    phase = status.get("phase")
    if phase == ExecutionPhase.FAILED:
        reason = status.get("error") or _condition_message(status) or "failed"
        fail(reason, EXIT_FAILED)
    if phase == ExecutionPhase.CANCELLED:
        fail(f"execution {name} was cancelled", EXIT_CANCELLED)


def _condition_message(status: Mapping[str, Any]) -> str | None:
    for condition in status.get("conditions") or []:
        if condition.get("status") == "False" and condition.get("message"):
            return str(condition["message"])
    return None


def decided(obj: Mapping[str, Any]) -> bool:
    """The operator has said something: any phase at all."""
    return bool((obj.get("status") or {}).get("phase"))


def ended(obj: Mapping[str, Any]) -> bool:
    return is_final((obj.get("status") or {}).get("phase"))


def run_execution(
    cluster: ClusterClient, manifest: dict[str, Any], *, no_wait: bool, timeout: float | None
) -> str:
    """Check, create and (unless `no_wait`) follow an Execution to its end; exits as `start` says.

    Returns its name when it did not fail (terminated, or with `no_wait` decided and not failed)."""
    refusal = precheck(cluster, manifest)
    if refusal:
        fail(refusal)
    namespace = manifest["metadata"]["namespace"]
    created: Any = cluster.custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, manifest)
    name: str = created["metadata"]["name"]
    if no_wait:
        obj = await_decision(cluster, namespace, name, timeout)
        click.echo(f"{name} {obj['status']['phase']}")
    else:
        obj = follow(cluster, namespace, name, ended, timeout)
    final_exit(obj)
    return name


def await_decision(
    cluster: ClusterClient, namespace: str, name: str, timeout: float | None
) -> dict[str, Any]:
    limit = timeout if timeout is not None else DEFAULT_DECISION_TIMEOUT
    try:
        return watch_execution(cluster, namespace, name, decided, time.monotonic() + limit)
    except WaitTimedOut:
        fail(
            f"execution {name} was created but the operator has not decided on it within {limit:g}s: "
            f"is the operator running (watching namespace {namespace})?",
            EXIT_TIMEOUT,
        )

