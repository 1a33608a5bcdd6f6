"""A list-then-watch of Executions that never gives up: what the worker claims and cancels from.

Why a hand-written watch over the official client's raw calls rather than `kubernetes.aio.watch`:
Conveyor's objects are plain JSON (custom resources), and the worker needs exact control of the
resourceVersion, bookmarks and 410 Gone to resume without missing a cancel request.

What must hold: after a (re)list every current object is delivered again (ADDED), so a change made
while the watch was down (a new pending execution, a cancel) is never lost; a watch resumes from the
last resourceVersion seen (bookmarks included), and a 410 Gone starts over with a list.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from kubernetes.aio import client as aio_client

from conveyor.api.names import EXECUTION, GROUP, VERSION
from conveyor.kube.api import KubeApi
from conveyor.locks.api import ApiError

logger = logging.getLogger(__name__)

WATCH_TIMEOUT_SECONDS = 55
RETRY_DELAY_SECONDS = 1.0


class _Gone(Exception):
    """The resourceVersion is too old: list again."""


@dataclass(frozen=True)
class WatchEvent:
    type: str  # ADDED | MODIFIED | DELETED
    object: dict[str, Any]


class ExecutionWatch:
    def __init__(
        self, api: KubeApi, api_client: aio_client.ApiClient, namespace: str, label_selector: str | None
    ) -> None:
        self._api = api
        self._client = api_client
        self._namespace = namespace
        self._selector = label_selector
        self._path = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{EXECUTION.plural}"

    def _query(self) -> dict[str, str]:
        return {"labelSelector": self._selector} if self._selector else {}

    async def list(self) -> tuple[list[dict[str, Any]], str]:
        listed = await self._api.request("GET", self._path, query=self._query())
        items = list(listed.get("items") or [])
        for item in items:  # list items may omit their namespace; everything downstream needs it
            item.setdefault("metadata", {}).setdefault("namespace", self._namespace)
        return items, str((listed.get("metadata") or {}).get("resourceVersion") or "")

    async def events(self) -> AsyncIterator[WatchEvent]:
        """Forever: every listed object as ADDED, then changes; relists after a 410 or an error."""
        while True:
            try:
                items, version = await self.list()
                for item in items:
                    yield WatchEvent("ADDED", item)
                while True:
                    async for event, seen in self._watch(version):
                        version = seen
                        if event is not None:  # None: a bookmark, which only moves the version
                            yield event
            except _Gone:
                continue
            except (TimeoutError, ApiError, OSError, ValueError) as error:
                logger.warning("watch of executions in %s: %s; listing again", self._namespace, error)
                await asyncio.sleep(RETRY_DELAY_SECONDS)  # the API is down or refusing: do not spin

    async def _watch(self, version: str) -> AsyncIterator[tuple[WatchEvent | None, str]]:
        query = {
            **self._query(),
            "watch": "true",
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(WATCH_TIMEOUT_SECONDS),
        }
        if version:
            query["resourceVersion"] = version
        method, url, headers, body, post = await self._client.param_serialize(
            "GET", self._path, query_params=list(query.items()),
            header_params={"Accept": "application/json"}, auth_settings=["BearerToken"],
        )
        response = await self._client.call_api(
            method, url, headers, body, post, _request_timeout=WATCH_TIMEOUT_SECONDS + 15
        )
        raw = response.response
        try:
            if response.status == 410:
                raise _Gone()
            if response.status >= 400:
                data = await response.read()
                raise ApiError(response.status, "", data.decode(errors="replace")[:200])
            while True:
                line = await raw.content.readline()
                if not line:
                    return
                if not line.strip():
                    continue
                message = json.loads(line)
                kind, obj = message.get("type"), message.get("object") or {}
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        raise _Gone()
                    code, reason = int(obj.get("code") or 500), str(obj.get("reason"))
                    raise ApiError(code, reason, str(obj.get("message")))
                version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
                if kind == "BOOKMARK":
                    yield None, version
                    continue
                obj.setdefault("metadata", {}).setdefault("namespace", self._namespace)
                yield WatchEvent(str(kind), obj), version
        finally:
            raw.release()
