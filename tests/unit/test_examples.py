"""Every YAML in examples/ is valid as users will apply it, and its workflow code resolves.

- each document parses and names apiVersion, kind and metadata.name (no generateName: the examples
  are applied with `kubectl apply`, which needs names);
- Conveyor objects validate against the CRD schemas in crds/ (the same structural-schema and CEL
  validation the local control plane runs);
- every mapping of every example Deployment resolves, from the Deployment's source ConfigMap,
  to a `@workflow` function the way the worker loads it; declared parameters are the function's;
- every example Execution names a Deployment and workflow the examples declare (or a built-in
  system-wide one, in conveyor-system) with parameters that pass admission's validation;
- each example workflow runs in dry run (its graph builds, every operation name resolves).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from conveyor.admission.parameters import validate_parameters
from conveyor.api.models import Deployment
from conveyor.plugins import kubernetes
from conveyor.sim.schema import validate
from conveyor.worker.source import SourceFolder, write_folder
from conveyor.workflows import (
    DeploymentInfo,
    MemoryReporter,
    WorkflowContext,
    register_plugin,
    run_workflow,
    unregister_plugin,
    workflow_spec,
)
from conveyor.workflows.builtin import BUILTIN_WORKFLOWS

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
SYSTEM_WORKFLOWS = {"create_snapshot", "restore_snapshot"}


def example_files() -> list[Path]:
    return sorted(path for path in EXAMPLES.rglob("*") if path.suffix in (".yaml", ".yml"))


def documents() -> list[dict[str, Any]]:
    found = []
    for path in example_files():
        for document in yaml.safe_load_all(path.read_text()):
            if document is not None:
                document["__file__"] = str(path.relative_to(REPO))
                found.append(document)
    return found


def crd_schemas() -> dict[str, dict[str, Any]]:
    schemas = {}
    for path in (REPO / "crds").glob("*.yaml"):
        crd = yaml.safe_load(path.read_text())
        version = next(v for v in crd["spec"]["versions"] if v.get("storage"))
        schemas[crd["spec"]["names"]["kind"]] = version["schema"]["openAPIV3Schema"]
    return schemas


DOCUMENTS = documents()


def of_kind(kind: str, api_version: str = "conveyor.dev/v1alpha1") -> list[dict[str, Any]]:
    return [doc for doc in DOCUMENTS if doc.get("kind") == kind and doc.get("apiVersion") == api_version]


def without_marker(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key != "__file__"}


def label(document: dict[str, Any]) -> str:
    return f"{document['__file__']}:{document.get('kind')}/{document.get('metadata', {}).get('name')}"


def test_there_are_examples_for_web_hello_and_system() -> None:
    folders = {path.parent.name for path in example_files()}
    assert {"web", "hello", "system"} <= folders


@pytest.mark.parametrize("document", DOCUMENTS, ids=label)
def test_every_document_names_what_kubectl_apply_needs(document: dict[str, Any]) -> None:
    assert isinstance(document.get("apiVersion"), str) and isinstance(document.get("kind"), str)
    assert document.get("metadata", {}).get("name"), "kubectl apply needs metadata.name"
    assert "generateName" not in document["metadata"]


@pytest.mark.parametrize("document", of_kind("Deployment") + of_kind("Execution"), ids=label)
def test_conveyor_objects_validate_against_the_crd_schemas(document: dict[str, Any]) -> None:
    schema = crd_schemas()[document["kind"]]
    assert list(validate(without_marker(document), schema)) == []


def source_of(deployment: dict[str, Any]) -> dict[str, Any]:
    name = deployment["spec"]["source"]["configMap"]
    namespace = deployment["metadata"]["namespace"]
    matches = [
        doc
        for doc in of_kind("ConfigMap", "v1")
        if doc["metadata"]["name"] == name and doc["metadata"].get("namespace") == namespace
    ]
    assert len(matches) == 1, f"source ConfigMap {namespace}/{name} is not among the examples"
    return matches[0]


@pytest.fixture
def kubernetes_plugin() -> Iterator[None]:
    """Registered directly so the test does not depend on the installed entry points."""
    register_plugin("kubernetes", kubernetes)
    yield
    unregister_plugin("kubernetes")


def declared_workflows() -> list[tuple[dict[str, Any], str]]:
    return [
        (deployment, name) for deployment in of_kind("Deployment") for name in deployment["spec"]["workflows"]
    ]


@pytest.mark.parametrize(
    ("deployment", "workflow"),
    declared_workflows(),
    ids=[f"{d['metadata']['name']}.{w}" for d, w in declared_workflows()],
)
def test_every_mapping_resolves_from_its_source_to_a_workflow_with_the_declared_parameters(
    deployment: dict[str, Any], workflow: str, tmp_path: Path
) -> None:
    folder = SourceFolder(write_folder(source_of(deployment), f"test-{workflow}"))
    try:
        function = folder.resolve(deployment["spec"]["workflows"][workflow]["mapping"])
    finally:
        folder.remove()
    assert workflow_spec(function) is not None, "the mapping must name a @workflow function"
    signature = inspect.signature(function)
    parameters = list(signature.parameters.values())[1:]
    declared = set(deployment["spec"]["workflows"][workflow].get("parameters") or {})
    assert declared == {p.name for p in parameters}
    required = {p.name for p in parameters if p.default is inspect.Parameter.empty}
    declared_defaults = {
        name
        for name, d in (deployment["spec"]["workflows"][workflow].get("parameters") or {}).items()
        if "default" in d
    }
    assert not (required & declared_defaults)


def example_executions() -> list[dict[str, Any]]:
    return of_kind("Execution")


@pytest.mark.parametrize("execution", example_executions(), ids=label)
def test_every_execution_names_a_declared_workflow_with_valid_parameters(execution: dict[str, Any]) -> None:
    spec = execution["spec"]
    if spec.get("deployment") is None:
        assert execution["metadata"]["namespace"] == "conveyor-system"
        assert spec["workflow"] in SYSTEM_WORKFLOWS and spec["workflow"] in BUILTIN_WORKFLOWS
        return
    deployments = [
        d
        for d in of_kind("Deployment")
        if d["metadata"]["name"] == spec["deployment"]
        and d["metadata"]["namespace"] == execution["metadata"]["namespace"]
    ]
    assert len(deployments) == 1
    model = Deployment.model_validate(without_marker(deployments[0]))
    declared = model.spec.workflows[spec["workflow"]]
    validate_parameters(declared.parameters, spec.get("parameters") or {}, False, workflow=spec["workflow"])


@pytest.mark.parametrize(
    "execution", [e for e in example_executions() if e["spec"].get("deployment")], ids=label
)
def test_every_example_workflow_runs_in_dry_run(execution: dict[str, Any], kubernetes_plugin: None) -> None:
    spec = execution["spec"]
    deployment = next(d for d in of_kind("Deployment") if d["metadata"]["name"] == spec["deployment"])
    model = Deployment.model_validate(without_marker(deployment))
    declared = model.spec.workflows[spec["workflow"]]
    parameters = validate_parameters(
        declared.parameters, spec.get("parameters") or {}, False, workflow=spec["workflow"]
    )
    folder = SourceFolder(write_folder(source_of(deployment), execution["metadata"]["name"]))
    try:
        function = folder.resolve(declared.mapping)
        reporter = MemoryReporter()
        ctx = WorkflowContext(
            execution_name=execution["metadata"]["name"],
            workflow_name=spec["workflow"],
            deployment=DeploymentInfo(
                spec["deployment"], execution["metadata"]["namespace"], dict(model.spec.inputs)
            ),
            reporter=reporter,
            dry_run=True,
        )
        outcome = run_workflow(function, ctx, parameters)
    finally:
        folder.remove()
    assert outcome.status == "terminated", outcome.error
    assert any(message.startswith("would run") for message in reporter.messages())
