"""The Node the sim's kubelet registers, as a real kubelet reports it: Ready and pressure
conditions, capacity and allocatable from the host, system info, and the node Lease in
`kube-node-lease` (`kubectl describe node` reads it; `kubectl drain` and schedulers read capacity).
"""

from __future__ import annotations

import os
import platform
import shutil
from typing import Any

KUBELET_VERSION = "v1.35.0-conveyor-sim"
MAX_PODS = "110"  # the kubelet's default --max-pods
LEASE_SECONDS = 40  # the kubelet's default node lease duration


def _memory_kib() -> int:
    """Host memory (the kubelet reads cAdvisor's machine info, the same /proc/meminfo figure)."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 4 * 1024 * 1024


def capacity(root: str) -> dict[str, str]:
    """What the host offers; allocatable is the same (the sim reserves nothing for system daemons)."""
    try:
        storage = shutil.disk_usage(root).total // 1024
    except OSError:
        storage = 0
    return {"cpu": str(os.cpu_count() or 1), "memory": f"{_memory_kib()}Ki",
            "ephemeral-storage": f"{storage}Ki", "pods": MAX_PODS, "hugepages-2Mi": "0"}


def _condition(ctype: str, status: str, reason: str, message: str, at: str) -> dict[str, str]:
    return {"type": ctype, "status": status, "reason": reason, "message": message,
            "lastHeartbeatTime": at, "lastTransitionTime": at}


def node_status(node_name: str, host_ip: str, root: str, at: str) -> dict[str, Any]:
    """The status a freshly registered, healthy kubelet posts."""
    resources = capacity(root)
    uname = platform.uname()
    return {
        "capacity": resources,
        "allocatable": dict(resources),
        "conditions": [
            _condition("MemoryPressure", "False", "KubeletHasSufficientMemory",
                       "kubelet has sufficient memory available", at),
            _condition("DiskPressure", "False", "KubeletHasNoDiskPressure",
                       "kubelet has no disk pressure", at),
            _condition("PIDPressure", "False", "KubeletHasSufficientPID",
                       "kubelet has sufficient PID available", at),
            _condition("Ready", "True", "KubeletReady", "kubelet is posting ready status", at),
        ],
        "addresses": [{"type": "InternalIP", "address": host_ip}, {"type": "Hostname", "address": node_name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "machineID": "", "systemUUID": "", "bootID": "",
            "kernelVersion": uname.release,
            "osImage": "Conveyor sim (local processes)",
            "containerRuntimeVersion": "conveyor-sim://1",
            "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": "",
            "operatingSystem": "linux",
            "architecture": {"x86_64": "amd64", "aarch64": "arm64"}.get(uname.machine, uname.machine),
        },
    }


def node_lease(node_name: str, node_uid: str, renew_time: str) -> dict[str, Any]:
    """The Lease a kubelet renews as its heartbeat, owned by its Node."""
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": node_name,
            "namespace": "kube-node-lease",
            "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": node_name, "uid": node_uid}],
        },
        "spec": {"holderIdentity": node_name, "leaseDurationSeconds": LEASE_SECONDS, "renewTime": renew_time},
    }
