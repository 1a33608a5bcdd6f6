"""Table output for `kubectl get`: kube's printer columns, ages and custom printer columns."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from conveyor.sim.resources import BUILTIN, ResourceType
from conveyor.sim.tables import JSONPathError, human_duration, jsonpath, to_table

NOW = datetime(2026, 1, 10, 12, 0, 0, tzinfo=UTC)
CREATED = "2026-01-10T11:57:58Z"  # 2m2s before NOW


def _rt(group: str, kind: str) -> ResourceType:
    return next(rt for rt in BUILTIN if rt.group == group and rt.kind == kind)


def _obj(name: str = "x", **fields: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": "default",
            "creationTimestamp": CREATED,
            "resourceVersion": "7",
        },
        **fields,
    }


def _table(rt: ResourceType, *objects: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return to_table(rt, list(objects), now=NOW, **kw)


def _columns(table: dict[str, Any], wide: bool = False) -> list[str]:
    return [c["name"] for c in table["columnDefinitions"] if wide or c["priority"] == 0]


def _cells(table: dict[str, Any]) -> dict[str, Any]:
    return dict(zip([c["name"] for c in table["columnDefinitions"]], table["rows"][0]["cells"], strict=True))


def _widget(columns: list[dict[str, Any]]) -> ResourceType:
    return ResourceType(
        "example.com",
        "v1",
        "Widget",
        "widgets",
        "widget",
        True,
        crd_version={"name": "v1", "additionalPrinterColumns": columns},
        crd_spec={"group": "example.com"},
    )


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5, "5s"),
        (119, "119s"),
        (182, "3m2s"),
        (600, "10m"),
        (4 * 3600, "4h"),
        (4 * 3600 + 60, "4h1m"),
        (20 * 3600, "20h"),
        (51 * 3600, "2d3h"),
        (10 * 86400, "10d"),
        (800 * 86400, "2y70d"),
        (-5, "<invalid>"),
    ],
)
def test_ages_render_like_kube(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


def test_missing_creation_timestamp_is_unknown_age() -> None:
    table = _table(_rt("", "ConfigMap"), {"metadata": {"name": "c"}})
    assert _cells(table)["Age"] == "<unknown>"


def test_table_is_meta_k8s_io_v1_with_list_metadata() -> None:
    table = _table(_rt("", "ConfigMap"), _obj(), list_metadata={"resourceVersion": "42", "continue": ""})
    assert (table["kind"], table["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    assert table["metadata"] == {"resourceVersion": "42"}


def test_rows_carry_partial_object_metadata_by_default() -> None:
    row = _table(_rt("", "ConfigMap"), _obj("c"))["rows"][0]
    assert row["object"]["kind"] == "PartialObjectMetadata"
    assert row["object"]["apiVersion"] == "meta.k8s.io/v1"
    assert row["object"]["metadata"]["name"] == "c"


def test_include_object_none_omits_the_object_and_object_includes_it_whole() -> None:
    obj = _obj("c", data={"a": "b"})
    assert "object" not in _table(_rt("", "ConfigMap"), obj, include_object="None")["rows"][0]
    assert _table(_rt("", "ConfigMap"), obj, include_object="Object")["rows"][0]["object"] is obj


def test_pod_columns_match_kubectl_get_pods() -> None:
    table = _table(_rt("", "Pod"), _obj())
    assert [c.upper() for c in _columns(table)] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert _columns(table, wide=True)[5:] == ["IP", "Node", "Nominated Node", "Readiness Gates"]


def test_running_pod_shows_ready_containers_and_phase() -> None:
    pod = _obj(
        "p",
        spec={"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "sim"},
        status={
            "phase": "Running",
            "podIP": "10.0.0.5",
            "containerStatuses": [
                {"name": "a", "ready": True, "restartCount": 0, "state": {"running": {}}},
                {"name": "b", "ready": False, "restartCount": 0, "state": {"running": {}}},
            ],
        },
    )
    cells = _cells(_table(_rt("", "Pod"), pod))
    assert (cells["Ready"], cells["Status"], cells["Restarts"], cells["Age"]) == (
        "1/2",
        "Running",
        "0",
        "2m2s",
    )
    assert (cells["IP"], cells["Node"], cells["Nominated Node"]) == ("10.0.0.5", "sim", "<none>")


def test_waiting_container_reason_becomes_pod_status() -> None:
    pod = _obj(
        spec={"containers": [{"name": "a"}]},
        status={
            "phase": "Pending",
            "containerStatuses": [
                {
                    "name": "a",
                    "ready": False,
                    "restartCount": 0,
                    "state": {"waiting": {"reason": "ContainerCreating"}},
                }
            ],
        },
    )
    assert _cells(_table(_rt("", "Pod"), pod))["Status"] == "ContainerCreating"


def test_completed_pod_shows_completed_and_a_row_condition() -> None:
    pod = _obj(
        spec={"containers": [{"name": "a"}]},
        status={
            "phase": "Succeeded",
            "containerStatuses": [
                {
                    "name": "a",
                    "ready": False,
                    "restartCount": 0,
                    "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
                }
            ],
        },
    )
    table = _table(_rt("", "Pod"), pod)
    assert _cells(table)["Status"] == "Completed"
    assert table["rows"][0]["conditions"][0]["type"] == "Completed"


def test_terminated_without_reason_shows_exit_code() -> None:
    pod = _obj(
        spec={"containers": [{"name": "a"}]},
        status={
            "phase": "Failed",
            "containerStatuses": [{"name": "a", "restartCount": 0, "state": {"terminated": {"exitCode": 3}}}],
        },
    )
    assert _cells(_table(_rt("", "Pod"), pod))["Status"] == "ExitCode:3"


def test_restarts_show_when_the_last_one_happened() -> None:
    pod = _obj(
        spec={"containers": [{"name": "a"}]},
        status={
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": "a",
                    "ready": True,
                    "restartCount": 2,
                    "state": {"running": {}},
                    "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2026-01-10T11:59:30Z"}},
                }
            ],
        },
    )
    assert _cells(_table(_rt("", "Pod"), pod))["Restarts"] == "2 (30s ago)"


def test_pod_being_deleted_is_terminating() -> None:
    pod = _obj(spec={"containers": [{"name": "a"}]}, status={"phase": "Running"})
    pod["metadata"]["deletionTimestamp"] = "2026-01-10T11:59:59Z"
    assert _cells(_table(_rt("", "Pod"), pod))["Status"] == "Terminating"


def test_pending_init_container_shows_init_progress() -> None:
    pod = _obj(
        spec={"initContainers": [{"name": "i"}], "containers": [{"name": "a"}]},
        status={
            "phase": "Pending",
            "initContainerStatuses": [{"name": "i", "restartCount": 0, "state": {"running": {}}}],
        },
    )
    assert _cells(_table(_rt("", "Pod"), pod))["Status"] == "Init:0/1"


def test_job_columns_and_completion() -> None:
    job = _obj(
        "j",
        spec={
            "completions": 1,
            "template": {"spec": {"containers": [{"name": "w", "image": "img"}]}},
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u"}},
        },
        status={
            "succeeded": 1,
            "startTime": "2026-01-10T11:58:00Z",
            "completionTime": "2026-01-10T11:58:07Z",
            "conditions": [{"type": "Complete", "status": "True"}],
        },
    )
    table = _table(_rt("batch", "Job"), job)
    assert _columns(table) == ["Name", "Status", "Completions", "Duration", "Age"]
    cells = _cells(table)
    assert (cells["Status"], cells["Completions"], cells["Duration"]) == ("Complete", "1/1", "7s")
    assert (cells["Containers"], cells["Images"]) == ("w", "img")
    assert cells["Selector"] == "batch.kubernetes.io/controller-uid=u"


def test_running_job_duration_counts_to_now() -> None:
    job = _obj(spec={}, status={"startTime": "2026-01-10T11:59:00Z", "active": 1})
    cells = _cells(_table(_rt("batch", "Job"), job))
    assert (cells["Status"], cells["Completions"], cells["Duration"]) == ("Running", "0/1", "60s")


def test_deployment_ready_is_ready_over_desired() -> None:
    deploy = _obj(
        spec={"replicas": 3, "template": {"spec": {"containers": []}}},
        status={"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
    )
    table = _table(_rt("apps", "Deployment"), deploy)
    assert _columns(table) == ["Name", "Ready", "Up-to-date", "Available", "Age"]
    cells = _cells(table)
    assert (cells["Ready"], cells["Up-to-date"], cells["Available"]) == ("2/3", 3, 2)


def test_replicaset_counts_are_integers() -> None:
    rs = _obj(spec={"replicas": 2}, status={"replicas": 2, "readyReplicas": 1})
    cells = _cells(_table(_rt("apps", "ReplicaSet"), rs))
    assert (cells["Desired"], cells["Current"], cells["Ready"]) == (2, 2, 1)


@pytest.mark.parametrize(
    ("group", "kind", "obj", "expected"),
    [
        ("", "Namespace", {"status": {"phase": "Active"}}, {"Status": "Active"}),
        ("", "ConfigMap", {"data": {"a": "1"}, "binaryData": {"b": "AA=="}}, {"Data": 2}),
        ("", "Secret", {"type": "Opaque", "data": {"a": "MQ=="}}, {"Type": "Opaque", "Data": 1}),
        ("", "ServiceAccount", {}, {"Secrets": 0}),
        ("coordination.k8s.io", "Lease", {"spec": {"holderIdentity": "me"}}, {"Holder": "me"}),
    ],
)
def test_simple_kinds_print_their_columns(
    group: str, kind: str, obj: dict[str, Any], expected: dict[str, Any]
) -> None:
    cells = _cells(_table(_rt(group, kind), _obj(**obj)))
    assert {k: cells[k] for k in expected} == expected
    assert cells["Age"] == "2m2s"


def test_service_ports_and_ips() -> None:
    svc = _obj(
        spec={
            "type": "NodePort",
            "clusterIP": "10.96.0.10",
            "selector": {"app": "a"},
            "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}],
        }
    )
    table = _table(_rt("", "Service"), svc)
    assert _columns(table) == ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age"]
    cells = _cells(table)
    assert (cells["Type"], cells["Cluster-IP"], cells["External-IP"]) == ("NodePort", "10.96.0.10", "<none>")
    assert cells["Port(s)"] == "80:30080/TCP,53/UDP"
    assert cells["Selector"] == "app=a"


def test_pending_load_balancer_has_pending_external_ip() -> None:
    svc = _obj(spec={"type": "LoadBalancer", "clusterIP": "10.96.0.11", "ports": []})
    assert _cells(_table(_rt("", "Service"), svc))["External-IP"] == "<pending>"


def test_event_columns_have_no_leading_name() -> None:
    ev = _obj(
        "e.1",
        type="Normal",
        reason="Started",
        message=" started ",
        count=3,
        involvedObject={"kind": "Pod", "name": "p"},
        lastTimestamp="2026-01-10T11:59:50Z",
        firstTimestamp="2026-01-10T11:50:00Z",
        source={"component": "kubelet"},
    )
    table = _table(_rt("", "Event"), ev)
    assert _columns(table) == ["Last Seen", "Type", "Reason", "Object", "Message"]
    cells = _cells(table)
    assert (cells["Last Seen"], cells["Object"], cells["Message"], cells["Count"]) == (
        "10s",
        "pod/p",
        "started",
        3,
    )


def test_events_k8s_io_event_prints_like_a_core_event() -> None:
    ev = _obj(
        "e.2",
        type="Warning",
        reason="Failed",
        note="boom",
        regarding={"kind": "Job", "name": "j"},
        eventTime="2026-01-10T11:59:00.000000Z",
        reportingController="conveyor",
    )
    cells = _cells(_table(_rt("events.k8s.io", "Event"), ev))
    assert (cells["Last Seen"], cells["Object"], cells["Message"], cells["Source"]) == (
        "60s",
        "job/j",
        "boom",
        "conveyor",
    )


def test_crd_table_shows_created_at_timestamp() -> None:
    table = _table(_rt("apiextensions.k8s.io", "CustomResourceDefinition"), _obj("widgets.example.com"))
    assert _columns(table) == ["Name", "Created At"]
    assert _cells(table)["Created At"] == "2026-01-10T11:57:58Z"


def test_kinds_without_a_printer_show_name_and_age() -> None:
    table = _table(_rt("", "Endpoints"), _obj("ep"))
    assert _columns(table) == ["Name", "Age"]


def test_custom_resource_without_columns_shows_name_and_age() -> None:
    table = _table(_widget([]), _obj("w"))
    assert _columns(table) == ["Name", "Age"]
    assert _cells(table)["Age"] == "2m2s"


def test_custom_resource_columns_follow_name_in_declared_order() -> None:
    columns = [
        {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
        {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
        {"name": "Debug", "type": "boolean", "jsonPath": ".spec.debug", "priority": 1},
        {"name": "Started", "type": "date", "jsonPath": ".status.startedAt"},
    ]
    obj = _obj(
        "w",
        spec={"replicas": 3, "debug": True},
        status={
            "startedAt": "2026-01-10T11:59:55Z",
            "conditions": [{"type": "Synced", "status": "False"}, {"type": "Ready", "status": "True"}],
        },
    )
    table = _table(_widget(columns), obj)
    assert _columns(table, wide=True) == ["Name", "Replicas", "Ready", "Debug", "Started"]
    assert table["columnDefinitions"][3]["priority"] == 1
    assert table["rows"][0]["cells"] == ["w", 3, "True", True, "5s"]


def test_custom_column_with_no_value_is_null() -> None:
    table = _table(_widget([{"name": "Phase", "type": "string", "jsonPath": ".status.phase"}]), _obj("w"))
    assert table["rows"][0]["cells"] == ["w", None]


def test_custom_column_of_wrong_type_is_null() -> None:
    table = _table(
        _widget([{"name": "N", "type": "integer", "jsonPath": ".spec.n"}]), _obj("w", spec={"n": "x"})
    )
    assert table["rows"][0]["cells"] == ["w", None]


def test_jsonpath_selects_fields_indexes_and_filters() -> None:
    obj = {"a": {"b": [{"k": "x", "v": 1}, {"k": "y", "v": 2}]}}
    assert jsonpath(obj, ".a.b[1].v") == [2]
    assert jsonpath(obj, ".a.b[-1].k") == ["y"]
    assert jsonpath(obj, ".a.b[*].k") == ["x", "y"]
    assert jsonpath(obj, '.a.b[?(@.k=="y")].v') == [2]
    assert jsonpath(obj, "{.a.b[0].k}") == ["x"]
    assert jsonpath(obj, ".a['b'][0].v") == [1]


def test_jsonpath_missing_field_selects_nothing() -> None:
    assert jsonpath({"a": {}}, ".a.b.c") == []
    assert jsonpath({"a": [1]}, ".a[5]") == []


def test_jsonpath_rejects_unsupported_syntax() -> None:
    with pytest.raises(JSONPathError):
        jsonpath({}, ".a[?(@.x ~ 1)]")
