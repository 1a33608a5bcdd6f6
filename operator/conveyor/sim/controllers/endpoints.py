"""The Endpoints and EndpointSlice controllers in one: for every Service with a selector, an
Endpoints object of the same name listing the matching Pods (ready ones under `addresses`, the
others under `notReadyAddresses`) with the Service's ports resolved to the containers' target
ports, and one EndpointSlice (`<service>-<suffix>`, labelled `kubernetes.io/service-name`, owned by
the Service) with the same Pods and their ready/serving conditions.

`kubectl describe service` reads the slices, `kubectl get endpoints` the Endpoints. Every sim Pod
shares the host's address, so the addresses differ only by their `targetRef`; nothing routes to
them (see "No networking"). Services without a selector keep what their users write, as in kube.
"""

from __future__ import annotations

from typing import Any

from conveyor.sim.controllers.client import PODS, Client, Resource
from conveyor.sim.controllers.jobs import is_active, is_ready
from conveyor.sim.controllers.loop import Controller, Key, own_key

SERVICES = Resource("", "v1", "services")
ENDPOINTS = Resource("", "v1", "endpoints")
ENDPOINTSLICES = Resource("discovery.k8s.io", "v1", "endpointslices")
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY = "endpointslice-controller.k8s.io"


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def _target_port(port: dict[str, Any], pod: dict[str, Any]) -> int | None:
    target = port.get("targetPort", port.get("port"))
    if isinstance(target, int):
        return target
    for container in (pod.get("spec") or {}).get("containers") or ():
        for declared in container.get("ports") or ():
            if declared.get("name") == target:
                return int(declared["containerPort"])
    return int(target) if isinstance(target, str) and target.isdigit() else None


def build_subsets(service: dict[str, Any], pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pods grouped by their resolved port list, as kube's controller packs subsets."""
    groups: dict[tuple[tuple[str, int, str], ...], dict[str, list[dict[str, Any]]]] = {}
    for pod in pods:
        ports = []
        for port in (service.get("spec") or {}).get("ports") or ():
            number = _target_port(port, pod)
            if number is not None:
                ports.append((port.get("name", ""), number, port.get("protocol", "TCP")))
        address = {
            "ip": (pod.get("status") or {}).get("podIP") or "127.0.0.1",
            "nodeName": (pod.get("spec") or {}).get("nodeName", ""),
            "targetRef": {"kind": "Pod", "namespace": pod["metadata"]["namespace"],
                          "name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"]},
        }
        group = groups.setdefault(tuple(ports), {"addresses": [], "notReadyAddresses": []})
        group["addresses" if is_ready(pod) else "notReadyAddresses"].append(address)
    subsets = []
    for ports_key, group in groups.items():
        subset: dict[str, Any] = {k: v for k, v in group.items() if v}
        subset["ports"] = [{**({"name": n} if n else {}), "port": p, "protocol": proto}
                           for n, p, proto in ports_key]
        subsets.append(subset)
    return subsets


def build_slice_fields(service: dict[str, Any], pods: list[dict[str, Any]]) -> dict[str, Any]:
    """The `endpoints` and `ports` of the Service's EndpointSlice (ports from the first Pod that
    resolves them, as a slice holds one port list)."""
    endpoints = []
    ports: list[dict[str, Any]] = []
    for pod in pods:
        ready = is_ready(pod)
        endpoints.append({
            "addresses": [(pod.get("status") or {}).get("podIP") or "127.0.0.1"],
            "conditions": {"ready": ready, "serving": ready, "terminating": False},
            "nodeName": (pod.get("spec") or {}).get("nodeName", ""),
            "targetRef": {"kind": "Pod", "namespace": pod["metadata"]["namespace"],
                          "name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"]},
        })
        if not ports:
            for port in (service.get("spec") or {}).get("ports") or ():
                number = _target_port(port, pod)
                if number is not None:
                    ports.append({"name": port.get("name", ""), "port": number,
                                  "protocol": port.get("protocol", "TCP")})
    return {"endpoints": endpoints, "ports": ports}


class EndpointsController:
    def __init__(self, client: Client) -> None:
        self.client = client
        self._selectors: dict[Key, dict[str, str]] = {}  # the Services seen, to map Pods to them
        self.controller = Controller(
            "endpoint-controller", client, self.reconcile,
            [(SERVICES, self._service_key), (PODS, self._pod_keys)],
        )

    def _service_key(self, service: dict[str, Any]) -> list[Key]:
        keys = own_key(service)
        self._selectors[keys[0]] = dict((service.get("spec") or {}).get("selector") or {})
        return keys

    def _pod_keys(self, pod: dict[str, Any]) -> list[Key]:
        namespace = pod["metadata"].get("namespace") or ""
        labels = pod["metadata"].get("labels") or {}
        return [key for key, selector in self._selectors.items()
                if key[0] == namespace and selector and _matches(selector, labels)]

    async def run(self) -> None:
        await self.controller.run()

    async def reconcile(self, key: Key) -> float | None:
        namespace, name = key
        service = await self.client.get(SERVICES, namespace, name)
        if service is None:
            self._selectors.pop(key, None)
            await self.client.delete(ENDPOINTS, namespace, name)
            return None
        selector = (service.get("spec") or {}).get("selector") or {}
        if not selector:
            return None
        pods = [p for p in await self.client.list(PODS, namespace, selector) if is_active(p)]
        pods.sort(key=lambda p: p["metadata"]["name"])
        subsets = build_subsets(service, pods)
        current = await self.client.get(ENDPOINTS, namespace, name)
        labels = dict(service["metadata"].get("labels") or {})
        if current is None:
            body: dict[str, Any] = {"apiVersion": "v1", "kind": "Endpoints",
                    "metadata": {"name": name, "namespace": namespace, "labels": labels}}
            if subsets:
                body["subsets"] = subsets
            await self.client.create(ENDPOINTS, namespace, body)
        elif (current.get("subsets") or []) != subsets:
            await self.client.modify(ENDPOINTS, namespace, name, lambda obj: _set_subsets(obj, subsets))
        await self._sync_slice(service, pods)
        return None

    async def _sync_slice(self, service: dict[str, Any], pods: list[dict[str, Any]]) -> None:
        namespace, name = service["metadata"]["namespace"], service["metadata"]["name"]
        fields = build_slice_fields(service, pods)
        slices = await self.client.list(ENDPOINTSLICES, namespace, {SERVICE_NAME_LABEL: name})
        if not slices:
            await self.client.create(ENDPOINTSLICES, namespace, {
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {
                    "generateName": f"{name}-",
                    "namespace": namespace,
                    "labels": {SERVICE_NAME_LABEL: name,
                               "endpointslice.kubernetes.io/managed-by": MANAGED_BY},
                    "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": name,
                                         "uid": service["metadata"]["uid"], "controller": True,
                                         "blockOwnerDeletion": True}],
                },
                "addressType": "IPv4",
                **fields,
            })
            return
        current = slices[0]
        if current.get("endpoints") != fields["endpoints"] or current.get("ports") != fields["ports"]:
            def change(obj: dict[str, Any]) -> bool:
                obj.update(fields)
                return True

            await self.client.modify(ENDPOINTSLICES, namespace, current["metadata"]["name"], change)


def _set_subsets(obj: dict[str, Any], subsets: list[dict[str, Any]]) -> bool:
    if subsets:
        obj["subsets"] = subsets
    else:
        obj.pop("subsets", None)
    return True
