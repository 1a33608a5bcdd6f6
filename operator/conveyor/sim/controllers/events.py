"""Events the sim's controllers, scheduler and kubelet record, as their kube counterparts do:
what `kubectl describe` shows under Events and `kubectl events --for` lists.

A core/v1 Event per occurrence; a repeat of the same (object, reason, message, source) within the
process bumps `count` and `lastTimestamp` instead, as client-go's event correlator does. Recording
is best effort, as in kube: an Event that cannot be written (the namespace is being deleted) is
dropped, never an error for the caller.
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime
from typing import Any

from conveyor.sim.controllers.client import EVENTS, Client
from conveyor.sim.errors import StatusError

log = logging.getLogger(__name__)

NORMAL, WARNING = "Normal", "Warning"
HOST = "conveyor-sim"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def involved_object(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    ref = {"apiVersion": obj.get("apiVersion", ""), "kind": obj.get("kind", ""), "name": meta.get("name", ""),
           "uid": meta.get("uid", ""), "resourceVersion": meta.get("resourceVersion", "")}
    if meta.get("namespace"):
        ref["namespace"] = meta["namespace"]
    return ref


def build_event(obj: dict[str, Any], event_type: str, reason: str, message: str, component: str,
                field_path: str = "") -> dict[str, Any]:
    """An Event about `obj`, named as client-go names them (`<object>.<16 hex digits>`)."""
    meta = obj.get("metadata") or {}
    at = _now()
    ref = involved_object(obj)
    if field_path:
        ref["fieldPath"] = field_path
    source: dict[str, str] = {"component": component}
    if component == "kubelet":
        source["host"] = HOST
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{meta.get('name', '')}.{secrets.token_hex(8)}",
                     "namespace": meta.get("namespace") or "default"},
        "involvedObject": ref,
        "reason": reason,
        "message": message,
        "source": source,
        "firstTimestamp": at,
        "lastTimestamp": at,
        "count": 1,
        "type": event_type,
        "eventTime": None,
        "reportingComponent": component,
        "reportingInstance": source.get("host", ""),
    }


class EventRecorder:
    """Records Events through the service layer, folding repeats into one Event with a count."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._recent: dict[tuple[str, str, str, str], tuple[str, str, int]] = {}

    async def record(self, obj: dict[str, Any], event_type: str, reason: str, message: str,
                     component: str, field_path: str = "") -> None:
        uid = str((obj.get("metadata") or {}).get("uid", ""))
        key = (uid, reason, message, component)
        try:
            seen = self._recent.get(key)
            if seen is not None:
                namespace, name, count = seen
                patched = await self.client.merge_patch(
                    EVENTS, namespace, name, {"count": count + 1, "lastTimestamp": _now()}
                )
                if patched is not None:
                    self._recent[key] = (namespace, name, count + 1)
                    return
            event = build_event(obj, event_type, reason, message, component, field_path)
            created = await self.client.create(EVENTS, event["metadata"]["namespace"], event)
            if len(self._recent) > 4096:
                self._recent.clear()
            self._recent[key] = (created["metadata"]["namespace"], created["metadata"]["name"], 1)
        except StatusError as e:
            log.debug("event %s for %s dropped: %s", reason, uid, e)
