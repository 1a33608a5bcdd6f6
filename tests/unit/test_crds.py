"""The CRDs: generated from the models, identical to crds/, structural, and valid for kube-apiserver."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner
from pydantic import BaseModel

from conveyor.api.crds import SchemaError, generate_crds, model_schema, render_crds_yaml
from conveyor.cli.crds import crds as crds_command

REPO = Path(__file__).resolve().parents[2]
CRDS_DIR = REPO / "crds"


def _crd(kind: str) -> dict[str, Any]:
    return next(crd for crd in generate_crds() if crd["spec"]["names"]["kind"] == kind)


def _schema(kind: str) -> dict[str, Any]:
    schema: dict[str, Any] = _crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def _nodes(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every schema node under `node` with its path."""
    found = [(path, node)]
    for name, child in node.get("properties", {}).items():
        found += _nodes(child, f"{path}.{name}")
    if isinstance(node.get("additionalProperties"), dict):
        found += _nodes(node["additionalProperties"], f"{path}.*")
    if "items" in node:
        found += _nodes(node["items"], f"{path}[]")
    return found


def _columns(kind: str) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in _crd(kind)["spec"]["versions"][0]["additionalPrinterColumns"]}


@pytest.mark.parametrize("filename", sorted(render_crds_yaml()))
def test_crd_files_are_exactly_what_the_models_generate(filename: str) -> None:
    path = CRDS_DIR / filename
    expected = render_crds_yaml()[filename]
    assert path.exists() and path.read_text() == expected, (
        f"{path} is stale or missing: run `make crds` and commit the result"
    )


def test_crds_directory_holds_no_other_crd_files() -> None:
    assert sorted(p.name for p in CRDS_DIR.glob("*.yaml")) == sorted(render_crds_yaml())


def test_rendering_is_deterministic() -> None:
    assert render_crds_yaml() == render_crds_yaml()


def test_each_file_says_it_is_generated_and_by_what_command() -> None:
    for text in render_crds_yaml().values():
        first_line = text.splitlines()[0]
        assert first_line.startswith("# Generated") and "conveyor crds" in first_line


@pytest.mark.parametrize("kind", ["Deployment", "Execution"])
def test_crds_are_valid_apiextensions_v1_objects(kind: str) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    kubernetes_validate.validate(_crd(kind), "1.35", strict=True)


@pytest.mark.parametrize("kind", ["Deployment", "Execution"])
def test_every_schema_node_is_typed_or_explicitly_free_form(kind: str) -> None:
    untyped = [
        path
        for path, node in _nodes(_schema(kind))
        if "type" not in node
        and not node.get("x-kubernetes-preserve-unknown-fields")
        and not node.get("x-kubernetes-int-or-string")
    ]
    assert untyped == []


@pytest.mark.parametrize("kind", ["Deployment", "Execution"])
def test_schemas_use_no_constructs_a_structural_schema_forbids(kind: str) -> None:
    forbidden = {"$ref", "$defs", "definitions", "anyOf", "oneOf", "allOf", "not", "title", "const"}
    offenders = [(path, sorted(forbidden & set(node))) for path, node in _nodes(_schema(kind))]
    assert [o for o in offenders if o[1]] == []


@pytest.mark.parametrize("kind", ["Deployment", "Execution"])
def test_no_object_has_both_properties_and_additional_properties(kind: str) -> None:
    both = [p for p, n in _nodes(_schema(kind)) if "properties" in n and "additionalProperties" in n]
    assert both == []


def test_free_form_fields_keep_unknown_fields() -> None:
    deployment = _schema("Deployment")["properties"]["spec"]["properties"]
    execution = _schema("Execution")["properties"]["spec"]["properties"]
    declaration = deployment["workflows"]["additionalProperties"]["properties"]["parameters"]
    assert deployment["inputs"] == {
        "description": deployment["inputs"]["description"],
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
    }
    assert execution["parameters"]["x-kubernetes-preserve-unknown-fields"] is True
    assert declaration["additionalProperties"]["properties"]["default"][
        "x-kubernetes-preserve-unknown-fields"
    ]


def test_kubernetes_env_vars_keep_fields_the_model_does_not_name() -> None:
    env = _schema("Deployment")["properties"]["spec"]["properties"]["worker"]["properties"]["env"]
    assert env["items"]["required"] == ["name"]
    assert env["items"]["x-kubernetes-preserve-unknown-fields"] is True


def test_resource_quantities_are_int_or_string() -> None:
    resources = _schema("Deployment")["properties"]["spec"]["properties"]["worker"]["properties"]["resources"]
    assert resources["properties"]["limits"]["additionalProperties"] == {"x-kubernetes-int-or-string": True}


def test_optional_fields_are_nullable_and_keep_their_type() -> None:
    spec = _schema("Execution")["properties"]["spec"]["properties"]
    assert spec["scheduledTime"] == {
        **spec["scheduledTime"],
        "type": "string",
        "format": "date-time",
        "nullable": True,
    }
    assert spec["cancel"]["enum"] == ["graceful", "force", "kill"] and spec["cancel"]["nullable"] is True


def test_defaults_are_declared_for_the_api_server_to_apply() -> None:
    spec = _schema("Execution")["properties"]["spec"]["properties"]
    worker = _schema("Deployment")["properties"]["spec"]["properties"]["worker"]["properties"]
    assert [spec[f]["default"] for f in ("force", "queue", "dryRun", "allowCustomParameters")] == [False] * 4
    assert worker["idleTimeoutSeconds"]["default"] == 300


def test_null_defaults_are_left_out() -> None:
    assert all(
        n.get("default", 0) is not None
        for kind in ("Deployment", "Execution")
        for _, n in _nodes(_schema(kind))
    )


