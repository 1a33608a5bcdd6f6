"""`kubectl get` columns of the served kinds beyond the workloads in `tables`: Nodes, CronJobs,
networking, policy, autoscaling, scheduling, quotas and the admission webhooks.

Each printer follows kube-apiserver's (pkg/printers/internalversion) column names, order, types
and wide (priority 1) columns, so `kubectl get` and `-o wide` read as they do on a real cluster;
a kind missing here falls back to NAME and AGE, which a user notices at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from conveyor.sim.tables import (
    AGE,
    CREATED_AT,
    NAME,
    Cells,
    Column,
    _d,
    _name,
    age,
    format_label_selector,
)
from conveyor.sim.tables import _created as _age  # the printers' shared helpers, one copy


def _c(name: str, type_: str = "string", priority: int = 0) -> Column:
    return Column(name, type_, "", priority)


def _bool(value: Any) -> str:
    """printBoolPtr: Go's True/False, `<unset>` for a nil pointer."""
    if value is None:
        return "<unset>"
    return "True" if value else "False"


def _containers(pod_spec: Any) -> list[str]:
    containers = (pod_spec or {}).get("containers") or []
    return [",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers)]


# --- Node -----------------------------------------------------------------------------------------

def node_roles(labels: dict[str, Any]) -> str:
    roles = sorted({key.split("/", 1)[1] for key in labels if key.startswith("node-role.kubernetes.io/")
                    and key.split("/", 1)[1]} | ({str(labels["kubernetes.io/role"])}
                                                  if labels.get("kubernetes.io/role") else set()))
    return ",".join(roles) if roles else "<none>"


def _node_cells(node: dict[str, Any], now: datetime) -> list[Any]:
    conditions = _d(node, "status", "conditions") or []
    ready = next((c for c in conditions if c.get("type") == "Ready"), None)
    status = ["Unknown"] if ready is None else ["Ready" if ready.get("status") == "True" else "NotReady"]
    if _d(node, "spec", "unschedulable"):
        status.append("SchedulingDisabled")
    info = _d(node, "status", "nodeInfo") or {}
    addresses = _d(node, "status", "addresses") or []

    def address(kind: str) -> str:
        found = [a.get("address", "") for a in addresses if a.get("type") == kind]
        return found[0] if found else "<none>"

    return [_name(node), ",".join(status), node_roles(_d(node, "metadata", "labels") or {}), _age(node, now),
            info.get("kubeletVersion", ""), address("InternalIP"), address("ExternalIP"),
            info.get("osImage") or "<unknown>", info.get("kernelVersion") or "<unknown>",
            info.get("containerRuntimeVersion") or "<unknown>"]


_NODE = ((NAME, _c("Status"), _c("Roles"), AGE, _c("Version"), _c("Internal-IP", priority=1),
          _c("External-IP", priority=1), _c("OS-Image", priority=1), _c("Kernel-Version", priority=1),
          _c("Container-Runtime", priority=1)), _node_cells)


# --- batch, apps ------------------------------------------------------------------------------------

def _cronjob_cells(cj: dict[str, Any], now: datetime) -> list[Any]:
    spec = cj.get("spec") or {}
    last = _d(cj, "status", "lastScheduleTime")
    job_spec = _d(spec, "jobTemplate", "spec") or {}
    return [_name(cj), spec.get("schedule", ""), spec.get("timeZone") or "<none>", _bool(spec.get("suspend")),
            len(_d(cj, "status", "active") or []), age(last, now) if last else "<none>", _age(cj, now),
            *_containers(_d(job_spec, "template", "spec")), format_label_selector(job_spec.get("selector"))]


_CRONJOB = ((NAME, _c("Schedule"), _c("Timezone"), _c("Suspend", "boolean"), _c("Active", "integer"),
             _c("Last Schedule"), AGE, _c("Containers", priority=1), _c("Images", priority=1),
             _c("Selector", priority=1)), _cronjob_cells)


def _daemonset_cells(ds: dict[str, Any], now: datetime) -> list[Any]:
    status = ds.get("status") or {}

    def n(key: str) -> int:
        value = status.get(key)
        return value if isinstance(value, int) else 0

    node_selector = _d(ds, "spec", "template", "spec", "nodeSelector") or {}
    return [_name(ds), n("desiredNumberScheduled"), n("currentNumberScheduled"), n("numberReady"),
            n("updatedNumberScheduled"), n("numberAvailable"),
            ",".join(f"{k}={v}" for k, v in sorted(node_selector.items())) or "<none>", _age(ds, now),
            *_containers(_d(ds, "spec", "template", "spec")),
            format_label_selector(_d(ds, "spec", "selector"))]


_DAEMONSET = ((NAME, _c("Desired", "integer"), _c("Current", "integer"), _c("Ready", "integer"),
               _c("Up-to-date", "integer"), _c("Available", "integer"), _c("Node Selector"), AGE,
               _c("Containers", priority=1), _c("Images", priority=1), _c("Selector", priority=1)),
              _daemonset_cells)


def _controller_revision_cells(cr: dict[str, Any], now: datetime) -> list[Any]:
    owner = next((o for o in _d(cr, "metadata", "ownerReferences") or [] if o.get("controller")), None)
    controller = "<none>"
    if owner is not None:
        group = str(owner.get("apiVersion", "")).rpartition("/")[0]
        kind = str(owner.get("kind", "")).lower() + (f".{group}" if group else "")
        controller = f"{kind}/{owner.get('name', '')}"
    return [_name(cr), controller, cr.get("revision", 0), _age(cr, now)]


# --- networking, core ------------------------------------------------------------------------------

def _ingress_cells(ing: dict[str, Any], now: datetime) -> list[Any]:
    spec = ing.get("spec") or {}
    hosts = [r.get("host") for r in spec.get("rules") or [] if r.get("host")]
    shown = ",".join(hosts[:3]) + (f" + {len(hosts) - 3} more..." if len(hosts) > 3 else "")
    addresses = [a.get("ip") or a.get("hostname") or ""
                 for a in _d(ing, "status", "loadBalancer", "ingress") or []]
    return [_name(ing), spec.get("ingressClassName") or "<none>", shown or "*", ",".join(addresses),
            "80, 443" if spec.get("tls") else "80", _age(ing, now)]


_INGRESS = ((NAME, _c("Class"), _c("Hosts"), _c("Address"), _c("Ports"), AGE), _ingress_cells)


def _endpoint_slice_cells(es: dict[str, Any], now: datetime) -> list[Any]:
    ports = ",".join(str(p.get("port", "")) for p in es.get("ports") or []) or "<unset>"
    addresses = [a for e in es.get("endpoints") or [] for a in e.get("addresses") or []]
    shown = ",".join(addresses[:3]) + (f" + {len(addresses) - 3} more..." if len(addresses) > 3 else "")
    return [_name(es), es.get("addressType", ""), ports, shown or "<unset>", _age(es, now)]


def _pvc_cells(pvc: dict[str, Any], now: datetime) -> list[Any]:
    spec, status = pvc.get("spec") or {}, pvc.get("status") or {}
    phase = "Terminating" if _d(pvc, "metadata", "deletionTimestamp") else status.get("phase", "")
    modes = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX",
             "ReadWriteOncePod": "RWOP"}
    access = ",".join(modes.get(m, m) for m in status.get("accessModes") or [])
    return [_name(pvc), phase, spec.get("volumeName", ""), _d(status, "capacity", "storage") or "", access,
            spec.get("storageClassName") or "<unset>", spec.get("volumeAttributesClassName") or "<unset>",
            _age(pvc, now), spec.get("volumeMode") or "<unset>"]


