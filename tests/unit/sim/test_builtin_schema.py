"""Built-in kinds: unknown fields, metadata rules, spec validation and defaults, as kube has them."""

from __future__ import annotations

from typing import Any

from conveyor.sim.builtin_schema import (
    apply_builtin_defaults,
    unknown_fields,
    validate_builtin,
    validate_metadata,
    validate_name,
)
from conveyor.sim.resources import BUILTIN, ResourceType

RT = {(rt.group, rt.kind): rt for rt in BUILTIN}


def rt(group: str, kind: str) -> ResourceType:
    return RT[(group, kind)]


def msgs(causes: list[dict[str, str]]) -> list[str]:
    return [f"{c['field']}: {c['message']}" for c in causes]


def pod(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"containers": [{"name": "main", "image": "busybox"}], **spec},
    }


def job(**pod_spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "j", "namespace": "default", "uid": "u1"},
        "spec": {
            "template": {
                "spec": {
                    "containers": [{"name": "c", "image": "busybox:1.36"}],
                    "restartPolicy": "Never",
                    **pod_spec,
                }
            }
        },
    }


def deployment(selector: dict[str, str], labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }


# --- unknown fields


def test_unknown_field_in_pod_spec_is_reported_with_its_path() -> None:
    obj = pod(containerz=[])
    assert unknown_fields("", "v1", "Pod", obj) == ["spec.containerz"]


def test_unknown_field_inside_list_items_is_reported_with_index() -> None:
    obj = pod()
    obj["spec"]["containers"][0]["imagez"] = "x"
    assert unknown_fields("", "v1", "Pod", obj) == ["spec.containers[0].imagez"]


def test_free_form_maps_accept_any_keys() -> None:
    obj = pod()
    obj["metadata"]["labels"] = {"any/key": "v"}
    obj["metadata"]["annotations"] = {"whatever": "v"}
    assert unknown_fields("", "v1", "Pod", obj) == []


def test_configmap_data_keys_are_free_form() -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}}
    assert unknown_fields("", "v1", "ConfigMap", obj) == []


def test_object_typed_fields_accept_anything() -> None:
    obj = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "x"},
        "spec": {
            "versions": [
                {
                    "name": "v1",
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                            "properties": {"spec": {"type": "object", "default": {"anything": 1}}},
                        }
                    },
                }
            ]
        },
    }
    assert unknown_fields("apiextensions.k8s.io", "v1", "CustomResourceDefinition", obj) == []


def test_core_and_events_api_events_use_their_own_models() -> None:
    core = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"}, "involvedObject": {}, "note": "x"}
    events = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "e"},
        "note": "x",
        "involvedObject": {},
    }
    assert unknown_fields("", "v1", "Event", core) == ["note"]
    assert unknown_fields("events.k8s.io", "v1", "Event", events) == ["involvedObject"]


def test_unknown_kind_reports_nothing() -> None:
    assert unknown_fields("example.com", "v1", "Widget", {"spec": {"x": 1}}) == []


# --- metadata


def test_name_or_generate_name_is_required() -> None:
    obj = pod()
    del obj["metadata"]["name"]
    assert msgs(validate_metadata(obj, True)) == [
        "metadata.name: Required value: name or generateName is required"
    ]


def test_generate_name_alone_is_enough() -> None:
    obj = pod()
    obj["metadata"] = {"generateName": "p-", "namespace": "default"}
    assert validate_metadata(obj, True) == []


