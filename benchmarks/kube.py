"""A minimal asyncio client of the API (aiohttp, HTTPS, bearer token) and a watch recorder.

Why not the official client: the benchmark shares the machine's two cores with what it measures,
so its own requests and watch parsing must cost as little as possible; and the floor (floor.py)
must be the cheapest honest way to issue the writes, which is plain aiohttp.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import ssl
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import yaml

GROUP_PATH = "/apis/conveyor.dev/v1alpha1"
STAMPS = ("createdAt", "admittedAt", "startedAt", "endedAt")


class ApiFailure(Exception):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"{status}: {body[:300]}")
        self.status = status


class Kube:
    """One aiohttp session to the server named by a kubeconfig (first cluster and user)."""

    def __init__(self, kubeconfig: Path) -> None:
        config = yaml.safe_load(kubeconfig.read_text())
        cluster = config["clusters"][0]["cluster"]
        self.server: str = cluster["server"]
        authority = base64.b64decode(cluster["certificate-authority-data"]).decode()
        self._ssl = ssl.create_default_context(cadata=authority)
        self._headers = {"Authorization": f"Bearer {config['users'][0]['user']['token']}"}
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers=self._headers,
                connector=aiohttp.TCPConnector(ssl=self._ssl, limit=64),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        ok: tuple[int, ...] = (200, 201),
    ) -> Any:
        data = None if body is None else json.dumps(body)
        headers = {"Content-Type": content_type} if body is not None else {}
        async with self.session.request(method, self.server + path, data=data, headers=headers) as response:
            text = await response.text()
            if response.status not in ok:
                raise ApiFailure(response.status, text)
            return json.loads(text) if text else None

    async def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.call("POST", path, body)
        return result

    async def ensure(self, path: str, body: dict[str, Any]) -> None:
        """Create, or leave what exists (409)."""
        await self.call("POST", path, body, ok=(200, 201, 409))

    async def merge_patch(self, path: str, patch: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.call("PATCH", path, patch, "application/merge-patch+json")
        return result

    async def namespace(self, name: str) -> None:
        await self.ensure(
            "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        )


@dataclass
class PhaseTimes:
    """When this process first saw each phase of one Execution (monotonic seconds)."""

    namespace: str
    spec: dict[str, Any]
    seen: dict[str, float] = field(default_factory=dict)
    phases: list[str] = field(default_factory=list)
    stamps: dict[str, float] = field(default_factory=dict)
    """status.createdAt/admittedAt/startedAt/endedAt as Unix seconds: where the time went."""


class WatchRecorder:
    """Follows one watch URL (from "now") and hands every event to `on_event` with its arrival time.

    A watch that ends (server timeout) is resumed from the last resourceVersion, so no event is
    missed; bookmarks are asked for and skipped."""

    def __init__(self, kube: Kube, path: str, on_event: Callable[[str, dict[str, Any], float], None]) -> None:
        self._kube = kube
        self._path = path
        self._on_event = on_event
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()
        self.last_event = time.monotonic()

    async def start(self) -> WatchRecorder:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self.ready.wait(), 30)
        return self

    async def _run(self) -> None:
        listed = await self._kube.call("GET", self._path + "?limit=1")
        version = listed["metadata"]["resourceVersion"]
        while True:
            url = (
                f"{self._kube.server}{self._path}?watch=true&allowWatchBookmarks=true"
                f"&resourceVersion={version}&timeoutSeconds=290"
            )
            async with self._kube.session.get(url) as response:
                if response.status != 200:
                    raise ApiFailure(response.status, await response.text())
                self.ready.set()
                async for line in response.content:
                    now = time.monotonic()
                    event = json.loads(line)
                    obj = event["object"]
                    if event["type"] == "ERROR":
                        raise ApiFailure(obj.get("code", 0), str(obj.get("message")))
                    version = obj["metadata"]["resourceVersion"]
                    if event["type"] != "BOOKMARK":
                        self.last_event = now
                        self._on_event(event["type"], obj, now)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class ExecutionTimeline:
    """Phase arrival times of every Execution, and (for the invariant checker) the sequence of
    phase changes as minimal objects. Kept small: the recorder shares the CPU with what it measures."""

    def __init__(self) -> None:
        self.executions: dict[str, PhaseTimes] = {}
        self.history: list[tuple[str, dict[str, Any]]] = []
        self._waiters: dict[str, list[tuple[frozenset[str], asyncio.Future[None]]]] = {}

    def on_event(self, kind: str, obj: dict[str, Any], now: float) -> None:
        meta = obj["metadata"]
        key = f"{meta['namespace']}/{meta['name']}"
        phase = (obj.get("status") or {}).get("phase")
        times = self.executions.get(key)
        if times is None:
            times = self.executions[key] = PhaseTimes(meta["namespace"], obj.get("spec") or {})
        status = obj.get("status") or {}
        for stamp in STAMPS:
            if stamp not in times.stamps and status.get(stamp):
                times.stamps[stamp] = datetime.fromisoformat(status[stamp]).timestamp()
        if kind != "DELETED" and phase is not None and phase not in times.seen:
            times.seen[phase] = now
            for phases, waiter in self._waiters.get(key, []):
                if phase in phases and not waiter.done():
                    waiter.set_result(None)
        if kind == "DELETED" or not times.phases or times.phases[-1] != phase:
            if phase is not None:
                times.phases.append(phase)
            self.history.append(
                (kind, {"metadata": {"name": key}, "spec": obj.get("spec") or {}, "status": {"phase": phase}})
            )

    async def wait_for(self, key: str, phases: frozenset[str], within: float) -> bool:
        """Whether `key` reached one of `phases` within `within` seconds."""
        times = self.executions.get(key)
        if times is not None and phases & times.seen.keys():
            return True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (phases, waiter)
        self._waiters.setdefault(key, []).append(entry)
        try:
            await asyncio.wait_for(waiter, within)
            return True
        except TimeoutError:
            return False
        finally:
            self._waiters[key].remove(entry)
            if not self._waiters[key]:
                del self._waiters[key]

    def reached(self, keys: list[str], phases: set[str]) -> int:
        return sum(1 for key in keys if key in self.executions and phases & self.executions[key].seen.keys())


class WriteCounter:
    """Counts watch events (each one is a write that changed an object) by resource."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def recorder(self, resource: str) -> Callable[[str, dict[str, Any], float], None]:
        def count(kind: str, obj: dict[str, Any], now: float) -> None:
            self.counts[resource] += 1

        return count
