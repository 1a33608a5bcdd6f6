"""Structural schemas of custom resources: pruning, defaulting, validation and CRD validation."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from conveyor.sim.schema import apply_crd_defaults, apply_defaults, prune, validate, validate_crd
from conveyor.sim.schema import cel as cel_rules

SPEC: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 5, "minLength": 2},
        "replicas": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
        "ratio": {"type": "number"},
        "mode": {"type": "string", "enum": ["a", "b"]},
        "at": {"type": "string", "format": "date-time"},
        "port": {"x-kubernetes-int-or-string": True},
        "note": {"type": "string", "nullable": True},
        "tags": {
            "type": "array",
            "items": {"type": "string"},
            "x-kubernetes-list-type": "set",
            "maxItems": 3,
            "minItems": 1,
        },
        "ports": {
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "proto": {"type": "string", "default": "TCP"}},
            },
        },
        "env": {"type": "object", "additionalProperties": {"type": "string"}},
        "free": {
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": True,
            "properties": {"known": {"type": "object", "properties": {"x": {"type": "string"}}}},
        },
        "template": {
            "type": "object",
            "x-kubernetes-embedded-resource": True,
            "properties": {"spec": {"type": "object", "properties": {"a": {"type": "string"}}}},
        },
        "queue": {"type": "boolean"},
        "force": {"type": "boolean"},
        "minReplicas": {"type": "integer"},
        "maxReplicas": {"type": "integer"},
        "nested": {
            "type": "object",
            "default": {},
            "properties": {"depth": {"type": "integer", "default": 3}},
        },
    },
}
SCHEMA: dict[str, Any] = {"type": "object", "properties": {"spec": SPEC, "status": {"type": "object"}}}


def cr(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"name": "abc", **spec},
    }


def messages(obj: dict[str, Any], schema: dict[str, Any] = SCHEMA) -> list[str]:
    return [f"{c['field']}: {c['message']}" for c in validate(obj, schema)]


# --- pruning


def test_prune_removes_unknown_fields_and_reports_their_paths() -> None:
    obj = cr(foo=1, ports=[{"name": "a", "bar": 2}])
    assert prune(obj, SCHEMA) == ["spec.foo", "spec.ports[0].bar"]
    assert "foo" not in obj["spec"] and obj["spec"]["ports"] == [{"name": "a"}]


def test_prune_never_removes_root_apiversion_kind_or_metadata() -> None:
    obj = cr()
    obj["metadata"]["labels"] = {"a": "b"}
    assert prune(obj, SCHEMA) == []
    assert obj["metadata"] == {"name": "w", "labels": {"a": "b"}}


def test_prune_keeps_unknown_fields_under_preserve_unknown_fields_but_prunes_known_children() -> None:
    obj = cr(free={"anything": {"deep": 1}, "known": {"x": "1", "y": 2}})
    assert prune(obj, SCHEMA) == ["spec.free.known.y"]
    assert obj["spec"]["free"] == {"anything": {"deep": 1}, "known": {"x": "1"}}


def test_prune_applies_additional_properties_schema_to_every_value() -> None:
    schema = {
        "type": "object",
        "properties": {
            "m": {
                "type": "object",
                "additionalProperties": {"type": "object", "properties": {"k": {"type": "string"}}},
            }
        },
    }
    obj = {"m": {"one": {"k": "v", "junk": 1}}}
    assert prune(obj, schema) == ["m.one.junk"]


def test_prune_keeps_apiversion_kind_metadata_of_embedded_resources() -> None:
    obj = cr(
        template={
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p"},
            "spec": {"a": "x", "b": 1},
            "extra": True,
        }
    )
    assert prune(obj, SCHEMA) == ["spec.template.spec.b", "spec.template.extra"]
    assert set(obj["spec"]["template"]) == {"apiVersion", "kind", "metadata", "spec"}


# --- defaulting


def test_defaults_fill_missing_fields() -> None:
    obj = cr()
    apply_defaults(obj, SCHEMA)
    assert obj["spec"]["replicas"] == 1


def test_defaults_do_not_override_present_values() -> None:
    obj = cr(replicas=4)
    apply_defaults(obj, SCHEMA)
    assert obj["spec"]["replicas"] == 4


def test_defaults_apply_inside_array_items() -> None:
    obj = cr(ports=[{"name": "a"}, {"name": "b", "proto": "UDP"}])
    apply_defaults(obj, SCHEMA)
    assert [p["proto"] for p in obj["spec"]["ports"]] == ["TCP", "UDP"]


def test_defaults_apply_inside_a_defaulted_object() -> None:
    obj = cr()
    apply_defaults(obj, SCHEMA)
    assert obj["spec"]["nested"] == {"depth": 3}


def test_null_in_non_nullable_field_takes_the_default() -> None:
    obj = cr(replicas=None)
    apply_defaults(obj, SCHEMA)
    assert obj["spec"]["replicas"] == 1


def test_null_in_non_nullable_field_without_default_is_dropped() -> None:
    obj = cr(mode=None)
    apply_defaults(obj, SCHEMA)
    assert "mode" not in obj["spec"]


def test_null_in_nullable_field_is_kept() -> None:
    obj = cr(note=None)
    apply_defaults(obj, SCHEMA)
    assert obj["spec"]["note"] is None and messages(obj) == []


def test_defaults_are_copies_not_shared_with_the_schema() -> None:
    first, second = cr(), cr()
    apply_defaults(first, SCHEMA)
    apply_defaults(second, SCHEMA)
    first["spec"]["nested"]["depth"] = 99
    assert second["spec"]["nested"]["depth"] == 3


# --- validation


def test_valid_object_has_no_causes() -> None:
    assert messages(cr(replicas=2, tags=["a"], port=80, at="2024-01-02T03:04:05Z")) == []


def test_type_mismatch_is_worded_as_kube_openapi() -> None:
    assert messages(cr(replicas="string")) == [
        'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"'
    ]


def test_type_mismatch_cause_has_reason_field_value_type_invalid() -> None:
    assert validate(cr(replicas="x"), SCHEMA)[0]["reason"] == "FieldValueTypeInvalid"


def test_boolean_is_not_an_integer() -> None:
    assert messages(cr(replicas=True)) == [
        'spec.replicas: Invalid value: "boolean": spec.replicas in body must be of type integer: "boolean"'
    ]


def test_integral_float_is_an_integer() -> None:
    assert messages(cr(replicas=2.0)) == []


def test_fractional_number_is_not_an_integer() -> None:
    assert messages(cr(replicas=2.5)) == [
        'spec.replicas: Invalid value: "number": spec.replicas in body must be of type integer: "number"'
    ]


def test_integer_is_a_number() -> None:
    assert messages(cr(ratio=3)) == []


def test_null_in_non_nullable_field_is_a_type_error() -> None:
    assert messages(cr(mode=None)) == [
        'spec.mode: Invalid value: "null": spec.mode in body must be of type string: "null"'
    ]


def test_missing_required_field() -> None:
    obj = cr()
    del obj["spec"]["name"]
    assert messages(obj) == ["spec.name: Required value"]


def test_enum_lists_supported_values() -> None:
    assert messages(cr(mode="x")) == ['spec.mode: Unsupported value: "x": supported values: "a", "b"']


def test_pattern() -> None:
    assert messages(cr(name="AB")) == [
        "spec.name: Invalid value: \"AB\": spec.name in body should match '^[a-z]+$'"
    ]


def test_max_length() -> None:
    assert messages(cr(name="abcdef")) == ["spec.name: Too long: may not be more than 5 bytes"]


def test_min_length() -> None:
    assert messages(cr(name="a")) == [
        'spec.name: Invalid value: "a": spec.name in body should be at least 2 chars long'
    ]


def test_minimum() -> None:
    assert messages(cr(replicas=0)) == [
        "spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1"
    ]


def test_maximum() -> None:
    assert messages(cr(replicas=11)) == [
        "spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10"
    ]


def test_exclusive_minimum() -> None:
    schema = {
        "type": "object",
        "properties": {"n": {"type": "number", "minimum": 0.5, "exclusiveMinimum": True}},
    }
    assert messages({"n": 0.5}, schema) == ["n: Invalid value: 0.5: n in body should be greater than 0.5"]


def test_max_items() -> None:
    assert messages(cr(tags=["a", "b", "c", "d"])) == ["spec.tags: Too many: 4: must have at most 3 items"]


def test_min_items() -> None:
    assert messages(cr(tags=[])) == [
        "spec.tags: Invalid value: 0: spec.tags in body should have at least 1 items"
    ]


def test_max_properties() -> None:
    schema = {
        "type": "object",
        "properties": {
            "m": {"type": "object", "maxProperties": 1, "additionalProperties": {"type": "string"}}
        },
    }
    assert messages({"m": {"a": "1", "b": "2"}}, schema) == ["m: Too many: 2: must have at most 1 item"]


def test_additional_properties_schema_validates_values() -> None:
    assert messages(cr(env={"A": 1})) == [
        'spec.env.A: Invalid value: "integer": spec.env.A in body must be of type string: "integer"'
    ]


def test_int_or_string_accepts_both() -> None:
    assert messages(cr(port=80)) == [] and messages(cr(port="http")) == []


def test_int_or_string_rejects_other_types() -> None:
    assert messages(cr(port=True)) == [
        'spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean"'
    ]


def test_date_time_format() -> None:
    assert messages(cr(at="yesterday")) == [
        'spec.at: Invalid value: "yesterday": spec.at in body must be of type date-time: "yesterday"'
    ]


def test_list_type_set_rejects_duplicates() -> None:
    assert messages(cr(tags=["a", "a"])) == ['spec.tags[1]: Duplicate value: "a"']


def test_list_type_map_rejects_duplicate_keys() -> None:
    assert messages(cr(ports=[{"name": "a"}, {"name": "a", "proto": "UDP"}])) == [
        'spec.ports[1]: Duplicate value: {"name":"a"}'
    ]


def test_any_of_requires_one_branch() -> None:
    schema = {
        "type": "object",
        "properties": {"v": {"type": "string", "anyOf": [{"pattern": "^a"}, {"pattern": "^b"}]}},
    }
    assert messages({"v": "b1"}, schema) == []
    assert '<nil>: Invalid value: "": "v" must validate at least one schema (anyOf)' in messages(
        {"v": "c"}, schema
    )


def test_preserve_unknown_fields_accepts_anything() -> None:
    assert messages(cr(free={"x": [1, {"y": None}]})) == []


def test_schema_preparation_is_cached_per_schema_object() -> None:
    from conveyor.sim.schema.compiled import compiled

    assert compiled(SCHEMA) is compiled(SCHEMA)


# --- CEL

needs_cel = pytest.mark.skipif(not cel_rules.AVAILABLE, reason="cel-python is not installed")
CEL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            **SPEC,
            "x-kubernetes-validations": [
                {
                    "rule": "!(has(self.queue) && self.queue && has(self.force) && self.force)",
                    "message": "queue and force cannot both be set",
                },
                {
                    "rule": "!has(self.minReplicas) || !has(self.maxReplicas) || "
                    "self.minReplicas <= self.maxReplicas"
                },
                {"rule": "self.name == oldSelf.name", "message": "name is immutable"},
            ],
        }
    },
}


@needs_cel
def test_cel_rule_with_message() -> None:
    assert messages(cr(queue=True, force=True), CEL_SCHEMA) == [
        'spec: Invalid value: "object": queue and force cannot both be set'
    ]


@needs_cel
def test_cel_rule_without_message_names_the_rule() -> None:
    assert messages(cr(minReplicas=3, maxReplicas=2), CEL_SCHEMA) == [
        'spec: Invalid value: "object": failed rule: '
        "!has(self.minReplicas) || !has(self.maxReplicas) || self.minReplicas <= self.maxReplicas"
    ]


@needs_cel
def test_cel_rule_that_holds_has_no_causes() -> None:
    assert messages(cr(queue=True, force=False, minReplicas=1, maxReplicas=2), CEL_SCHEMA) == []


@needs_cel
def test_cel_transition_rule_is_skipped_on_create() -> None:
    assert validate(cr(name="xyz"), CEL_SCHEMA) == []


@needs_cel
def test_cel_transition_rule_applies_on_update() -> None:
    causes = validate(cr(name="xyz"), CEL_SCHEMA, old=cr(name="abc"))
    assert [c["message"] for c in causes] == ['Invalid value: "object": name is immutable']


@needs_cel
def test_an_update_that_leaves_a_value_unchanged_is_not_refused_for_its_rules() -> None:
    """Validation ratcheting (KEP-4008): a value stored before a rule existed may stay as it is."""
    broken = cr(queue=True, force=True)
    assert validate(broken, CEL_SCHEMA, old=broken) == []


@needs_cel
def test_an_update_that_changes_a_value_is_judged_by_its_rules_again() -> None:
    causes = validate(cr(queue=True, force=True), CEL_SCHEMA, old=cr(queue=True))
    assert [c["message"] for c in causes] == ['Invalid value: "object": queue and force cannot both be set']


@needs_cel
def test_a_transition_rule_is_evaluated_even_on_an_unchanged_value() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {"n": {"type": "integer"}},
                "x-kubernetes-validations": [{"rule": "self.n < oldSelf.n", "message": "n only falls"}],
            }
        },
    }
    same = {"spec": {"n": 2}}
    causes = validate(same, schema, old=same)
    assert [c["message"] for c in causes] == ['Invalid value: "object": n only falls']


@needs_cel
def test_cel_message_expression_and_field_path() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {"n": {"type": "integer"}},
                "x-kubernetes-validations": [
                    {
                        "rule": "self.n < 3",
                        "messageExpression": "'n is ' + string(self.n)",
                        "fieldPath": ".n",
                        "reason": "FieldValueForbidden",
                    }
                ],
            }
        },
    }
    assert messages({"spec": {"n": 5}}, schema) == ["spec.n: Forbidden: n is 5"]


# --- CRDs


def crd(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": copy.deepcopy(SCHEMA)},
                    "additionalPrinterColumns": [
                        {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"}
                    ],
                }
            ],
        },
    }
    body["spec"].update(overrides)
    return body


def crd_messages(body: dict[str, Any]) -> list[str]:
    return [f"{c['field']}: {c['message']}" for c in validate_crd(body)]


def test_valid_crd_has_no_causes() -> None:
    assert crd_messages(crd()) == []


def test_crd_defaults_list_kind_singular_and_conversion() -> None:
    body = crd()
    apply_crd_defaults(body)
    names = body["spec"]["names"]
    assert (names["singular"], names["listKind"], body["spec"]["conversion"]) == (
        "widget",
        "WidgetList",
        {"strategy": "None"},
    )


def test_crd_name_must_be_plural_dot_group() -> None:
    body = crd()
    body["metadata"]["name"] = "gadgets.example.com"
    assert crd_messages(body) == [
        'metadata.name: Invalid value: "gadgets.example.com": must be spec.names.plural+"."+spec.group'
    ]


def test_crd_needs_exactly_one_storage_version() -> None:
    body = crd()
    body["spec"]["versions"].append({**copy.deepcopy(body["spec"]["versions"][0]), "name": "v2"})
    assert any(
        m.startswith("spec.versions: Invalid value:")
        and m.endswith("must have exactly one version marked as storage version")
        for m in crd_messages(body)
    )


def test_crd_scope_is_an_enum() -> None:
    assert crd_messages(crd(scope="Global")) == [
        'spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced"'
    ]


def test_crd_schema_must_be_structural() -> None:
    body = crd()
    body["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["loose"] = {}
    assert crd_messages(body) == [
        "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[loose].type: Required value: "
        "must not be empty for specified object fields"
    ]


def test_crd_printer_column_needs_json_path() -> None:
    body = crd()
    del body["spec"]["versions"][0]["additionalPrinterColumns"][0]["jsonPath"]
    assert crd_messages(body) == ["spec.versions[0].additionalPrinterColumns[0].jsonPath: Required value"]


def test_crd_printer_column_accepts_a_filter_json_path() -> None:
    body = crd()
    column = body["spec"]["versions"][0]["additionalPrinterColumns"][0]
    column["jsonPath"] = '.status.conditions[?(@.type=="Ready")].status'
    assert crd_messages(body) == []


def test_crd_printer_column_json_path_starts_with_a_dot() -> None:
    body = crd()
    body["spec"]["versions"][0]["additionalPrinterColumns"][0]["jsonPath"] = "spec.replicas"
    assert crd_messages(body) == [
        'spec.versions[0].additionalPrinterColumns[0].jsonPath: Invalid value: "spec.replicas": '
        "must be a simple json path starting with ."
    ]


def test_crd_version_needs_a_schema() -> None:
    body = crd()
    del body["spec"]["versions"][0]["schema"]
    assert crd_messages(body) == [
        "spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required"
    ]
