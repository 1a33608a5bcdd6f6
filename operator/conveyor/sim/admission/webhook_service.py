"""Where a webhook's `clientConfig.service` is reached: the Service's Endpoints, as kube-apiserver
does with endpoint routing (the way it reaches aggregated API servers and webhooks when cluster IPs
are not routable from it, which is always the case in the sim).

Why this works locally: the sim's kubelet runs every Pod as local processes sharing the host's
network and reports `podIP` 127.0.0.1; the Endpoints controller lists ready Pods at that address
with each Service port resolved to the container port (targetPort). A webhook server run as a Pod
(or any process behind a selector-less Service whose Endpoints a user wrote) therefore listens at
`<address>:<targetPort>`. The cluster IP is never used: nothing routes it.

Resolution follows kube's endpoint resolver and its messages: the Service must exist and be of a
routable type, have a port numbered as the webhook's `port`, and the Endpoints of the same name
must list a ready address for the port of the same name. Every failure is a call failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conveyor.sim.admission.webhook_config import ServiceRef

if TYPE_CHECKING:
    from conveyor.sim.api import ApiService

ROUTABLE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer")


class Unresolvable(Exception):
    """The Service cannot be turned into an address; the text is kube's reason."""


@dataclass(frozen=True)
class Address:
    host: str
    port: int


def _service_port(service: dict[str, Any], ref: ServiceRef) -> dict[str, Any]:
    for port in (service.get("spec") or {}).get("ports") or ():
        if port.get("port") == ref.port:
            return dict(port)
    raise Unresolvable(f'no service port {ref.port} found for service "{ref.name}"')


def resolve(api: ApiService, ref: ServiceRef) -> Address:
    """A ready endpoint of the Service (the first, for a deterministic sim; kube picks at random)."""
    service = api.store.get("", "services", ref.namespace, ref.name)
    if service is None:
        raise Unresolvable(f'service "{ref.name}" not found')
    service_type = (service.get("spec") or {}).get("type") or "ClusterIP"
    if service_type not in ROUTABLE_TYPES:
        raise Unresolvable(f'unsupported service type "{service_type}"')
    port_name = _service_port(service, ref).get("name") or ""
    endpoints = api.store.get("", "endpoints", ref.namespace, ref.name)
    if endpoints is None:
        raise Unresolvable(f'endpoints "{ref.name}" not found')
    for subset in endpoints.get("subsets") or ():
        for port in subset.get("ports") or ():
            if (port.get("name") or "") != port_name:
                continue
            for address in subset.get("addresses") or ():
                if address.get("ip"):
                    return Address(str(address["ip"]), int(port["port"]))
    raise Unresolvable(f'no endpoints available for service "{ref.name}"')
