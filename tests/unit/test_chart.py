"""The Helm chart (charts/conveyor): lint-clean, valid Kubernetes 1.35 objects for every supported
value set, its CRDs identical to the generated ones, and least-privilege RBAC that names exactly the
calls the operator and the workers make."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
import yaml
from helm_chart import CHART, KUBERNETES_VERSION, NAMESPACE, RELEASE, REPO, helm, of_kind, render

from conveyor.api.config import parse_operator_config

SERVICE_MONITOR_API = "monitoring.coreos.com/v1/ServiceMonitor"

VALUE_SETS: dict[str, tuple[str, ...]] = {
    "default": (),
    "watch-namespaces": ("--set", "watchNamespaces={shop,web}"),
    "no-crds": ("--set", "crds.install=false"),
    "service-monitor": ("--set", "metrics.serviceMonitor.enabled=true"),
}

# What the operator calls (conveyor/controller, conveyor/locks, kopf's list/watch): resource → verbs.
OPERATOR_CALLS: dict[tuple[str, str], set[str]] = {
    ("conveyor.dev", "executions"): {"get", "list", "watch", "patch"},
    ("conveyor.dev", "deployments"): {"get", "list", "watch", "patch"},
    ("conveyor.dev", "executions/status"): {"patch"},
    ("conveyor.dev", "deployments/status"): {"patch"},
    ("", "events"): {"create"},
    ("batch", "jobs"): {"get", "create", "delete"},
    ("", "pods"): {"delete"},
    ("coordination.k8s.io", "leases"): {"get", "list", "create", "update"},
    ("", "serviceaccounts"): {"get", "create"},
    ("rbac.authorization.k8s.io", "rolebindings"): {"get", "create"},
    ("rbac.authorization.k8s.io", "clusterroles"): {"get", "bind"},
}
# What every worker needs in its namespace, besides the kubernetes plugin's rules.
WORKER_CALLS: dict[tuple[str, str], set[str]] = {
    ("conveyor.dev", "executions"): {"get", "list", "watch", "patch"},
    ("conveyor.dev", "executions/status"): {"get", "patch"},
    ("conveyor.dev", "deployments"): {"get"},
    ("", "configmaps"): {"get"},
    ("coordination.k8s.io", "leases"): {"get", "update"},
    ("", "events"): {"create"},
}


def _named(docs: tuple[dict[str, Any], ...], kind: str, name: str) -> list[dict[str, Any]]:
    return [doc for doc in of_kind(docs, kind) if doc["metadata"]["name"] == name]


def _operator_deployment(docs: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    (deployment,) = of_kind(docs, "Deployment")
    return deployment


def _container(docs: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    container: dict[str, Any] = _operator_deployment(docs)["spec"]["template"]["spec"]["containers"][0]
    return container


def _grants(rules: list[dict[str, Any]]) -> dict[tuple[str, str], set[str]]:
    granted: dict[tuple[str, str], set[str]] = {}
    for rule in rules:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                granted.setdefault((group, resource), set()).update(rule["verbs"])
    return granted


# ----- lint and schemas ---------------------------------------------------------------------------


def test_helm_lint_is_clean_in_strict_mode() -> None:
    proc = helm("lint", "--strict", str(CHART))
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_every_rendered_object_is_valid_against_the_kubernetes_schemas(value_set: str) -> None:
    docs = render(*VALUE_SETS[value_set])
    checked = 0
    for doc in docs:
        if doc["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # not a Kubernetes type: the Prometheus Operator's CRD is not in the schemas
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        checked += 1
    assert checked > 10


def test_values_schema_refuses_a_wildcard_plugin_resource() -> None:
    proc = helm(
        "template", RELEASE, str(CHART),
        "--set", "worker.pluginRules[0].apiGroups={apps}",
        "--set", "worker.pluginRules[0].resources={*}",
        "--set", "worker.pluginRules[0].verbs={get}",
    )  # fmt: skip
    assert proc.returncode != 0
    assert "pluginRules" in proc.stderr


def test_values_schema_refuses_an_unknown_value() -> None:
    proc = helm("template", RELEASE, str(CHART), "--set", "operator.replicaCount=3")
    assert proc.returncode != 0
    assert "replicaCount" in proc.stderr


# ----- CRDs ---------------------------------------------------------------------------------------


def test_chart_copy_of_the_crds_is_identical_to_the_generated_crds() -> None:
    generated = {path.name: path.read_bytes() for path in (REPO / "crds").glob("*.yaml")}
    copied = {path.name: path.read_bytes() for path in (CHART / "files" / "crds").glob("*.yaml")}
    assert copied == generated, "charts/conveyor/files/crds is stale: run `make manifests`"


def test_rendered_crds_are_the_generated_crds_plus_annotations() -> None:
    generated = {
        doc["metadata"]["name"]: doc
        for path in (REPO / "crds").glob("*.yaml")
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    }
    rendered = {}
    for crd in of_kind(render(), "CustomResourceDefinition"):
        crd = {**crd, "metadata": {k: v for k, v in crd["metadata"].items() if k != "annotations"}}
        rendered[crd["metadata"]["name"]] = crd
    assert rendered == generated


def test_crds_are_kept_on_uninstall() -> None:
    for crd in of_kind(render(), "CustomResourceDefinition"):
        assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def test_crds_install_false_renders_no_crds() -> None:
    assert of_kind(render(*VALUE_SETS["no-crds"]), "CustomResourceDefinition") == []


# ----- operator Deployment ------------------------------------------------------------------------


def test_operator_runs_two_replicas_by_default() -> None:
    assert _operator_deployment(render())["spec"]["replicas"] == 2


def test_operator_runs_conveyor_operator_with_leader_election() -> None:
    container = _container(render())
    assert container["command"] == ["conveyor"]
    assert container["args"][0] == "operator"
    assert "--no-leader-election" not in container["args"]
    assert "--identity=$(POD_NAME)" in container["args"]


def test_operator_watches_all_namespaces_by_default() -> None:
    assert "--all-namespaces" in _container(render())["args"]


def test_operator_watches_listed_namespaces_and_its_own() -> None:
    args = _container(render(*VALUE_SETS["watch-namespaces"]))["args"]
    watched = {arg.split("=", 1)[1] for arg in args if arg.startswith("--namespace=")}
    assert watched == {"shop", "web", NAMESPACE}
    assert "--all-namespaces" not in args


def test_operator_namespace_comes_from_the_pod() -> None:
    env = {item["name"]: item for item in _container(render())["env"]}
    assert env["CONVEYOR_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"


def test_probes_hit_the_health_endpoint_on_the_metrics_port() -> None:
    container = _container(render())
    (port,) = container["ports"]
    assert port["name"] == "metrics"
    assert f"--metrics-port={port['containerPort']}" in container["args"]
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "metrics"}


def test_operator_pod_meets_the_restricted_pod_security_standard() -> None:
    deployment = _operator_deployment(render())
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]["securityContext"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["allowPrivilegeEscalation"] is False
    assert container["capabilities"] == {"drop": ["ALL"]}
    assert container["readOnlyRootFilesystem"] is True


def test_operator_has_resources_and_spreads_over_nodes() -> None:
    deployment = _operator_deployment(render())
    pod = deployment["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"]["requests"]
    (spread,) = pod["topologySpreadConstraints"]
    assert spread["labelSelector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]


def test_workers_default_to_the_operator_image() -> None:
    container = _container(render())
    assert f"--worker-image={container['image']}" in container["args"]


def test_pod_disruption_budget_and_metrics_service_select_the_operator_pods() -> None:
    docs = render()
    pod_labels = _operator_deployment(docs)["spec"]["template"]["metadata"]["labels"]
    (pdb,) = of_kind(docs, "PodDisruptionBudget")
    (service,) = of_kind(docs, "Service")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"


# ----- ServiceMonitor -----------------------------------------------------------------------------


def test_no_service_monitor_without_the_prometheus_operator_api() -> None:
    assert of_kind(render(), "ServiceMonitor") == []


def test_service_monitor_when_the_prometheus_operator_api_is_served() -> None:
    assert len(of_kind(render("--api-versions", SERVICE_MONITOR_API), "ServiceMonitor")) == 1


def test_service_monitor_when_enabled_by_value() -> None:
    (monitor,) = of_kind(render(*VALUE_SETS["service-monitor"]), "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"


def test_service_monitor_disabled_by_value_even_with_the_api() -> None:
    docs = render("--api-versions", SERVICE_MONITOR_API, "--set", "metrics.serviceMonitor.enabled=false")
    assert of_kind(docs, "ServiceMonitor") == []


# ----- configuration ------------------------------------------------------------------------------


def test_config_map_from_values_is_a_valid_operator_configuration() -> None:
    docs = render(
        "--set", "config.maxRunningExecutions=4",
        "--set", "config.workerImage=example.com/worker:1",
        "--set", "config.systemWorkflows.maintenance.mapping=ops.maintenance",
        "--set", "config.systemWorkflows.maintenance.source.configMap=ops-workflows",
    )  # fmt: skip
    (config_map,) = _named(docs, "ConfigMap", "conveyor-config")
    assert config_map["metadata"]["namespace"] == NAMESPACE
    config = parse_operator_config(config_map["data"])
    assert config.max_running_executions == 4
    assert config.worker_image == "example.com/worker:1"
    assert config.system_workflows["maintenance"].mapping == "ops.maintenance"


def test_default_config_map_is_the_default_operator_configuration() -> None:
    (config_map,) = of_kind(render(), "ConfigMap")
    assert parse_operator_config(config_map["data"]) == parse_operator_config(None)


# ----- RBAC ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_no_rbac_rule_uses_a_wildcard(value_set: str) -> None:
    docs = render(*VALUE_SETS[value_set])
    for role in of_kind(docs, "Role") + of_kind(docs, "ClusterRole"):
        for rule in role["rules"]:
            for field in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule.get(field, []), f"{role['metadata']['name']}: {rule}"


def _operator_role(
    docs: tuple[dict[str, Any], ...], kind: str, namespace: str | None = None
) -> dict[str, Any]:
    named = _named(docs, kind, f"{RELEASE}-operator")
    (role,) = [doc for doc in named if doc["metadata"].get("namespace") == namespace]
    return role


def test_operator_cluster_role_grants_exactly_the_calls_the_operator_makes() -> None:
    assert _grants(_operator_role(render(), "ClusterRole")["rules"]) == OPERATOR_CALLS


def test_operator_reads_only_its_own_config_map() -> None:
    docs = render()
    (role,) = _named(docs, "Role", f"{RELEASE}-operator-config")
    assert role["metadata"]["namespace"] == NAMESPACE
    assert role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["configmaps"],
            "resourceNames": ["conveyor-config"],
            "verbs": ["get"],
        }
    ]


def test_watch_namespaces_gives_roles_not_a_cluster_role() -> None:
    docs = render(*VALUE_SETS["watch-namespaces"])
    assert _named(docs, "ClusterRole", f"{RELEASE}-operator") == []
    for namespace in ("shop", "web", NAMESPACE):
        assert _grants(_operator_role(docs, "Role", namespace)["rules"]) == OPERATOR_CALLS
        (binding,) = [
            doc
            for doc in of_kind(docs, "RoleBinding")
            if doc["metadata"]["name"] == f"{RELEASE}-operator" and doc["metadata"]["namespace"] == namespace
        ]
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": f"{RELEASE}-operator", "namespace": NAMESPACE}
        ]


def test_operator_may_read_and_bind_only_the_worker_cluster_role() -> None:
    rules = _operator_role(render(), "ClusterRole")["rules"]
    (bind,) = [rule for rule in rules if "clusterroles" in rule["resources"]]
    assert bind == {
        "apiGroups": ["rbac.authorization.k8s.io"],
        "resources": ["clusterroles"],
        "resourceNames": ["conveyor-worker"],
        "verbs": ["get", "bind"],
    }


def test_worker_cluster_role_grants_the_worker_calls_and_the_plugin_rules() -> None:
    (role,) = _named(render(), "ClusterRole", "conveyor-worker")
    granted = _grants(role["rules"])
    for resource, verbs in WORKER_CALLS.items():
        assert verbs <= granted[resource], resource
    plugin = yaml.safe_load((CHART / "values.yaml").read_text())["worker"]["pluginRules"]
    assert role["rules"][len(role["rules"]) - len(plugin):] == plugin


def test_worker_cluster_role_is_the_one_the_operator_creates_when_missing() -> None:
    from conveyor.controller.worker_identity import build_worker_cluster_role

    (role,) = _named(render(), "ClusterRole", "conveyor-worker")
    assert role["rules"] == build_worker_cluster_role()["rules"]


def test_only_the_system_worker_gets_an_account_from_the_chart_in_the_release_namespace() -> None:
    """Deployment workers get theirs from the operator (one per deployment): a namespace-wide
    `conveyor-worker` account elsewhere would be shared by every worker there."""
    docs = render(*VALUE_SETS["watch-namespaces"])
    accounts = {
        (doc["metadata"]["namespace"], doc["metadata"]["name"])
        for doc in of_kind(docs, "ServiceAccount")
        if doc["metadata"]["name"].startswith("conveyor-worker")
    }
    assert accounts == {(NAMESPACE, "conveyor-worker")}
    (binding,) = [
        doc
        for doc in of_kind(docs, "RoleBinding")
        if doc["metadata"]["name"].startswith("conveyor-worker")
    ]
    assert binding["metadata"]["namespace"] == NAMESPACE
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "conveyor-worker"
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "conveyor-worker", "namespace": NAMESPACE}
    ]


def test_worker_roles_grant_no_rbac_and_snapshots_only_what_they_need() -> None:
    docs = render()
    (worker,) = _named(docs, "ClusterRole", "conveyor-worker")
    groups = {group for rule in worker["rules"] for group in rule["apiGroups"]}
    assert "rbac.authorization.k8s.io" not in groups
    assert _named(docs, "ClusterRoleBinding", "conveyor-worker") == []
    snapshots = [
        doc for doc in of_kind(docs, "ClusterRole") if doc["metadata"]["name"].endswith("-system-worker")
    ]
    assert snapshots
    for role in snapshots:  # the system worker's snapshots: Conveyor objects, and namespaces to restore into
        assert _grants(role["rules"]) == {
            ("conveyor.dev", "deployments"): {"get", "list", "create"},
            ("conveyor.dev", "executions"): {"get", "list", "create"},
            ("conveyor.dev", "executions/status"): {"update"},
            ("", "namespaces"): {"get", "create"},
        }


def test_notes_name_the_first_command_to_run() -> None:
    proc = helm("install", RELEASE, str(CHART), "--namespace", NAMESPACE, "--dry-run=client")
    assert proc.returncode == 0, proc.stderr
    notes = proc.stdout.split("NOTES:", 1)[1]
    assert f"kubectl rollout status deployment/{RELEASE}-operator -n {NAMESPACE}" in notes
