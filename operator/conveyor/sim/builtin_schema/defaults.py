"""Defaults of built-in kinds: what `kubectl get -o yaml` shows on a real cluster after a create.

Covers kube's SetDefaults_* for the kinds Conveyor writes, plus what admission adds to Pods
(service account, priority, the not-ready/unreachable tolerations) and the fields registry
strategies fill on create (a Job's generated selector and labels, a Service's cluster IP, a
Namespace's finalizer, phase and name label). A Job's selector needs `metadata.uid`, so the server
calls this after assigning the uid.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import threading
from collections.abc import Callable
from typing import Any

from conveyor.sim.builtin_schema.kinds import ResourceTypeLike
from conveyor.sim.schema.crd import apply_crd_defaults

Obj = dict[str, Any]

SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")
_allocated_ips: set[str] = {"10.96.0.1", "10.96.0.10"}  # the kubernetes and kube-dns services
_ip_lock = threading.Lock()


def _image_pull_policy(image: str) -> str:
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    tag = last.rpartition(":")[2] if ":" in last else ""
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def _probe(probe: Any) -> None:
    if not isinstance(probe, dict):
        return
    probe.setdefault("timeoutSeconds", 1)
    probe.setdefault("periodSeconds", 10)
    probe.setdefault("successThreshold", 1)
    probe.setdefault("failureThreshold", 3)
    if isinstance(probe.get("httpGet"), dict):
        probe["httpGet"].setdefault("path", "/")
        probe["httpGet"].setdefault("scheme", "HTTP")


def _container(c: Obj) -> None:
    if "image" in c and isinstance(c["image"], str):
        c.setdefault("imagePullPolicy", _image_pull_policy(c["image"]))
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("resources", {})
    for port in c.get("ports") or ():
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
    for env in c.get("env") or ():
        field_ref = ((env or {}).get("valueFrom") or {}).get("fieldRef")
        if isinstance(field_ref, dict):
            field_ref.setdefault("apiVersion", "v1")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _probe(c.get(probe))


def _volume(v: Obj) -> None:
    for source in ("configMap", "secret", "downwardAPI", "projected"):
        if isinstance(v.get(source), dict):
            v[source].setdefault("defaultMode", 420)
    if isinstance(v.get("hostPath"), dict):
        v["hostPath"].setdefault("type", "")


def default_pod_spec(spec: Obj) -> None:
    """SetDefaults_PodSpec and the container defaults; used for Pods and pod templates alike."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("enableServiceLinks", True)
    for key in ("containers", "initContainers"):
        for c in spec.get(key) or ():
            if isinstance(c, dict):
                _container(c)
    for v in spec.get("volumes") or ():
        if isinstance(v, dict):
            _volume(v)


def _qos_class(spec: Obj) -> str:
    containers = [c for c in spec.get("containers") or () if isinstance(c, dict)]
    resources = [c.get("resources") or {} for c in containers]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    guaranteed = all(
        (r.get("limits") or {}).get("cpu") and (r.get("limits") or {}).get("memory")
        and all((r.get("requests") or {}).get(k, (r.get("limits") or {}).get(k)) == (r.get("limits") or {})[k]
                for k in ("cpu", "memory"))
        for r in resources)
    return "Guaranteed" if guaranteed else "Burstable"


def _pod(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    default_pod_spec(spec)
    # Admission on a real cluster: ServiceAccount, Priority and DefaultTolerationSeconds.
    spec.setdefault("serviceAccountName", spec.get("serviceAccount") or "default")
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    spec.setdefault("priority", 0)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    tolerations = spec.setdefault("tolerations", [])
    present = {t.get("key") for t in tolerations if isinstance(t, dict)}
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        if key not in present:
            tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute",
                                "tolerationSeconds": 300})
    if not obj.get("status"):
        obj["status"] = {"phase": "Pending", "qosClass": _qos_class(spec)}


def _template(obj: Obj) -> None:
    template = (obj.get("spec") or {}).get("template")
    if isinstance(template, dict):
        template.setdefault("metadata", {})
        default_pod_spec(template.setdefault("spec", {}))


