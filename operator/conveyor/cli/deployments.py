"""`conveyor deployments list|get|create|delete`: Conveyor Deployments (`cvd`), not apps/v1 ones.

`create -f FILE` checks every document against the API models before creating anything, so a typo
in a workflow mapping or a parameter type is reported with its path in the file, and a file with one
bad document creates nothing.
"""

from __future__ import annotations

import sys
from typing import Any

import click
from pydantic import ValidationError

from conveyor.api.models import Deployment
from conveyor.api.names import API_VERSION, DEPLOYMENT, GROUP, VERSION
from conveyor.cli.context import ClusterClient, cluster_options, fail, output_option
from conveyor.cli.render import age, print_fields, print_objects, print_structured

PLURAL = DEPLOYMENT.plural
RESOURCE = f"{DEPLOYMENT.singular}.{GROUP}"


@click.group(name="deployments")
def deployments() -> None:
    """Create, show and delete Conveyor Deployments."""


def _row(obj: dict[str, Any], all_namespaces: bool) -> list[str]:
    meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    row = [meta["namespace"]] if all_namespaces else []
    row += [
        meta["name"],
        ",".join(sorted(spec.get("workflows") or {})) or "-",
        status.get("phase") or "-",
        str(status.get("running") or 0),
        str(status.get("queued") or 0),
        status.get("worker") or "-",
        age(meta.get("creationTimestamp")),
    ]
    return row


@deployments.command(name="list")
@click.option("-A", "--all-namespaces", is_flag=True, help="Deployments of every namespace.")
@output_option
@cluster_options
def list_(cluster: ClusterClient, all_namespaces: bool, output: str) -> None:
    """List Deployments with their workflows, running and queued executions."""
    namespace = None if all_namespaces else cluster.namespace
    items = cluster.list_objects(PLURAL, namespace)
    items.sort(key=lambda o: (o["metadata"]["namespace"], o["metadata"]["name"]))
    headers = ["name", "workflows", "phase", "running", "queued", "worker", "age"]
    print_objects(items, output, headers, lambda o: _row(o, all_namespaces), namespace, "deployments")


@deployments.command(name="get")
@click.argument("name")
@output_option
@cluster_options
def get(cluster: ClusterClient, name: str, output: str) -> None:
    """Show Deployment NAME: its workflows, inputs, source, worker and status."""
    import yaml  # on first use, as the client: `--help` does without both (see context.py)

    obj = cluster.get_object(PLURAL, cluster.namespace, name)
    if obj is None:
        fail(f"deployment {name} not found in namespace {cluster.namespace}")
    if output != "table":
        print_structured(obj, output)
        return
    meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    source = (spec.get("source") or {}).get("configMap")
    fields = [
        ("Name", meta["name"]),
        ("Namespace", meta["namespace"]),
        ("Phase", status.get("phase") or "-"),
        ("Workflows", ", ".join(sorted(spec.get("workflows") or {})) or "-"),
        ("Source", f"configMap {source}" if source else "the worker image"),
        ("Inputs", yaml.safe_dump(spec.get("inputs") or {}, sort_keys=True).strip()),
        ("Running", str(status.get("running") or 0)),
        ("Queued", str(status.get("queued") or 0)),
        ("Worker", status.get("worker") or "-"),
    ]
    if status.get("message"):
        fields.append(("Message", status["message"]))
    print_fields(fields)


def load_deployments(text: str, where: str, default_namespace: str) -> list[dict[str, Any]]:
    """The Deployments in a YAML/JSON text, each checked against the model; any fault fails them all."""
    import yaml

    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as error:
        fail(f"{where} is not valid YAML: {error}")
    if not docs:
        fail(f"{where} holds no document")
    found: list[dict[str, Any]] = []
    for number, doc in enumerate(docs, start=1):
        label = f"{where}, document {number}"
        wanted = (API_VERSION, DEPLOYMENT.kind)
        if not isinstance(doc, dict) or (doc.get("apiVersion"), doc.get("kind")) != wanted:
            fail(f"{label}: not a Conveyor Deployment (apiVersion: {API_VERSION}, kind: {DEPLOYMENT.kind})")
        metadata = doc.setdefault("metadata", {})
        if not metadata.get("name"):
            fail(f"{label}: metadata.name is required")
        metadata.setdefault("namespace", default_namespace)
        try:
            Deployment.model_validate(doc)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in e['loc'])}: {e['msg']}" for e in error.errors()
            )
            fail(f"{label} ({metadata['name']}): {problems}")
        found.append(doc)
    return found


@deployments.command(name="create")
@click.option("-f", "--filename", required=True, type=click.Path(dir_okay=False, allow_dash=True),
              help="YAML or JSON file of one or more Deployments ('-': standard input).")
@cluster_options
def create(cluster: ClusterClient, filename: str) -> None:
    """Create the Deployments of a file (all are checked before any is created)."""
    from kubernetes.client.rest import ApiException  # imported on first use: see context.py

    if filename == "-":
        text, where = sys.stdin.read(), "standard input"
    else:
        try:
            with open(filename) as handle:
                text = handle.read()
        except OSError as error:
            fail(f"cannot read {filename}: {error}")
        where = filename
    for doc in load_deployments(text, where, cluster.namespace):
        metadata = doc["metadata"]
        try:
            cluster.custom.create_namespaced_custom_object(GROUP, VERSION, metadata["namespace"], PLURAL, doc)
        except ApiException as error:
            if error.status == 409:
                fail(f"{RESOURCE}/{metadata['name']} already exists in namespace {metadata['namespace']}")
            raise
        click.echo(f"{RESOURCE}/{metadata['name']} created")


@deployments.command(name="delete")
@click.argument("name")
@cluster_options
def delete(cluster: ClusterClient, name: str) -> None:
    """Delete Deployment NAME (the operator keeps it, phase Deleting, until its executions end)."""
    from kubernetes.client.rest import ApiException  # imported on first use: see context.py

    try:
        cluster.custom.delete_namespaced_custom_object(GROUP, VERSION, cluster.namespace, PLURAL, name)
    except ApiException as error:
        if error.status == 404:
            fail(f"deployment {name} not found in namespace {cluster.namespace}")
        raise
    click.echo(f"{RESOURCE}/{name} deleted")