def _quota_line(hard: dict[str, Any], used: dict[str, Any], limits: bool) -> str:
    keys = sorted(k for k in hard if k.startswith("limits.") == limits)
    return ", ".join(f"{k}: {used.get(k, '0')}/{hard[k]}" for k in keys)


def _quota_cells(quota: dict[str, Any], now: datetime) -> list[Any]:
    hard = _d(quota, "status", "hard") or _d(quota, "spec", "hard") or {}
    used = _d(quota, "status", "used") or {}
    return [_name(quota), _age(quota, now), _quota_line(hard, used, False), _quota_line(hard, used, True)]


# --- policy, scheduling, autoscaling ----------------------------------------------------------------

def _pdb_cells(pdb: dict[str, Any], now: datetime) -> list[Any]:
    spec = pdb.get("spec") or {}
    min_available = spec.get("minAvailable")
    max_unavailable = spec.get("maxUnavailable")
    return [_name(pdb), "N/A" if min_available is None else str(min_available),
            "N/A" if max_unavailable is None else str(max_unavailable),
            _d(pdb, "status", "disruptionsAllowed") or 0, _age(pdb, now)]


def _priority_class_cells(pc: dict[str, Any], now: datetime) -> list[Any]:
    return [_name(pc), pc.get("value", 0), bool(pc.get("globalDefault")), _age(pc, now),
            pc.get("preemptionPolicy") or "PreemptLowerPriority"]