def _job(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    _template(obj)
    generate_job_selector(obj)


def generate_job_selector(obj: Obj) -> None:
    """A Job without `manualSelector` selects its pods by its own uid, and its template carries the
    labels that match (kube's job strategy does it at validation, once the uid and a generated name
    exist: so a create must call this after assigning them). Without it `kubectl logs job/x` lists
    every pod of the namespace."""
    spec = obj.setdefault("spec", {})
    meta = obj.get("metadata") or {}
    uid, name = meta.get("uid"), meta.get("name")
    if not spec.get("manualSelector") and uid and name:
        generated = {"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name,
                     "controller-uid": uid, "job-name": name}
        if not spec.get("selector"):
            spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
        labels = spec.setdefault("template", {}).setdefault("metadata", {}).setdefault("labels", {})
        for key, value in generated.items():
            labels.setdefault(key, value)


def _deployment(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxUnavailable", "25%")
        rolling.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    _template(obj)


def _replica_set(obj: Obj) -> None:
    obj.setdefault("spec", {}).setdefault("replicas", 1)
    _template(obj)


def allocate_cluster_ip(namespace: str, name: str) -> str:
    """A free address of the service range, stable for a name when free (deterministic tests)."""
    size = SERVICE_CIDR.num_addresses - 2
    start = int.from_bytes(hashlib.sha256(f"{namespace}/{name}".encode()).digest()[:4], "big") % size
    with _ip_lock:
        for step in range(size):
            ip = str(SERVICE_CIDR.network_address + 1 + (start + step) % size)
            if ip not in _allocated_ips:
                _allocated_ips.add(ip)
                return ip
    raise RuntimeError("service IP range exhausted")


def release_cluster_ip(ip: str) -> None:
    with _ip_lock:
        _allocated_ips.discard(ip)


def _service(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    stype = spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    for port in spec.get("ports") or ():
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            if "port" in port:
                port.setdefault("targetPort", port["port"])
    if stype == "ExternalName":
        return
    meta = obj.get("metadata") or {}
    if not spec.get("clusterIP"):
        spec["clusterIP"] = allocate_cluster_ip(meta.get("namespace") or "", meta.get("name") or "")
    spec.setdefault("clusterIPs", [spec["clusterIP"]])
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    spec.setdefault("internalTrafficPolicy", "Cluster")
    if stype in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
        for i, port in enumerate(spec.get("ports") or ()):
            if isinstance(port, dict):
                port.setdefault("nodePort", 30000 + (int(spec["clusterIP"].split(".")[-1]) * 7 + i) % 2768)
    obj.setdefault("status", {}).setdefault("loadBalancer", {})


def _namespace(obj: Obj) -> None:
    meta = obj.setdefault("metadata", {})
    if meta.get("name"):
        meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
    obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    obj.setdefault("status", {}).setdefault("phase", "Active")


def _secret(obj: Obj) -> None:
    """`stringData` is write-only: kube merges it into `data` (base64, winning over a `data` key of
    the same name) when it decodes a write, so it is never stored and readers (kubelet volumes and
    env) see every key in `data`."""
    obj.setdefault("type", "Opaque")
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = obj.get("data")
        if not isinstance(data, dict):
            data = obj["data"] = {}
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()


def _cron_job(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("suspend", False)
    spec.setdefault("concurrencyPolicy", "Allow")
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)
    job_spec = spec.setdefault("jobTemplate", {}).setdefault("spec", {})
    template = job_spec.get("template")
    if isinstance(template, dict):
        default_pod_spec(template.setdefault("spec", {}))


def _stateful_set(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("podManagementPolicy", "OrderedReady")
    strategy = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
    if strategy.get("type", "RollingUpdate") == "RollingUpdate":
        strategy.setdefault("type", "RollingUpdate")
        strategy.setdefault("rollingUpdate", {}).setdefault("partition", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("persistentVolumeClaimRetentionPolicy",
                    {"whenDeleted": "Retain", "whenScaled": "Retain"})
    _template(obj)


def _daemon_set(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    strategy = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
    if strategy.get("type", "RollingUpdate") == "RollingUpdate":
        strategy.setdefault("type", "RollingUpdate")
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxUnavailable", 1)
        rolling.setdefault("maxSurge", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    _template(obj)


def _priority_class(obj: Obj) -> None:
    obj.setdefault("preemptionPolicy", "PreemptLowerPriority")


def _horizontal_pod_autoscaler(obj: Obj) -> None:
    obj.setdefault("spec", {}).setdefault("minReplicas", 1)


DEFAULTERS: dict[tuple[str, str], Callable[[Obj], None]] = {
    ("", "Pod"): _pod,
    ("batch", "Job"): _job,
    ("apps", "Deployment"): _deployment,
    ("apps", "ReplicaSet"): _replica_set,
    ("", "Service"): _service,
    ("", "Namespace"): _namespace,
    ("", "Secret"): _secret,
    ("batch", "CronJob"): _cron_job,
    ("apps", "StatefulSet"): _stateful_set,
    ("apps", "DaemonSet"): _daemon_set,
    ("scheduling.k8s.io", "PriorityClass"): _priority_class,
    ("autoscaling", "HorizontalPodAutoscaler"): _horizontal_pod_autoscaler,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): apply_crd_defaults,
}


def apply_builtin_defaults(rt: ResourceTypeLike, obj: Obj) -> None:
    """Fill `obj` in place with the defaults of its kind (nothing for kinds without any)."""
    defaulter = DEFAULTERS.get((rt.group, rt.kind))
    if defaulter is not None:
        defaulter(obj)
