"""`conveyor snapshots create|list|restore`: save and restore every Conveyor object.

A snapshot is taken and restored by the built-in system-wide workflows `create_snapshot` and
`restore_snapshot` (conveyor.workflows.snapshots), so it goes through admission like any
system-wide execution: it runs alone, and `--queue` waits for the running executions to end instead
of being rejected. The commands go to the operator's namespace without the user naming it. A
snapshot is the set of ConfigMaps labelled `conveyor.dev/snapshot=<name>` there; the one named
`conveyor-snapshot-<name>` carries its index (written last, so an index means a complete snapshot).
"""

from __future__ import annotations

import json
from typing import Any

import click

from conveyor.cli.context import ClusterClient, cluster_options, fail, output_option
from conveyor.cli.execution_request import build_execution
from conveyor.cli.following import run_execution
from conveyor.cli.render import age, as_list, print_structured, print_table


def snapshot_indexes(config_maps: list[Any]) -> list[tuple[Any, dict[str, Any]]]:
    """The ConfigMaps that carry a snapshot's index, with the index; parts without one are skipped."""
    from conveyor.workflows.snapshots import INDEX_KEY  # with the kube client: on use, see context.py

    found = []
    for config_map in config_maps:
        raw = (config_map.data or {}).get(INDEX_KEY)
        if raw is None:
            continue
        try:
            index = json.loads(raw)
        except ValueError:
            index = {}
        found.append((config_map, index if isinstance(index, dict) else {}))
    return found


def _kept_snapshots(cluster: ClusterClient, namespace: str) -> list[tuple[str, Any, dict[str, Any]]]:
    """(name, ConfigMap, index) of the snapshots kept in `namespace`; an index without a name is
    named after its ConfigMap."""
    from conveyor.workflows.snapshots import CONFIG_MAP_PREFIX, LABEL_SNAPSHOT

    listed = cluster.core.list_namespaced_config_map(namespace, label_selector=LABEL_SNAPSHOT)
    return [(index.get("name") or config_map.metadata.name.removeprefix(CONFIG_MAP_PREFIX), config_map, index)
            for config_map, index in snapshot_indexes(listed.items)]


@click.group(name="snapshots")
def snapshots() -> None:
    """Save every Conveyor Deployment and final Execution, and restore them."""


_WAIT_OPTIONS = [
    click.option("--queue", is_flag=True, help="Wait for running executions to end instead of failing."),
    click.option("--no-wait", is_flag=True, help="Return once the execution is admitted or queued."),
    click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
                 help="Seconds to wait at most (exit code 4 after)."),
]


def _wait_options(command: Any) -> Any:
    for option in reversed(_WAIT_OPTIONS):
        command = option(command)
    return command


@snapshots.command(name="create")
@click.option("--name", default=None, help="Snapshot name (default: the execution's name).")
@click.option("--namespace-only", "namespaces", multiple=True,
              help="Only this namespace's objects (repeat; default: every namespace).")
@_wait_options
@cluster_options
def create(
    cluster: ClusterClient,
    name: str | None,
    namespaces: tuple[str, ...],
    queue: bool,
    no_wait: bool,
    timeout: float | None,
) -> None:
    """Take a snapshot (a system-wide `create_snapshot` execution in the operator's namespace)."""
    parameters: dict[str, Any] = {}
    if name:
        parameters["name"] = name
    if namespaces:
        parameters["namespaces"] = list(namespaces)
    manifest = build_execution(cluster.operator_namespace, "create_snapshot", None, parameters, queue=queue)
    run_execution(cluster, manifest, no_wait=no_wait, timeout=timeout)


@snapshots.command(name="list")
@output_option
@cluster_options
def list_(cluster: ClusterClient, output: str) -> None:
    """List the snapshots kept in the operator's namespace."""
    namespace = cluster.operator_namespace
    found = _kept_snapshots(cluster, namespace)
    found.sort(key=lambda item: (item[2].get("createdAt") or "", item[1].metadata.name))
    if output != "table":
        listing = [{"configMap": cm.metadata.name, **index} for _, cm, index in found]
        print_structured(as_list(listing), output)
        return
    rows = []
    for name, _, index in found:
        counts = index.get("counts") or {}
        rows.append([
            name,
            str(counts.get("deployments", "?")),
            str(counts.get("executions", "?")),
            str(index.get("parts", "?")),
            index.get("createdAt") or "-",
            age(index.get("createdAt")),
        ])
    print_table(
        ["name", "deployments", "executions", "parts", "created", "age"], rows,
        f"No snapshots found in namespace {namespace}.",
    )


@snapshots.command(name="restore")
@click.argument("name")
@click.option("--no-create-namespaces", is_flag=True, help="Do not create missing namespaces.")
@_wait_options
@cluster_options
def restore(
    cluster: ClusterClient,
    name: str,
    no_create_namespaces: bool,
    queue: bool,
    no_wait: bool,
    timeout: float | None,
) -> None:
    """Recreate what is missing from snapshot NAME (a system-wide `restore_snapshot` execution)."""
    names = {kept for kept, _, _ in _kept_snapshots(cluster, cluster.operator_namespace)}
    if name not in names:
        fail(f"snapshot {name} not found in namespace {cluster.operator_namespace} "
             f"(found: {', '.join(sorted(names)) or 'none'})")
    parameters: dict[str, Any] = {"snapshot": name}
    if no_create_namespaces:
        parameters["create_namespaces"] = False
    manifest = build_execution(cluster.operator_namespace, "restore_snapshot", None, parameters, queue=queue)
    run_execution(cluster, manifest, no_wait=no_wait, timeout=timeout)