def test_execution_phase_enum_is_the_ten_statuses() -> None:
    phase = _schema("Execution")["properties"]["status"]["properties"]["phase"]
    assert set(phase["enum"]) == {
        "pending", "scheduled", "queued", "started", "cancelling", "force_cancelling",
        "kill_cancelling", "terminated", "failed", "cancelled",
    }  # fmt: skip


def test_execution_spec_requires_a_workflow() -> None:
    assert _schema("Execution")["properties"]["spec"]["required"] == ["workflow"]


def test_descriptions_come_from_field_descriptions() -> None:
    spec = _schema("Execution")["properties"]["spec"]["properties"]
    assert spec["force"]["description"] == "Run even if another execution of this deployment runs."


def test_queue_with_force_or_dry_run_is_refused_by_a_validation_rule() -> None:
    rules = _schema("Execution")["properties"]["spec"]["x-kubernetes-validations"]
    queue_rule = next(r for r in rules if "self.queue" in r["rule"])
    assert "self.force" in queue_rule["rule"] and "self.dryRun" in queue_rule["rule"]
    assert queue_rule["message"].startswith("queue: true cannot be combined with")


def test_conditions_are_a_list_map_keyed_by_type() -> None:
    conditions = _schema("Execution")["properties"]["status"]["properties"]["conditions"]
    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    assert "type" in conditions["items"]["required"]


@pytest.mark.parametrize(("kind", "short"), [("Deployment", "cvd"), ("Execution", "cvx")])
def test_names_short_names_and_category(kind: str, short: str) -> None:
    names = _crd(kind)["spec"]["names"]
    assert names["shortNames"] == [short] and names["categories"] == ["conveyor"]
    assert _crd(kind)["metadata"]["name"] == f"{names['plural']}.conveyor.dev"
    assert _crd(kind)["spec"]["scope"] == "Namespaced"


@pytest.mark.parametrize("kind", ["Deployment", "Execution"])
def test_status_is_a_subresource(kind: str) -> None:
    assert _crd(kind)["spec"]["versions"][0]["subresources"] == {"status": {}}


def test_execution_printer_columns() -> None:
    columns = _columns("Execution")
    assert list(columns) == ["WORKFLOW", "DEPLOYMENT", "STATUS", "WAITING FOR", "AGE"]
    assert columns["STATUS"]["jsonPath"] == ".status.phase"
    assert columns["WAITING FOR"]["priority"] == 1
    assert columns["AGE"]["type"] == "date"


def test_deployment_printer_columns() -> None:
    columns = _columns("Deployment")
    assert list(columns) == ["WORKFLOWS", "RUNNING", "QUEUED", "WORKER", "AGE"]
    assert columns["RUNNING"]["type"] == columns["QUEUED"]["type"] == "integer"


def _validator(kind: str) -> jsonschema.Draft7Validator:
    """The OpenAPI schema as plain JSON schema (x-kubernetes-* and nullable ignored): enough for shapes."""
    return jsonschema.Draft7Validator(_schema(kind))


def test_the_design_example_deployment_fits_the_schema() -> None:
    example = {
        "apiVersion": "conveyor.dev/v1alpha1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "inputs": {"replicas": 3},
            "source": {"configMap": "web-workflows"},
            "worker": {"idleTimeoutSeconds": 300, "env": [{"name": "A", "valueFrom": {"secretKeyRef": {}}}]},
            "workflows": {
                "install": {
                    "mapping": "web_workflows.install",
                    "parameters": {
                        "timeout": {"type": "integer", "default": 60, "description": "seconds to wait"},
                        "target": {"type": "string"},
                    },
                }
            },
        },
    }
    assert list(_validator("Deployment").iter_errors(example)) == []


def test_an_unknown_parameter_type_does_not_fit_the_schema() -> None:
    spec = {"workflows": {"install": {"mapping": "m.f", "parameters": {"x": {"type": "number"}}}}}
    assert not _validator("Deployment").is_valid({"spec": spec})


def test_an_unknown_cancel_mode_does_not_fit_the_schema() -> None:
    assert not _validator("Execution").is_valid({"spec": {"workflow": "install", "cancel": "now"}})


def test_a_union_without_structural_form_is_refused() -> None:
    class Ambiguous(BaseModel):
        value: int | list[int]

    with pytest.raises(SchemaError, match="value"):
        model_schema(Ambiguous)


def test_cli_prints_all_crds_as_one_multi_document_yaml() -> None:
    result = CliRunner().invoke(crds_command, [])
    assert result.exit_code == 0
    documents = list(yaml.safe_load_all(result.output))
    assert [d["metadata"]["name"] for d in documents] == [
        "deployments.conveyor.dev",
        "executions.conveyor.dev",
    ]


def test_cli_writes_one_file_per_crd(tmp_path: Path) -> None:
    result = CliRunner().invoke(crds_command, ["--output-dir", str(tmp_path)])
    assert result.exit_code == 0
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == render_crds_yaml()


def test_cli_check_passes_on_fresh_files(tmp_path: Path) -> None:
    CliRunner().invoke(crds_command, ["--output-dir", str(tmp_path)])
    assert CliRunner().invoke(crds_command, ["--check", "--output-dir", str(tmp_path)]).exit_code == 0


def test_cli_check_fails_on_a_stale_file_and_says_how_to_fix_it(tmp_path: Path) -> None:
    CliRunner().invoke(crds_command, ["--output-dir", str(tmp_path)])
    stale = tmp_path / "executions.conveyor.dev.yaml"
    stale.write_text(stale.read_text().replace("cvx", "ex"))
    result = CliRunner().invoke(crds_command, ["--check", "--output-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "executions.conveyor.dev.yaml" in result.output and "make crds" in result.output
