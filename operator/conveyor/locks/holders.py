"""Who holds a Conveyor Lease, read from and written to the Lease object: pure, no I/O.

A deployment Lease is held by the running executions of its deployment. Kubernetes gives a Lease one
`spec.holderIdentity`; forced executions run beside another, so the extra holders live in the
annotation `conveyor.dev/holders` (a JSON list). What must hold:

- the holders are an ordered set: `holderIdentity` is the first, the annotation the rest, and a
  Lease with no holders has neither (an empty `holderIdentity` and no annotation);
- releasing the first holder promotes the next one, so `holderIdentity` is empty only when nobody
  holds the Lease (a reader that only looks at `holderIdentity`, such as `kubectl get lease`, never
  sees a held Lease as free);
- `renewTime` is set on every acquire and by the worker while it runs; a Lease whose holders did not
  renew it within `leaseDurationSeconds` is expired: its worker is gone.

A holder is an Execution's name: a deployment Lease lives in the namespace of its deployment and its
executions, and the system Lease in the operator's namespace, where system-wide executions must be.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from conveyor.api.names import ANNOTATION_HOLDERS
from conveyor.kube.times import parse_time

MICRO_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
"""Kubernetes MicroTime, as Lease `acquireTime` and `renewTime` are written."""


def format_micro_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(MICRO_TIME_FORMAT)


@dataclass(frozen=True)
class LeaseHolders:
    """The holders of one Lease as it was read, with the resourceVersion to CAS against.

    `resource_version` None means the Lease does not exist yet: writing it is a create, which the
    API server refuses with 409 AlreadyExists when another admitter created it first.
    """

    holders: tuple[str, ...] = ()
    acquire_time: datetime | None = None
    renew_time: datetime | None = None
    duration_seconds: int | None = None
    resource_version: str | None = None
    transitions: int = 0

    @property
    def held(self) -> bool:
        return bool(self.holders)

    def holds(self, holder: str) -> bool:
        return holder in self.holders

    def with_holder(self, holder: str, now: datetime, duration_seconds: int) -> LeaseHolders:
        """Add `holder` (kept in place if present) and renew: the acquire of a new holder must not
        find the Lease already expired because the previous holder stopped renewing long ago."""
        holders = self.holders if holder in self.holders else (*self.holders, holder)
        if self.holders and self.holders[0] == holders[0]:
            return replace(self, holders=holders, renew_time=now, duration_seconds=duration_seconds)
        return replace(
            self,
            holders=holders,
            acquire_time=now,
            renew_time=now,
            duration_seconds=duration_seconds,
            transitions=self.transitions + 1,
        )

    def without_holder(self, holder: str, now: datetime) -> LeaseHolders:
        """Drop `holder`; a promoted first holder counts as a transition and is renewed (its own
        renewals may have stopped while it was only an extra)."""
        holders = tuple(h for h in self.holders if h != holder)
        if not holders:
            return replace(self, holders=(), acquire_time=None)
        if holders[0] == self.holders[0]:
            return replace(self, holders=holders)
        return replace(
            self, holders=holders, acquire_time=now, renew_time=now, transitions=self.transitions + 1
        )

    def expired(self, now: datetime) -> bool:
        """Held, and not renewed within its duration: whoever should renew it is gone."""
        if not self.holders or self.renew_time is None or self.duration_seconds is None:
            return False
        return self.renew_time + timedelta(seconds=self.duration_seconds) < now

    @classmethod
    def from_lease(cls, lease: dict[str, Any] | None) -> LeaseHolders:
        """Read a Lease object (as the API returns it, JSON); None: the Lease does not exist."""
        if lease is None:
            return cls()
        spec = lease.get("spec") or {}
        metadata = lease.get("metadata") or {}
        first = spec.get("holderIdentity") or ""
        extras: list[str] = []
        raw = (metadata.get("annotations") or {}).get(ANNOTATION_HOLDERS)
        if raw:
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = []
            extras = (
                [h for h in parsed if isinstance(h, str) and h and h != first]
                if isinstance(parsed, list)
                else []
            )
        holders = tuple(dict.fromkeys(([first] if first else []) + extras))
        return cls(
            holders=holders,
            acquire_time=parse_time(spec.get("acquireTime")),
            renew_time=parse_time(spec.get("renewTime")),
            duration_seconds=spec.get("leaseDurationSeconds"),
            resource_version=metadata.get("resourceVersion"),
            transitions=int(spec.get("leaseTransitions") or 0),
        )


def build_lease(name: str, namespace: str, state: LeaseHolders, labels: dict[str, str]) -> dict[str, Any]:
    """The whole Lease object to create or replace (a PUT with metadata.resourceVersion is a CAS).

    A replace rather than a patch: the holders span `spec` and an annotation, and both must change
    in one write, guarded by the version the decision was made on.
    """
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "labels": dict(labels),
        "annotations": {ANNOTATION_HOLDERS: json.dumps(list(state.holders[1:]))}
        if len(state.holders) > 1
        else {},
    }
    if state.resource_version is not None:
        metadata["resourceVersion"] = state.resource_version
    spec: dict[str, Any] = {
        "holderIdentity": state.holders[0] if state.holders else "",
        "leaseTransitions": state.transitions,
    }
    if state.duration_seconds is not None:
        spec["leaseDurationSeconds"] = state.duration_seconds
    if state.renew_time is not None:
        spec["renewTime"] = format_micro_time(state.renew_time)
    if state.acquire_time is not None:
        spec["acquireTime"] = format_micro_time(state.acquire_time)
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata, "spec": spec}
