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
- Queue positions are computed here, on demand, from creation order; nothing is written for them.
"""

from __future__ import annotations

import json
import math
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import click
import urllib3
import yaml
from kubernetes.client.rest import ApiException
from kubernetes.watch.watch import iter_resp_lines

from conveyor.admission import messages
from conveyor.api.config import InvalidConfig, OperatorConfig, parse_operator_config
from conveyor.api.models import CancelMode, ExecutionPhase
from conveyor.api.names import (
    ANNOTATION_RESUME,
    CONFIG_MAP_NAME,
    EXECUTION,
    GROUP,
    SYSTEM_WORKER_JOB_NAME,
    VERSION,
    worker_job_name,
)
from conveyor.cli.context import (
    EXIT_CANCELLED,
    EXIT_FAILED,
    EXIT_TIMEOUT,
    ClusterClient,
    cluster_options,
    fail,
    output_option,
)
from conveyor.cli.render import (
    age,
    as_list,
    is_final,
    operations_text,
    print_fields,
    print_structured,
    print_table,
    progress_view,
)
from conveyor.controller.requests import BUILTIN_SYSTEM_WORKFLOWS, created_at, invalid_reason, to_request
from conveyor.kube.times import parse_time, seconds

PLURAL = EXECUTION.plural
DEFAULT_DECISION_TIMEOUT = 30.0
"""--no-wait: how long to wait for the operator's first decision when --timeout is not given."""
WATCH_CHUNK_SECONDS = 30
"""A watch request is renewed this often, so a deadline is checked and a dead connection noticed."""
WATCH_CONNECT_SECONDS = 10
EVENT_WATCH_SECONDS = 5
STOP_JOIN_SECONDS = 5.0
LOG_RETRY_SECONDS = 0.5
"""The Events watch is renewed this often; a stopped feed's thread ends within it."""

# --------------------------------------------------------------------------------------------------
# Parameters and schedule: pure parsing of what the user typed