def test_name_must_be_a_dns_subdomain() -> None:
    obj = pod()
    obj["metadata"]["name"] = "Bad_Name"
    assert msgs(validate_metadata(obj, True)) == [
        'metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case '
        "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character "
        "(e.g. 'example.com', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    ]


def test_namespace_name_must_be_a_dns_label() -> None:
    assert msgs(validate_name("Namespace", "a.b"))[0].startswith(
        'metadata.name: Invalid value: "a.b": a lowercase RFC 1123 label must consist of'
    )


def test_service_name_must_be_a_dns1035_label() -> None:
    assert msgs(validate_name("Service", "1abc"))[0].startswith(
        'metadata.name: Invalid value: "1abc": a DNS-1035 label must consist of'
    )


def test_namespaced_object_needs_a_namespace() -> None:
    obj = pod()
    del obj["metadata"]["namespace"]
    assert msgs(validate_metadata(obj, True)) == ["metadata.namespace: Required value"]


def test_cluster_scoped_object_may_not_have_a_namespace() -> None:
    obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n", "namespace": "x"}}
    assert msgs(validate_metadata(obj, False)) == ["metadata.namespace: Forbidden: not allowed on this type"]


def test_label_values_are_checked() -> None:
    obj = pod()
    obj["metadata"]["labels"] = {"app": "bad value"}
    assert msgs(validate_metadata(obj, True))[0].startswith(
        'metadata.labels: Invalid value: "bad value": a valid label must be an empty string or consist of'
    )


def test_annotations_are_limited_to_256_kib_in_total() -> None:
    obj = pod()
    obj["metadata"]["annotations"] = {"big": "x" * (256 * 1024)}
    assert msgs(validate_metadata(obj, True)) == [
        "metadata.annotations: Too long: may not be more than 262144 bytes"
    ]


# --- kind validation


def test_pod_needs_containers() -> None:
    obj = pod()
    obj["spec"]["containers"] = []
    assert msgs(validate_builtin(rt("", "Pod"), obj)) == ["spec.containers: Required value"]


def test_container_needs_an_image() -> None:
    obj = pod(containers=[{"name": "a"}])
    assert msgs(validate_builtin(rt("", "Pod"), obj)) == ["spec.containers[0].image: Required value"]


def test_container_names_are_unique() -> None:
    obj = pod(containers=[{"name": "a", "image": "x"}, {"name": "a", "image": "y"}])
    assert msgs(validate_builtin(rt("", "Pod"), obj)) == ['spec.containers[1].name: Duplicate value: "a"']


def test_pod_restart_policy_is_an_enum() -> None:
    assert msgs(validate_builtin(rt("", "Pod"), pod(restartPolicy="Sometimes"))) == [
        'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"'
    ]


def test_job_template_restart_policy_must_be_on_failure_or_never() -> None:
    assert msgs(validate_builtin(rt("batch", "Job"), job(restartPolicy="Always"))) == [
        'spec.template.spec.restartPolicy: Unsupported value: "Always": '
        'supported values: "OnFailure", "Never"'
    ]


def test_job_backoff_limit_may_not_be_negative() -> None:
    obj = job()
    obj["spec"]["backoffLimit"] = -1
    assert msgs(validate_builtin(rt("batch", "Job"), obj)) == [
        "spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0"
    ]


def test_deployment_selector_must_match_template_labels() -> None:
    obj = deployment({"app": "a"}, {"app": "b"})
    assert msgs(validate_builtin(rt("apps", "Deployment"), obj)) == [
        'spec.template.metadata.labels: Invalid value: {"app":"b"}: '
        "`selector` does not match template `labels`"
    ]


def test_deployment_needs_a_selector() -> None:
    obj = deployment({}, {"app": "b"})
    del obj["spec"]["selector"]
    assert msgs(validate_builtin(rt("apps", "Deployment"), obj)) == ["spec.selector: Required value"]


def test_service_port_range() -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"ports": [{"port": 70000}]},
    }
    assert msgs(validate_builtin(rt("", "Service"), obj)) == [
        "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive"
    ]


def test_service_with_several_ports_needs_port_names() -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"ports": [{"port": 80, "name": "http"}, {"port": 81}]},
    }
    assert msgs(validate_builtin(rt("", "Service"), obj)) == ["spec.ports[1].name: Required value"]


def test_configmap_keys_must_be_config_keys() -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"bad key": "v"}}
    assert msgs(validate_builtin(rt("", "ConfigMap"), obj))[0].startswith(
        'data[bad key]: Invalid value: "bad key": a valid config key must consist of alphanumeric characters'
    )


def test_configmap_is_limited_to_1_mib() -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "data": {"k": "x" * (1024 * 1024 + 1)},
    }
    assert [c["message"] for c in validate_builtin(rt("", "ConfigMap"), obj)] == [
        "Too long: may not be more than 1048576 bytes"
    ]


def test_lease_duration_must_be_an_integer() -> None:
    obj = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "l"},
        "spec": {"leaseDurationSeconds": "15"},
    }
    assert msgs(validate_builtin(rt("coordination.k8s.io", "Lease"), obj)) == [
        'spec.leaseDurationSeconds: Invalid value: "15": must be an integer'
    ]


