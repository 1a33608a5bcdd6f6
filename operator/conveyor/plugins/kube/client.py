"""A synchronous JSON client of the Kubernetes API for workflow code (which runs in threads).

Why not the worker's `KubeApi`: that one is asyncio and lives on the worker's event loop; workflow
code and operations run in their own threads and may block, so they get a client of their own, the
official sync client (`kubernetes.client.ApiClient`) used for what it does well (kubeconfig and
in-cluster credentials, TLS, token refresh, connection pooling), with plain dicts as bodies: the
plugin applies arbitrary kinds, including custom resources no generated model knows.

Credentials, in order: an explicit kubeconfig path, `$KUBECONFIG` (the local control plane's kubelet
sets it in every pod), the pod's service account, `~/.kube/config`. One client per source is cached
per process (thread-safe); discovery results are cached per client and refreshed once on a miss, so
a kind whose CRD was just applied is found.

Errors: every failure is a `KubeApiError` with the HTTP status (0 when the server could not be
reached), the server's reason and message, and `Retry-After`; `transient` says whether a retry may
fix it (connection failures, 429, 5xx), which the plugin maps onto RecoverableError.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import urllib3
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
REQUEST_TIMEOUT = 30.0
LIST_PAGE_SIZE = 250
NO_CREDENTIALS = "NoCredentials"


class KubeApiError(Exception):
    """A failed API call: `status` 0 means the server was not reached."""

    def __init__(self, status: int, reason: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(f"{status} {reason}: {message}" if status else f"{reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.retry_after = retry_after

    @property
    def transient(self) -> bool:
        """Whether the same call may succeed later: unreachable server, throttled, server-side error
        (credentials that cannot be loaded will not load better later)."""
        if self.status == 0:
            return self.reason != NO_CREDENTIALS
        return self.status == 429 or self.status >= 500

    @property
    def not_found(self) -> bool:
        return self.status == 404


@dataclass(frozen=True)
class ResourceInfo:
    """Where a kind lives in the API: `/api/v1` or `/apis/<group>/<version>`, its plural, its scope."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def base(self) -> str:
        return "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"

    def path(self, namespace: str | None = None, name: str | None = None, sub: str | None = None) -> str:
        """The collection or object path; `namespace` is ignored for cluster-scoped kinds."""
        parts = [self.base]
        if self.namespaced and namespace:
            parts.append(f"namespaces/{quote(namespace, safe='')}")
        parts.append(self.plural)
        if name is not None:
            parts.append(quote(name, safe=""))
        if sub is not None:
            parts.append(sub)
        return "/".join(parts)


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    value = (headers or {}).get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _error_from_body(status: int, data: bytes, headers: Mapping[str, str] | None) -> KubeApiError:
    try:
        body = json.loads(data)
        reason, message = str(body.get("reason", "")), str(body.get("message", ""))
    except (ValueError, AttributeError):
        reason, message = "", data.decode(errors="replace")[:1000]
    return KubeApiError(status, reason or "Error", message or f"HTTP {status}", _retry_after(headers))


class KubeClient:
    """JSON requests over one official ApiClient; raises KubeApiError."""

    def __init__(self, api_client: k8s_client.ApiClient) -> None:
        self.api_client = api_client
        self._discovery: dict[str, dict[str, ResourceInfo]] = {}
        self._lock = threading.Lock()

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | int | bool] | None = None,
        body: Any = None,
        content_type: str = JSON,
        timeout: float = REQUEST_TIMEOUT,
    ) -> Any:
        params = [(key, str(value).lower() if isinstance(value, bool) else str(value))
                  for key, value in (query or {}).items()]
        headers = {"Accept": JSON, "Content-Type": content_type}
        try:
            method, url, headers, payload, post = self.api_client.param_serialize(
                method, path, query_params=params or None, header_params=headers, body=body,
                auth_settings=["BearerToken"],
            )
            response = self.api_client.call_api(method, url, headers, payload, post, _request_timeout=timeout)
            data = response.read()
        except ApiException as error:  # TLS failures and retried 429s surface this way
            raise KubeApiError(error.status or 0, str(error.reason or "Error"), str(error.body or error),
                               _retry_after(error.headers)) from error
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise KubeApiError(0, "Unreachable", f"{type(error).__name__}: {error}") from error
        if response.status >= 400:
            raise _error_from_body(response.status, data, response.headers)
        return json.loads(data) if data else None

    def get(self, path: str) -> dict[str, Any] | None:
        """The object at `path`, or None when it does not exist."""
        try:
            found: dict[str, Any] = self.request("GET", path)
        except KubeApiError as error:
            if error.not_found:
                return None
            raise
        return found

    def list(self, path: str, label_selector: str | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a collection, page by page (a cluster-wide list can be large)."""
        token: str | None = None
        while True:
            query: dict[str, str | int | bool] = {"limit": LIST_PAGE_SIZE}
            if label_selector:
                query["labelSelector"] = label_selector
            if token:
                query["continue"] = token
            page = self.request("GET", path, query=query)
            yield from page.get("items") or []
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return

    # ----- discovery ----------------------------------------------------------------------------

    def _resources(self, api_version: str, refresh: bool) -> dict[str, ResourceInfo]:
        with self._lock:
            cached = self._discovery.get(api_version)
        if cached is not None and not refresh:
            return cached
        path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        try:
            listed = self.request("GET", path)
        except KubeApiError as error:
            if error.not_found:
                listed = {"resources": []}
            else:
                raise
        found = {
            entry["kind"]: ResourceInfo(
                api_version, entry["kind"], entry["name"], bool(entry.get("namespaced"))
            )
            for entry in listed.get("resources") or []
            if "/" not in entry.get("name", "/")
        }
        with self._lock:
            self._discovery[api_version] = found
        return found

    def resource(self, api_version: str, kind: str) -> ResourceInfo | None:
        """Where `kind` of `api_version` is served, or None when the server does not serve it (asked
        twice: a CRD applied a moment ago may not have been in the cached discovery)."""
        info = self._resources(api_version, refresh=False).get(kind)
        if info is None:
            info = self._resources(api_version, refresh=True).get(kind)
        return info


_clients: dict[str, KubeClient] = {}
_clients_lock = threading.Lock()
IN_CLUSTER = "<in-cluster>"


def _source(kubeconfig: str | None) -> str:
    if kubeconfig:
        return kubeconfig
    if os.environ.get("KUBECONFIG"):
        return os.environ["KUBECONFIG"].split(os.pathsep)[0]
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return IN_CLUSTER
    return os.path.expanduser("~/.kube/config")


def _build(source: str) -> KubeClient:
    configuration = k8s_client.Configuration()
    try:
        if source == IN_CLUSTER:
            k8s_config.load_incluster_config(client_configuration=configuration)
        else:
            k8s_config.load_kube_config(config_file=source, client_configuration=configuration)
    except (ConfigException, OSError) as error:
        message = f"cannot load API credentials from {source}: {error}"
        raise KubeApiError(0, NO_CREDENTIALS, message) from error
    return KubeClient(k8s_client.ApiClient(configuration))


def client_for(kubeconfig: str | None = None) -> KubeClient:
    """The process's client for `kubeconfig` (see the module docstring for the default)."""
    source = _source(kubeconfig)
    with _clients_lock:
        found = _clients.get(source)
        if found is None:
            found = _clients[source] = _build(source)
        return found