def parse_parameter_pairs(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """`-p key=value` pairs. Values stay strings: the operator converts them to the declared type
    ("42" to an integer, "true" to a boolean, a JSON array to a list), so one spelling fits any type."""
    parsed: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{pair!r} is not key=value", param_hint="'-p' / '--parameter'")
        parsed[key.strip()] = value
    return parsed


def load_parameters(text: str) -> dict[str, Any]:
    """`--parameters`: a JSON or YAML file's path, or JSON/YAML text; it must hold a mapping."""
    path = Path(text)
    source = "file " + text
    try:
        if path.is_file():
            content = path.read_text()
        else:
            content, source = text, "the value"
    except OSError as error:
        raise click.BadParameter(f"cannot read {text}: {error}", param_hint="'--parameters'") from None
    try:
        loaded = yaml.safe_load(content)  # YAML is a superset of JSON
    except yaml.YAMLError as error:
        raise click.BadParameter(
            f"{source} is neither a readable file nor JSON/YAML: {error}", param_hint="'--parameters'"
        ) from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise click.BadParameter(
            f"{source} must be a mapping of parameter names to values, not {type(loaded).__name__}",
            param_hint="'--parameters'",
        )
    return {str(key): value for key, value in loaded.items()}


_RELATIVE = re.compile(r"^\+(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_schedule(text: str, now: datetime) -> datetime:
    """`--schedule`: RFC 3339 / ISO 8601 (no zone: local time), or relative, `+30s`, `+5m`, `+2h`, `+1d`."""
    relative = _RELATIVE.match(text.strip())
    if relative:
        return now + timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a time (RFC 3339, e.g. 2030-01-01T10:00:00Z, or +30s/+5m/+2h/+1d)",
            param_hint="'--schedule'",
        ) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # a bare time means the user's local time
    return moment.astimezone(UTC)


def generate_name(workflow: str) -> str:
    """A DNS-1123 prefix from a workflow name (`create_snapshot` → `create-snapshot-`)."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", workflow.lower()).strip("-")[:50] or "execution"
    return f"{cleaned}-"


def build_execution(
    namespace: str,
    workflow: str,
    deployment: str | None,
    parameters: Mapping[str, Any],
    *,
    force: bool = False,
    queue: bool = False,
    dry_run: bool = False,
    allow_custom_parameters: bool = False,
    scheduled_time: datetime | None = None,
) -> dict[str, Any]:
    """The Execution to create; flags left at their defaults are left out, as a user would write it."""
    spec: dict[str, Any] = {"workflow": workflow}
    if deployment is not None:
        spec["deployment"] = deployment
    if parameters:
        spec["parameters"] = dict(parameters)
    for field, on in (
        ("force", force),
        ("queue", queue),
        ("dryRun", dry_run),
        ("allowCustomParameters", allow_custom_parameters),
    ):
        if on:
            spec[field] = True
    if scheduled_time is not None:
        spec["scheduledTime"] = seconds(scheduled_time)
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": EXECUTION.kind,
        "metadata": {"generateName": generate_name(workflow), "namespace": namespace},
        "spec": spec,
    }


# --------------------------------------------------------------------------------------------------
# Validation before anything is created


def queue_conflict(queue: bool, force: bool, dry_run: bool) -> str | None:
    """The operator's refusal of `queue` with `force`/`dryRun`, or None."""
    flags = [flag for flag, on in (("force", force), ("dryRun", dry_run)) if on]
    return messages.queue_combined_with(flags) if queue and flags else None


def read_operator_config(cluster: ClusterClient) -> OperatorConfig | None:
    """The operator's configuration as the operator reads it; None when the CLI may not read it
    (then it cannot tell which system-wide workflows exist, and leaves the check to the operator)."""
    try:
        config_map = cluster.core.read_namespaced_config_map(CONFIG_MAP_NAME, cluster.operator_namespace)
    except ApiException as error:
        if error.status == 404:
            return OperatorConfig()
        return None
    try:
        return parse_operator_config(config_map.data)
    except InvalidConfig:
        return None


def precheck(cluster: ClusterClient, manifest: dict[str, Any]) -> str | None:
    """Why the operator would refuse `manifest` as invalid, when the CLI can tell; else None."""
    spec = manifest["spec"]
    conflict = queue_conflict(bool(spec.get("queue")), bool(spec.get("force")), bool(spec.get("dryRun")))
    if conflict:
        return conflict
    namespace = manifest["metadata"]["namespace"]
    deployment_name = spec.get("deployment")
    deployment: dict[str, Any] | None = None
    config = OperatorConfig()
    if deployment_name is None:
        if spec["workflow"] not in BUILTIN_SYSTEM_WORKFLOWS:
            loaded = read_operator_config(cluster)
            if loaded is None:
                return None
            config = loaded
    else:
        try:
            deployment = cluster.get_object("deployments", namespace, deployment_name)
        except ApiException:
            return None  # not allowed to read it: the operator decides
    scheduled = parse_time(spec.get("scheduledTime"))
    now = datetime.now(UTC)
    if scheduled is not None and scheduled < now - timedelta(seconds=1):
        return messages.scheduled_in_past(scheduled, now.replace(microsecond=0))
    obj = {**manifest, "metadata": {**manifest["metadata"], "name": manifest["metadata"]["generateName"]}}
    return invalid_reason(obj, deployment, cluster.operator_namespace, config)


# --------------------------------------------------------------------------------------------------
# Following an execution: a watch on the object, a watch on its Events


def interrupt(response: Any) -> None:
    """Wake a thread blocked reading `response`, from another thread.

    Closing a TLS stream that another thread reads blocks until that read returns, and a daemon
    thread still inside a TLS read when the interpreter exits can abort it (SIGABRT). Shutting the
    socket down under the TLS layer ends the read at once with an error, which that thread expects.
    """
    connection = getattr(response, "connection", None)
    sock = getattr(connection, "sock", None)
    if sock is None:
        return
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


def watch_lines(response: Any) -> Iterator[dict[str, Any]]:
    """The events of a watch response (`_preload_content=False`), decoded."""
    for line in iter_resp_lines(response):
        if line:
            yield json.loads(line)


class EventFeed:
    """A thread that hands the Events of one Execution to `show`, each once, as they come."""

    def __init__(
        self, cluster: ClusterClient, namespace: str, name: str, show: Callable[[dict[str, Any]], None]
    ) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.name = name
        self.show = show
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._response: Any = None  # the watch being read, guarded by _lock
        self._thread = threading.Thread(target=self._run, name=f"events-{name}", daemon=True)

    def _selector(self) -> str:
        return f"involvedObject.name={self.name}"

    def _hand(self, events: list[dict[str, Any]]) -> None:
        """From the feed's thread: show what is new, unless stopped (checked under the lock, so
        nothing is written once `stop` returns: a daemon thread writing while the interpreter
        exits aborts it)."""
        with self._lock:
            if not self._stopped.is_set():
                self._show_new(events)

    def _show_new(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            meta = event.get("metadata") or {}
            uid = meta.get("uid") or meta.get("name") or ""
            involved = event.get("involvedObject") or {}
            if uid in self._seen or involved.get("kind") not in (None, EXECUTION.kind):
                continue
            self._seen.add(uid)
            self.show(event)

    def _list(self) -> tuple[list[dict[str, Any]], str]:
        listed = self.cluster.core.list_namespaced_event(
            self.namespace, field_selector=self._selector(), _preload_content=False
        )
        body = json.loads(cast(Any, listed).data)
        items = sorted(body.get("items") or [], key=_event_time)
        return items, str((body.get("metadata") or {}).get("resourceVersion") or "")

    def _run(self) -> None:
        try:
            items, version = self._list()
            self._hand(items)
            while not self._stopped.is_set():
                response = self.cluster.core.list_namespaced_event(
                    self.namespace,
                    field_selector=self._selector(),
                    resource_version=version,
                    watch=True,
                    timeout_seconds=EVENT_WATCH_SECONDS,
                    _preload_content=False,
                    _request_timeout=EVENT_WATCH_SECONDS + 15,
                )
                with self._lock:
                    if self._stopped.is_set():
                        interrupt(response)
                        return
                    self._response = response
                for change in watch_lines(response):
                    obj = change.get("object") or {}
                    if change.get("type") == "ERROR":
                        items, version = self._list()  # expired: catch up from a fresh list
                        self._hand(items)
                        break
                    version = (obj.get("metadata") or {}).get("resourceVersion") or version
                    if change.get("type") == "ADDED":
                        self._hand([obj])
        except Exception:  # events are a courtesy: the wait goes on without them
            return

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Show the Events posted up to now that the watch has not delivered yet, then stop the
        thread (see `interrupt`)."""
        try:
            items, _ = self._list()
        except Exception:
            items = []
        with self._lock:
            self._show_new(items)
            self._stopped.set()
            if self._response is not None:
                interrupt(self._response)
        self._thread.join(STOP_JOIN_SECONDS)


def _event_time(event: Mapping[str, Any]) -> tuple[str, str]:
    """Time, then name: Events of one second keep the order their (time-based) names give."""
    meta = event.get("metadata") or {}
    moment = (
        event.get("eventTime") or event.get("lastTimestamp") or event.get("firstTimestamp")
        or meta.get("creationTimestamp") or ""
    )
    return str(moment), str(meta.get("name") or "")


class WaitTimedOut(Exception):
    def __init__(self, last: dict[str, Any]) -> None:
        super().__init__("timed out")
        self.last = last


def watch_execution(
    cluster: ClusterClient,
    namespace: str,
    name: str,
    until: Callable[[dict[str, Any]], bool],
    deadline: float | None,
    on_change: Callable[[dict[str, Any]], None] = lambda obj: None,
) -> dict[str, Any]:
    """The Execution as soon as `until(it)` holds, following a watch from the version read first.

    Raises WaitTimedOut at `deadline` (time.monotonic()), and fails if the object goes away."""
    obj = cluster.get_object(PLURAL, namespace, name)
    if obj is None:
        fail(f"execution {name} not found in namespace {namespace}")
    on_change(obj)
    while not until(obj):
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            raise WaitTimedOut(obj)
        chunk = WATCH_CHUNK_SECONDS
        if remaining is not None:
            chunk = max(1, min(WATCH_CHUNK_SECONDS, math.ceil(remaining)))
        # The read timeout ends a quiet watch at the deadline; the server ends it after `chunk`.
        read_timeout = chunk + 15 if remaining is None else remaining
        try:
            response: Any = cluster.custom.list_namespaced_custom_object(
                GROUP,
                VERSION,
                namespace,
                PLURAL,
                field_selector=f"metadata.name={name}",
                resource_version=obj["metadata"]["resourceVersion"],
                watch=True,
                timeout_seconds=chunk,
                _preload_content=False,
                _request_timeout=(WATCH_CONNECT_SECONDS, read_timeout),
            )
        except urllib3.exceptions.ReadTimeoutError:
            continue  # the deadline came before the server answered: checked at the top
        try:
            for change in watch_lines(response):
                kind = change.get("type")
                if kind == "ERROR":  # e.g. 410 Gone: read the object again and watch from there
                    fresh = cluster.get_object(PLURAL, namespace, name)
                    if fresh is None:
                        fail(f"execution {name} was deleted")
                    obj = fresh
                    on_change(obj)
                    break
                if kind == "DELETED":
                    fail(f"execution {name} was deleted")
                if kind in ("ADDED", "MODIFIED"):
                    obj = change["object"]
                    on_change(obj)
                    if until(obj) or (deadline is not None and time.monotonic() >= deadline):
                        break
        except (urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.ProtocolError):
            pass  # the deadline came while the watch was quiet: checked at the top
        finally:
            response.close()
    return obj


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


# --------------------------------------------------------------------------------------------------
# Queue positions, on demand


def queue_positions(objects: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """1-based places of the queued executions in the lines admission dequeues them from.

    The lines are those of `conveyor.admission.policy` (AdmissionPolicy._line_of): each deployment's
    non-forced executions, the system-wide ones, the forced ones (from a schedule); in each, creation
    order as the operator computes it (`status.createdAt`, else the object's creation time).
    """
    lines: dict[tuple[str, ...], list[tuple[Any, tuple[str, str]]]] = {}
    for obj in objects:
        if (obj.get("status") or {}).get("phase") != ExecutionPhase.QUEUED:
            continue
        observed = parse_time(obj["metadata"].get("creationTimestamp")) or datetime.now(UTC)
        request = to_request(obj, created_at(obj, observed))
        if request.deployment is None:
            line: tuple[str, ...] = ("system-wide",)
        elif request.force:
            line = ("forced",)
        else:
            line = ("deployment", request.deployment.namespace, request.deployment.name)
        lines.setdefault(line, []).append((request.order, (request.key.namespace, request.key.name)))
    positions: dict[tuple[str, str], int] = {}
    for members in lines.values():
        for place, (_, key) in enumerate(sorted(members), start=1):
            positions[key] = place
    return positions


# --------------------------------------------------------------------------------------------------
# Commands


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
        obj = _await_decision(cluster, namespace, name, timeout)
        click.echo(f"{name} {obj['status']['phase']}")
    else:
        obj = follow(cluster, namespace, name, ended, timeout)
    final_exit(obj)
    return name


def _await_decision(
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
    if output != "table":
        print_structured(as_list(chosen), output)
        return
    headers = (["namespace"] if all_namespaces else []) + [
        "name", "deployment", "workflow", "status", "queue", "operations", "age",
    ]
    where = "any namespace" if all_namespaces else f"namespace {namespace}"
    rows = [_row(o, positions, all_namespaces) for o in chosen]
    print_table(headers, rows, f"No executions found in {where}.")




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


# ----- logs ---------------------------------------------------------------------------------------


def worker_job_of(obj: Mapping[str, Any]) -> str:
    deployment = (obj.get("spec") or {}).get("deployment")
    return worker_job_name(deployment) if deployment else SYSTEM_WORKER_JOB_NAME


def execution_lines(text: str, name: str) -> list[str]:
    """The lines of a worker's log that belong to execution `name`, without their `[name] ` prefix."""
    prefix = f"[{name}] "
    return [line[len(prefix):] for line in text.splitlines() if line.startswith(prefix)]


def _worker_pods(cluster: ClusterClient, namespace: str, job: str) -> list[Any]:
    pods = cluster.core.list_namespaced_pod(namespace, label_selector=f"job-name={job}").items
    return sorted(pods, key=lambda p: (p.metadata.creation_timestamp or datetime.min.replace(tzinfo=UTC),
                                       p.metadata.name))


@executions.command(name="logs")
@click.argument("name")
@click.option("-f", "--follow", "follow_", is_flag=True, help="Stream new lines until the execution ends.")
@cluster_options
def logs(cluster: ClusterClient, name: str, follow_: bool) -> None:
    """Print the worker's log lines of execution NAME."""
    namespace = cluster.namespace
    obj = _get_or_fail(cluster, namespace, name)
    job = worker_job_of(obj)
    pods = _worker_pods(cluster, namespace, job)
    if not follow_:
        if not pods:
            fail(f"no worker pod of job {job} in namespace {namespace} (it ends after being idle; "
                 "its logs go with it)")
        for line in _logged_lines(cluster, namespace, name, pods):
            click.echo(line)
        return
    if ended(obj):
        for line in _logged_lines(cluster, namespace, name, pods):
            click.echo(line)
        return
    _follow_logs(cluster, namespace, name, job)


def _logged_lines(cluster: ClusterClient, namespace: str, name: str, pods: list[Any]) -> Iterator[str]:
    for pod in pods:
        try:
            text = cluster.core.read_namespaced_pod_log(pod.metadata.name, namespace)
        except ApiException as error:
            if error.status in (400, 404):  # not started yet, or gone
                continue
            raise
        yield from execution_lines(text, name)


def _follow_logs(cluster: ClusterClient, namespace: str, name: str, job: str) -> None:
    """Stream the newest worker pod's log (waiting for one to appear) until the execution ends."""
    done = threading.Event()
    printing = threading.Lock()  # nothing is written once `done` is set under it (see EventFeed)
    reading: list[Any] = []
    prefix = f"[{name}] "

    def stream() -> None:
        finished_pods: set[str] = set()  # read to their end: a newer pod took over
        while not done.is_set():
            try:
                pods = _worker_pods(cluster, namespace, job)
                running = [
                    p for p in pods
                    if p.metadata.name not in finished_pods and (p.status.phase or "") not in ("Pending", "")
                ]
                if not running:
                    done.wait(LOG_RETRY_SECONDS)  # a pod's log cannot be followed before it runs
                    continue
                pod = running[-1].metadata.name
                response = cluster.core.read_namespaced_pod_log(
                    pod, namespace, follow=True, _preload_content=False
                )
                with printing:
                    if done.is_set():
                        interrupt(response)
                        return
                    reading.append(response)
                for line in iter_resp_lines(response):
                    with printing:
                        if done.is_set():
                            return
                        if line.startswith(prefix):
                            click.echo(line[len(prefix):])
                finished_pods.add(pod)
            except Exception:  # not started yet, gone, or interrupted: look again
                done.wait(LOG_RETRY_SECONDS)

    streamer = threading.Thread(target=stream, name=f"logs-{name}", daemon=True)
    streamer.start()
    try:
        watch_execution(cluster, namespace, name, ended, None)
    finally:
        with printing:
            done.set()
            for response in reading:
                interrupt(response)
        streamer.join(STOP_JOIN_SECONDS)