def test_rbac_rule_needs_verbs() -> None:
    obj = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "r"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": []}],
    }
    assert msgs(validate_builtin(rt("rbac.authorization.k8s.io", "Role"), obj)) == [
        "rules[0].verbs: Required value: verbs must contain at least one value"
    ]


# --- defaults


def test_pod_defaults_match_a_real_cluster() -> None:
    obj = pod()
    apply_builtin_defaults(rt("", "Pod"), obj)
    spec = obj["spec"]
    assert {
        k: spec[k]
        for k in (
            "restartPolicy",
            "dnsPolicy",
            "terminationGracePeriodSeconds",
            "schedulerName",
            "securityContext",
            "serviceAccountName",
            "enableServiceLinks",
        )
    } == {
        "restartPolicy": "Always",
        "dnsPolicy": "ClusterFirst",
        "terminationGracePeriodSeconds": 30,
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "serviceAccountName": "default",
        "enableServiceLinks": True,
    }


def test_image_pull_policy_is_always_for_latest_or_untagged_images() -> None:
    obj = pod(
        containers=[
            {"name": "a", "image": "busybox"},
            {"name": "b", "image": "busybox:latest"},
            {"name": "c", "image": "registry:5000/busybox:1.36"},
        ]
    )
    apply_builtin_defaults(rt("", "Pod"), obj)
    assert [c["imagePullPolicy"] for c in obj["spec"]["containers"]] == ["Always", "Always", "IfNotPresent"]


def test_container_termination_message_defaults() -> None:
    obj = pod()
    apply_builtin_defaults(rt("", "Pod"), obj)
    c = obj["spec"]["containers"][0]
    assert (c["terminationMessagePath"], c["terminationMessagePolicy"]) == ("/dev/termination-log", "File")


def test_job_defaults() -> None:
    obj = job()
    apply_builtin_defaults(rt("batch", "Job"), obj)
    spec = obj["spec"]
    assert {
        k: spec[k] for k in ("backoffLimit", "completions", "parallelism", "completionMode", "suspend")
    } == {
        "backoffLimit": 6,
        "completions": 1,
        "parallelism": 1,
        "completionMode": "NonIndexed",
        "suspend": False,
    }
    assert "manualSelector" not in spec


def test_job_gets_a_generated_selector_and_template_labels() -> None:
    obj = job()
    apply_builtin_defaults(rt("batch", "Job"), obj)
    assert obj["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}}
    assert obj["spec"]["template"]["metadata"]["labels"] == {
        "batch.kubernetes.io/controller-uid": "u1",
        "batch.kubernetes.io/job-name": "j",
        "controller-uid": "u1",
        "job-name": "j",
    }


def test_defaulted_job_passes_validation() -> None:
    obj = job()
    apply_builtin_defaults(rt("batch", "Job"), obj)
    assert validate_builtin(rt("batch", "Job"), obj) == []


def test_deployment_defaults() -> None:
    obj = deployment({"app": "a"}, {"app": "a"})
    apply_builtin_defaults(rt("apps", "Deployment"), obj)
    spec = obj["spec"]
    assert (
        spec["replicas"],
        spec["revisionHistoryLimit"],
        spec["progressDeadlineSeconds"],
        spec["strategy"],
    ) == (
        1,
        10,
        600,
        {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
    )


def test_service_defaults() -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s", "namespace": "default"},
        "spec": {"ports": [{"port": 80}]},
    }
    apply_builtin_defaults(rt("", "Service"), obj)
    spec = obj["spec"]
    assert (spec["type"], spec["sessionAffinity"], spec["ports"]) == (
        "ClusterIP",
        "None",
        [{"port": 80, "protocol": "TCP", "targetPort": 80}],
    )
    assert spec["clusterIP"].startswith("10.") and spec["clusterIPs"] == [spec["clusterIP"]]


def test_namespace_defaults() -> None:
    obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}
    apply_builtin_defaults(rt("", "Namespace"), obj)
    assert (obj["spec"], obj["status"], obj["metadata"]["labels"]) == (
        {"finalizers": ["kubernetes"]},
        {"phase": "Active"},
        {"kubernetes.io/metadata.name": "team"},
    )


def test_lease_has_no_defaults() -> None:
    obj = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l"}, "spec": {}}
    apply_builtin_defaults(rt("coordination.k8s.io", "Lease"), obj)
    assert obj["spec"] == {}
