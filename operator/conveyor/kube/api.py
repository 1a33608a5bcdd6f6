"""The operator's own reads and writes, as JSON over the official asyncio client (`kubernetes.aio`).

Why raw JSON rather than the generated typed models: Conveyor's objects are custom resources (plain
dicts anyway), the Lease protocol edits an annotation and the spec in one CAS, and pydantic models
of core types would be converted back and forth for nothing. The official client still does what
matters: kubeconfig and in-cluster credentials, TLS, bearer tokens, connection pooling.

Every write is counted by kind (`writes`): the benchmark reports API writes per execution.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any
from urllib.parse import quote

from kubernetes.aio import client as aio_client
from kubernetes.aio import config as aio_config

from conveyor.api.names import DEPLOYMENT, EXECUTION, GROUP, VERSION
from conveyor.locks.api import ApiError, Conflict, NotFound

MERGE_PATCH = "application/merge-patch+json"


_PROXY_ENV = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "netrc")


def _session_options() -> dict[str, Any]:
    """aiohttp's trust_env looks up proxies and reads ~/.netrc in a thread on every request: a
    quarter of the operator's busy CPU in the benchmark's profile. Only trust the environment when
    it says something (a kubeconfig's proxy-url does not depend on it)."""
    environ = {name.lower() for name in os.environ}
    return {} if environ.intersection(_PROXY_ENV) else {"trust_env": False}


async def load_client(kubeconfig: str | None) -> aio_client.ApiClient:
    """An API client from a kubeconfig file, or from the pod's service account when None."""
    configuration = aio_client.Configuration()
    configuration.client_session_kwargs = _session_options() or None
    if kubeconfig is None:
        aio_config.load_incluster_config(client_configuration=configuration)
    else:
        await aio_config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    return aio_client.ApiClient(configuration=configuration)


def _retry_after(value: str | None) -> float | None:
    """`Retry-After` in seconds (kube-apiserver sends an integer); an HTTP date is not honoured."""
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _error(status: int, data: bytes, retry_after: str | None = None) -> ApiError:
    try:
        body = json.loads(data)
        reason, message = str(body.get("reason", "")), str(body.get("message", ""))
    except ValueError:
        reason, message = "", data.decode(errors="replace")
    if status == 409:
        return Conflict(status, reason, message)
    if status == 404:
        return NotFound(status, reason, message)
    return ApiError(status, reason, message, retry_after=_retry_after(retry_after))


def _path(*parts: str) -> str:
    return "/" + "/".join(quote(part, safe="") for part in parts)


class KubeApi:
    """JSON calls on one ApiClient. Raises Conflict (409), NotFound (404) or ApiError."""

    def __init__(self, api_client: aio_client.ApiClient) -> None:
        self._client = api_client
        self.writes: Counter[str] = Counter()

    async def close(self) -> None:
        await self._client.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        count_as: str | None = None,
    ) -> Any:
        if count_as is not None:
            self.writes[count_as] += 1
        headers = {"Accept": "application/json", "Content-Type": content_type}
        method, url, headers, payload, post = await self._client.param_serialize(
            method,
            path,
            query_params=list((query or {}).items()) or None,
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        response = await self._client.call_api(method, url, headers, payload, post)
        data = await response.read()
        if response.status >= 400:
            error = _error(response.status, data, response.headers.get("Retry-After"))
            if response.status in (405, 400):  # our request was malformed: say which one
                error.args = (f"{error.args[0]} ({method} {path})",)
            raise error
        return json.loads(data) if data else None

    # ----- Conveyor objects ---------------------------------------------------------------------

    def _custom(
        self, plural: str, namespace: str | None, name: str | None = None, sub: str | None = None
    ) -> str:
        parts = ["apis", GROUP, VERSION]
        if namespace is not None:
            parts += ["namespaces", namespace]
        parts.append(plural)
        if name is not None:
            parts.append(name)
        if sub is not None:
            parts.append(sub)
        return _path(*parts)

    async def get_execution(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            result: dict[str, Any] = await self.request(
                "GET", self._custom(EXECUTION.plural, namespace, name)
            )
        except NotFound:
            return None
        return result

    async def list_executions(self, namespace: str | None) -> list[dict[str, Any]]:
        listed = await self.request("GET", self._custom(EXECUTION.plural, namespace))
        return list(listed.get("items") or [])

    async def get_deployment(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            result: dict[str, Any] = await self.request(
                "GET", self._custom(DEPLOYMENT.plural, namespace, name)
            )
        except NotFound:
            return None
        return result

    async def list_deployments(self, namespace: str | None) -> list[dict[str, Any]]:
        listed = await self.request("GET", self._custom(DEPLOYMENT.plural, namespace))
        return list(listed.get("items") or [])

    async def patch_custom(
        self, plural: str, namespace: str, name: str, patch: dict[str, Any], *, status: bool, count_as: str
    ) -> dict[str, Any]:
        """A JSON merge patch; with metadata.resourceVersion in it, a CAS (409 when it moved)."""
        result: dict[str, Any] = await self.request(
            "PATCH",
            self._custom(plural, namespace, name, "status" if status else None),
            body=patch,
            content_type=MERGE_PATCH,
            count_as=count_as,
        )
        return result

    # ----- any object, by its path (the worker's ServiceAccount, RoleBinding, ClusterRole) ------

    async def get_object(self, *parts: str) -> dict[str, Any] | None:
        """GET /parts...; None when it does not exist (403 and others raise)."""
        try:
            result: dict[str, Any] = await self.request("GET", _path(*parts))
        except NotFound:
            return None
        return result

    async def create_object(self, *parts: str, body: dict[str, Any], count_as: str) -> None:
        """POST to the collection /parts...; raises Conflict when it exists already."""
        await self.request("POST", _path(*parts), body=body, count_as=count_as)

    # ----- core objects -------------------------------------------------------------------------

    async def create_event(self, namespace: str, event: dict[str, Any]) -> None:
        await self.request(
            "POST", _path("api", "v1", "namespaces", namespace, "events"), body=event, count_as="event"
        )

    async def get_job(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            result: dict[str, Any] = await self.request(
                "GET", _path("apis", "batch", "v1", "namespaces", namespace, "jobs", name)
            )
        except NotFound:
            return None
        return result

    async def create_job(self, namespace: str, job: dict[str, Any]) -> None:
        await self.request(
            "POST", _path("apis", "batch", "v1", "namespaces", namespace, "jobs"), body=job, count_as="job"
        )

    async def delete_job(self, namespace: str, name: str) -> None:
        await self.request(
            "DELETE",
            _path("apis", "batch", "v1", "namespaces", namespace, "jobs", name),
            body={"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"},
            count_as="job",
        )

    async def delete_pod(self, namespace: str, name: str) -> None:
        try:
            await self.request(
                "DELETE", _path("api", "v1", "namespaces", namespace, "pods", name), count_as="pod"
            )
        except NotFound:
            pass

    async def get_config_map(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            result: dict[str, Any] = await self.request(
                "GET", _path("api", "v1", "namespaces", namespace, "configmaps", name)
            )
        except NotFound:
            return None
        return result

    # ----- Leases (conveyor.locks.api.LeaseApi) -------------------------------------------------

    def _lease(self, namespace: str | None, name: str | None = None) -> str:
        parts = ["apis", "coordination.k8s.io", "v1"]
        if namespace is not None:
            parts += ["namespaces", namespace]
        parts.append("leases")
        if name is not None:
            parts.append(name)
        return _path(*parts)

    async def get_lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            result: dict[str, Any] = await self.request("GET", self._lease(namespace, name))
        except NotFound:
            return None
        return result

    async def create_lease(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.request(
            "POST", self._lease(namespace), body=body, count_as="lease"
        )
        return result

    async def replace_lease(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.request(
            "PUT", self._lease(namespace, name), body=body, count_as="lease"
        )
        return result

    async def list_leases(self, namespace: str | None, label_selector: str) -> list[dict[str, Any]]:
        listed = await self.request("GET", self._lease(namespace), query={"labelSelector": label_selector})
        items: list[dict[str, Any]] = list(listed.get("items") or [])
        for item in items:  # list items may omit their namespace on some servers; the Lease needs it
            item.setdefault("metadata", {}).setdefault("namespace", namespace)
        return items