def _hpa_targets(hpa: dict[str, Any]) -> str:
    current = {(m.get("resource") or {}).get("name"): m.get("resource") or {}
               for m in _d(hpa, "status", "currentMetrics") or [] if m.get("type") == "Resource"}
    shown: list[str] = []
    for metric in _d(hpa, "spec", "metrics") or []:
        if metric.get("type") != "Resource":
            shown.append("<unknown>/<unknown>")
            continue
        resource = metric.get("resource") or {}
        target = resource.get("target") or {}
        now_value = (current.get(resource.get("name")) or {}).get("current") or {}
        if target.get("averageUtilization") is not None:
            have = now_value.get("averageUtilization")
            value = f"{'<unknown>' if have is None else str(have) + '%'}/{target['averageUtilization']}%"
        else:
            have = now_value.get("averageValue")
            value = f"{'<unknown>' if have is None else have}/{target.get('averageValue', '<unknown>')}"
        shown.append(f"{resource.get('name', '')}: {value}")
    if not shown:
        return "<none>"
    return ", ".join(shown[:2]) + (f" + {len(shown) - 2} more..." if len(shown) > 2 else "")


def _hpa_cells(hpa: dict[str, Any], now: datetime) -> list[Any]:
    spec = hpa.get("spec") or {}
    ref = spec.get("scaleTargetRef") or {}
    min_replicas = spec.get("minReplicas")
    return [_name(hpa), f"{ref.get('kind', '')}/{ref.get('name', '')}", _hpa_targets(hpa),
            "<unset>" if min_replicas is None else str(min_replicas), spec.get("maxReplicas", 0),
            _d(hpa, "status", "currentReplicas") or 0, _age(hpa, now)]


def _webhooks_cells(cfg: dict[str, Any], now: datetime) -> list[Any]:
    return [_name(cfg), len(cfg.get("webhooks") or []), _age(cfg, now)]


_WEBHOOKS = ((NAME, _c("Webhooks", "integer"), AGE), _webhooks_cells)

PRINTERS: dict[tuple[str, str], tuple[tuple[Column, ...], Cells]] = {
    ("", "Node"): _NODE,
    ("batch", "CronJob"): _CRONJOB,
    ("apps", "DaemonSet"): _DAEMONSET,
    ("apps", "ControllerRevision"): ((NAME, _c("Controller"), _c("Revision", "integer"), AGE),
                                     _controller_revision_cells),
    ("networking.k8s.io", "Ingress"): _INGRESS,
    ("networking.k8s.io", "NetworkPolicy"): (
        (NAME, _c("Pod-Selector"), AGE),
        lambda o, now: [_name(o), format_label_selector(_d(o, "spec", "podSelector")), _age(o, now)]),
    ("discovery.k8s.io", "EndpointSlice"): ((NAME, _c("AddressType"), _c("Ports"), _c("Endpoints"), AGE),
                                            _endpoint_slice_cells),
    ("", "PersistentVolumeClaim"): ((NAME, _c("Status"), _c("Volume"), _c("Capacity"), _c("Access Modes"),
                                     _c("StorageClass"), _c("VolumeAttributesClass"), AGE,
                                     _c("VolumeMode", priority=1)), _pvc_cells),
    ("", "ResourceQuota"): ((NAME, AGE, _c("Request"), _c("Limit")), _quota_cells),
    ("", "LimitRange"): ((NAME, CREATED_AT),
                         lambda o, now: [_name(o), _d(o, "metadata", "creationTimestamp") or ""]),
    ("policy", "PodDisruptionBudget"): ((NAME, _c("Min Available"), _c("Max Unavailable"),
                                         _c("Allowed Disruptions", "integer"), AGE), _pdb_cells),
    ("scheduling.k8s.io", "PriorityClass"): ((NAME, _c("Value", "integer"), _c("Global-Default", "boolean"),
                                              AGE, _c("PreemptionPolicy")), _priority_class_cells),
    ("autoscaling", "HorizontalPodAutoscaler"): ((NAME, _c("Reference"), _c("Targets"), _c("MinPods"),
                                                  _c("MaxPods", "integer"), _c("Replicas", "integer"), AGE),
                                                 _hpa_cells),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"): _WEBHOOKS,
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): _WEBHOOKS,
}
