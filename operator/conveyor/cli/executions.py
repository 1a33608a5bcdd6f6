"""`conveyor executions ...`: start, list, get, cancel, resume, logs and wait for Executions.

What must hold:
- A request the operator would refuse as invalid (unknown deployment or workflow, bad parameters,
  `queue` with `force`/`dryRun`) is refused here first, with the operator's own words (the same
  functions produce them), and nothing is created. What the CLI cannot know (a rejection depends on
  what runs at the moment of admission) is left to the operator and reported from the status.
- Exit codes are a contract for scripts: 0 terminated (with --no-wait: admitted, started, queued or
  scheduled), 1 failed/rejected/invalid (the reason on stderr, word for word), 2 usage error,
  3 cancelled, 4 timed out waiting (the execution goes on).
- Waiting follows a watch on the one Execution and one on its Events, never polling.
- Queue positions are computed on demand, from creation order; nothing is written for them.

This module holds the click commands only; what they do lives beside it: `execution_request`
(parsing what the user typed), `precheck` (refusals before creating), `watches` and `following`
(waiting with progress, exit codes), `queue_positions`, `execution_logs`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import click

from conveyor.api.models import CancelMode, ExecutionPhase
from conveyor.api.names import ANNOTATION_RESUME, GROUP, VERSION
from conveyor.cli.context import EXIT_TIMEOUT, ClusterClient, cluster_options, fail, output_option
from conveyor.cli.execution_logs import follow_logs, logged_lines, worker_job_of, worker_pods
from conveyor.cli.execution_request import (
    build_execution,
    load_parameters,
    parse_parameter_pairs,
    parse_schedule,
)
from conveyor.cli.following import DEFAULT_DECISION_TIMEOUT, ended, final_exit, follow, run_execution
from conveyor.cli.precheck import queue_conflict
from conveyor.cli.queue_positions import queue_positions
from conveyor.cli.render import (
    age,
    is_final,
    operations_text,
    print_fields,
    print_objects,
    print_structured,
)
from conveyor.cli.watches import PLURAL, WaitTimedOut, watch_execution

# Re-exported for cli/dev.py, which imports them from here; their home is `watches`.


@click.group(name="executions")
def executions() -> None:
    """Start, follow and manage Executions."""


def _start_target(cluster: ClusterClient, deployment: str | None) -> str:
    return cluster.namespace if deployment else cluster.operator_namespace


@executions.command(name="start")
@click.argument("workflow")
@click.option("-d", "--deployment", default=None, help="The Deployment; left out: a system-wide workflow.")
@click.option("-p", "--parameter", "pairs", multiple=True, metavar="KEY=VALUE", help="A parameter (repeat).")
@click.option("--parameters", "parameters_text", default=None, metavar="FILE|JSON",
              help="Parameters from a JSON/YAML file or JSON text; -p wins on the same key.")
@click.option("--queue", is_flag=True, help="Wait in the queue if it cannot start now.")
@click.option("--force", is_flag=True, help="Run even if another execution of this deployment runs.")
@click.option("--dry-run", is_flag=True, help="Run the workflow but skip its operations.")
@click.option(
    "--allow-custom-parameters", is_flag=True, help="Accept parameters the workflow does not declare."
)
@click.option("--schedule", default=None, metavar="TIME", help="Start at TIME (RFC 3339, or +30s/+5m/+2h).")
@click.option("--no-wait", is_flag=True, help="Return once the execution is admitted, started or queued.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds to wait at most (exit code 4 after).")
@cluster_options
def start(
    cluster: ClusterClient,
    workflow: str,
    deployment: str | None,
    pairs: tuple[str, ...],
    parameters_text: str | None,
    queue: bool,
    force: bool,
    dry_run: bool,
    allow_custom_parameters: bool,
    schedule: str | None,
    no_wait: bool,
    timeout: float | None,
) -> None:
    """Start WORKFLOW of a deployment and, unless --no-wait, follow it to its end.

    Exit codes: 0 terminated (--no-wait: admitted or queued), 1 failed, rejected or invalid,
    2 usage error, 3 cancelled, 4 timed out waiting.
    """
    parameters = load_parameters(parameters_text) if parameters_text else {}
    parameters.update(parse_parameter_pairs(pairs))
    scheduled = parse_schedule(schedule, datetime.now(UTC)) if schedule else None
    conflict = queue_conflict(queue, force, dry_run)
    if conflict:
        fail(conflict)
    namespace = _start_target(cluster, deployment)
    manifest = build_execution(
        namespace,
        workflow,
        deployment,
        parameters,
        force=force,
        queue=queue,
        dry_run=dry_run,
        allow_custom_parameters=allow_custom_parameters,
        scheduled_time=scheduled,
    )
    run_execution(cluster, manifest, no_wait=no_wait, timeout=timeout)



@executions.command(name="wait")
@click.argument("name")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds to wait at most (exit code 4 after).")
@click.option("--quiet", "-q", is_flag=True, help="Do not show progress and events.")
@cluster_options
def wait(cluster: ClusterClient, name: str, timeout: float | None, quiet: bool) -> None:
    """Wait for execution NAME to end; the exit code says how it ended (see `start`)."""
    if quiet:
        try:
            deadline = None if timeout is None else time.monotonic() + timeout
            obj = watch_execution(cluster, cluster.namespace, name, ended, deadline)
        except WaitTimedOut as timed_out:
            phase = (timed_out.last.get("status") or {}).get("phase")
            fail(f"timed out after {timeout:g}s waiting for execution {name} (status: {phase})", EXIT_TIMEOUT)
        click.echo(f"{name} {obj['status']['phase']}")
    else:
        obj = follow(cluster, cluster.namespace, name, ended, timeout)
    final_exit(obj)


PHASE_CHOICES = click.Choice([phase.value for phase in ExecutionPhase])


def _row(obj: dict[str, Any], positions: dict[tuple[str, str], int], all_namespaces: bool) -> list[str]:
    meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    position = positions.get((meta["namespace"], meta["name"]))
    row = [meta["namespace"]] if all_namespaces else []
    row += [
        meta["name"],
        spec.get("deployment") or "(system-wide)",
        spec.get("workflow", ""),
        status.get("phase") or "-",
        str(position) if position else "-",
        operations_text(status),
        age(meta.get("creationTimestamp")),
    ]
    return row


@executions.command(name="list")
@click.option("-d", "--deployment", default=None, help="Only this deployment's executions.")
@click.option("-A", "--all-namespaces", is_flag=True, help="Executions of every namespace.")
@click.option("--status", "statuses", type=PHASE_CHOICES, multiple=True, help="Only these statuses (repeat).")
@output_option
@cluster_options
def list_(
    cluster: ClusterClient,
    deployment: str | None,
    all_namespaces: bool,
    statuses: tuple[str, ...],
    output: str,
) -> None:
    """List executions, oldest first; queued ones with their place in the queue."""
    namespace = None if all_namespaces else cluster.namespace
    everything = cluster.list_objects(PLURAL, namespace)
    positions = queue_positions(everything)  # over all of them: filters must not change places
    chosen = [
        obj
        for obj in everything
        if (deployment is None or (obj.get("spec") or {}).get("deployment") == deployment)
        and (not statuses or (obj.get("status") or {}).get("phase") in statuses)
    ]
    chosen.sort(key=lambda o: (o["metadata"].get("creationTimestamp") or "", o["metadata"]["name"]))
    headers = ["name", "deployment", "workflow", "status", "queue", "operations", "age"]
    print_objects(
        chosen, output, headers, lambda o: _row(o, positions, all_namespaces), namespace, "executions"
    )


def _get_or_fail(cluster: ClusterClient, namespace: str, name: str) -> dict[str, Any]:
    obj = cluster.get_object(PLURAL, namespace, name)
    if obj is None:
        fail(f"execution {name} not found in namespace {namespace}")
    return obj


@executions.command(name="get")
@click.argument("name")
@output_option
@cluster_options
def get(cluster: ClusterClient, name: str, output: str) -> None:
    """Show execution NAME: its request, status, progress and why it waits or failed."""
    obj = _get_or_fail(cluster, cluster.namespace, name)
    if output != "table":
        print_structured(obj, output)
        return
    meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    fields: list[tuple[str, str]] = [
        ("Name", meta["name"]),
        ("Namespace", meta["namespace"]),
        ("Deployment", spec.get("deployment") or "(system-wide)"),
        ("Workflow", spec.get("workflow", "")),
        ("Status", status.get("phase") or "(not decided yet)"),
    ]
    if status.get("phase") == ExecutionPhase.QUEUED:
        siblings = cluster.list_objects(PLURAL, meta["namespace"])
        position = queue_positions(siblings).get((meta["namespace"], meta["name"]))
        fields.append(("Queue position", str(position) if position else "-"))
    if status.get("waitingFor"):
        fields.append(("Waiting for", status["waitingFor"]))
    flags = [f for f in ("force", "queue", "dryRun", "allowCustomParameters") if spec.get(f)]
    if flags:
        fields.append(("Flags", ", ".join(flags)))
    if spec.get("scheduledTime"):
        fields.append(("Scheduled", spec["scheduledTime"]))
    if spec.get("cancel"):
        fields.append(("Cancel", spec["cancel"]))
    fields.append(("Parameters", json.dumps(spec.get("parameters") or {}, sort_keys=True)))
    fields.append(("Operations", operations_text(status)))
    for label, key in (("Created", "createdAt"), ("Started", "startedAt"), ("Ended", "endedAt")):
        if status.get(key):
            fields.append((label, status[key]))
    for label, key in (("Worker", "worker"), ("Attempt", "attempt"), ("Error", "error")):
        if status.get(key):
            fields.append((label, str(status[key])))
    for condition in status.get("conditions") or []:
        said = f"{condition.get('status')} ({condition.get('reason')}) {condition.get('message') or ''}"
        fields.append((f"Condition {condition.get('type')}", said.rstrip()))
    print_fields(fields)


_CANCEL_ORDER = [CancelMode.GRACEFUL, CancelMode.FORCE, CancelMode.KILL]


@executions.command(name="cancel")
@click.argument("name")
@click.option("--force", "mode", flag_value=CancelMode.FORCE.value, help="Cancel the running tasks too.")
@click.option("--kill", "mode", flag_value=CancelMode.KILL.value, help="Stop the worker pod at once.")
@cluster_options
def cancel(cluster: ClusterClient, name: str, mode: str | None) -> None:
    """Ask for execution NAME to be cancelled (graceful unless --force or --kill).

    A queued or scheduled execution ends `cancelled` at once; a running one when its worker stops it.
    """
    wanted = CancelMode(mode or CancelMode.GRACEFUL.value)
    namespace = cluster.namespace
    obj = _get_or_fail(cluster, namespace, name)
    phase = (obj.get("status") or {}).get("phase")
    if is_final(phase):
        fail(f"execution {name} is already {phase}: there is nothing to cancel")
    current = (obj.get("spec") or {}).get("cancel")
    if current and _CANCEL_ORDER.index(CancelMode(current)) > _CANCEL_ORDER.index(wanted):
        fail(f"execution {name} is already being cancelled with {current}; a cancellation can only be "
             f"escalated (graceful, then force, then kill)")
    cluster.custom.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, name, {"spec": {"cancel": wanted.value}}
    )
    click.echo(f"{name} cancel requested ({wanted.value})")


RESUMABLE_PHASES = frozenset({ExecutionPhase.FAILED.value, ExecutionPhase.CANCELLED.value})


@executions.command(name="resume")
@click.argument("name")
@click.option("--no-wait", is_flag=True, help="Return once the operator has taken the request.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds to wait at most (exit code 4 after).")
@cluster_options
def resume(cluster: ClusterClient, name: str, no_wait: bool, timeout: float | None) -> None:
    """Run a failed or cancelled execution NAME again, skipping the tasks that already succeeded
    (its workflow must be declared resumable)."""
    namespace = cluster.namespace
    obj = _get_or_fail(cluster, namespace, name)
    phase = (obj.get("status") or {}).get("phase")
    if phase not in RESUMABLE_PHASES:
        fail(
            f"execution {name} is {phase or 'not decided yet'}: only a failed or cancelled execution "
            "can be resumed"
        )
    token = uuid.uuid4().hex[:12]
    cluster.custom.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, name, {"metadata": {"annotations": {ANNOTATION_RESUME: token}}}
    )
    click.echo(f"{name} resume requested (token {token})")

    def taken(o: Mapping[str, Any]) -> bool:
        return (o.get("status") or {}).get("resumeToken") == token

    if no_wait:
        limit = timeout if timeout is not None else DEFAULT_DECISION_TIMEOUT
        try:
            obj = watch_execution(cluster, namespace, name, taken, time.monotonic() + limit)
        except WaitTimedOut:
            fail(f"the operator has not taken the resume of {name} within {limit:g}s", EXIT_TIMEOUT)
        click.echo(f"{name} {(obj.get('status') or {}).get('phase')}")
        return
    obj = follow(cluster, namespace, name, lambda o: taken(o) and ended(o), timeout)
    final_exit(obj)


@executions.command(name="logs")
@click.argument("name")
@click.option("-f", "--follow", "follow_", is_flag=True, help="Stream new lines until the execution ends.")
@cluster_options
def logs(cluster: ClusterClient, name: str, follow_: bool) -> None:
    """Print the worker's log lines of execution NAME."""
    namespace = cluster.namespace
    obj = _get_or_fail(cluster, namespace, name)
    job = worker_job_of(obj)
    pods = worker_pods(cluster, namespace, job)
    if not follow_:
        if not pods:
            fail(f"no worker pod of job {job} in namespace {namespace} (it ends after being idle; "
                 "its logs go with it)")
        for line in logged_lines(cluster, namespace, name, pods):
            click.echo(line)
        return
    if ended(obj):
        for line in logged_lines(cluster, namespace, name, pods):
            click.echo(line)
        return
    follow_logs(cluster, namespace, name, job)

