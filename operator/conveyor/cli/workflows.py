"""`conveyor workflows list`: what a Deployment (or, without -d, the operator) offers to run.

One row per parameter, so a user sees at a glance what `executions start` will ask for: its type,
whether it is required (the same rule the operator applies: `required`, else no default), its
default and its description. The built-ins every Deployment / the operator offers are listed too.
"""

from __future__ import annotations

import json
from typing import Any

import click
from pydantic import ValidationError

from conveyor.api.models import Deployment, ParameterDeclaration, WorkflowDeclaration
from conveyor.api.names import DEPLOYMENT
from conveyor.cli.context import ClusterClient, cluster_options, fail, output_option
from conveyor.cli.precheck import read_operator_config
from conveyor.cli.render import print_structured, print_table
from conveyor.controller.requests import BUILTIN_DEPLOYMENT_WORKFLOWS, BUILTIN_SYSTEM_WORKFLOWS

BUILTIN = "(built-in)"


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value


def _parameter_row(workflow: str, mapping: str, name: str, declared: ParameterDeclaration) -> list[str]:
    default = "-"
    if declared.has_default:
        default = "******" if declared.secret and declared.default is not None else _value(declared.default)
    return [
        workflow,
        mapping,
        name,
        declared.type.value if declared.type else "any",
        "yes" if declared.is_required else "no",
        default,
        declared.description or "",
    ]


def workflow_rows(workflows: dict[str, WorkflowDeclaration], builtins: frozenset[str]) -> list[list[str]]:
    """Table rows: one per parameter, one for a workflow without parameters; built-ins last."""
    rows: list[list[str]] = []
    for name in sorted(workflows):
        declaration = workflows[name]
        if not declaration.parameters:
            rows.append([name, declaration.mapping, "-", "", "", "", declaration.description or ""])
        for parameter, declared in sorted(declaration.parameters.items()):
            rows.append(_parameter_row(name, declaration.mapping, parameter, declared))
    for name in sorted(builtins - set(workflows)):
        rows.append([name, BUILTIN, "-", "", "", "", "built into Conveyor"])
    return rows


def _structured(workflows: dict[str, WorkflowDeclaration], builtins: frozenset[str]) -> dict[str, Any]:
    shown: dict[str, Any] = {
        name: declaration.model_dump(mode="json", by_alias=True, exclude_none=True)
        for name, declaration in sorted(workflows.items())
    }
    for name in sorted(builtins - set(workflows)):
        shown[name] = {"builtin": True}
    return shown


@click.group(name="workflows")
def workflows() -> None:
    """What Deployments and the operator offer to run."""


@workflows.command(name="list")
@click.option("-d", "--deployment", default=None, help="The Deployment; left out: the system-wide workflows.")
@output_option
@cluster_options
def list_(cluster: ClusterClient, deployment: str | None, output: str) -> None:
    """List the workflows of a Deployment (or the system-wide ones) with their parameters."""
    declared: dict[str, WorkflowDeclaration]
    if deployment is None:
        config = read_operator_config(cluster)
        if config is None:
            fail(f"cannot read the operator's configuration in namespace {cluster.operator_namespace}")
        declared = dict(config.system_workflows)
        builtins = BUILTIN_SYSTEM_WORKFLOWS
    else:
        obj = cluster.get_object(DEPLOYMENT.plural, cluster.namespace, deployment)
        if obj is None:
            fail(f"deployment {deployment} not found in namespace {cluster.namespace}")
        try:
            declared = Deployment.model_validate(obj).spec.workflows
        except ValidationError as error:
            fail(f"deployment {deployment} is invalid: {error.errors()[0]['msg']}")
        builtins = BUILTIN_DEPLOYMENT_WORKFLOWS
    if output != "table":
        print_structured(_structured(declared, builtins), output)
        return
    print_table(
        ["workflow", "mapping", "parameter", "type", "required", "default", "description"],
        workflow_rows(declared, builtins),
        "No workflows.",
    )
