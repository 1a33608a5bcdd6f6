"""The few Kubernetes API calls the Lease protocol makes, as a Protocol, and the errors it must tell
apart. The controller implements it over the official asyncio client; keeping the protocol on this
narrow interface keeps it readable and lets another client (the worker's) reuse it.
"""

from __future__ import annotations

from typing import Any, Protocol


class ApiError(Exception):
    """An API call answered with an error Status."""

    def __init__(
        self, status: int, reason: str, message: str, *, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.retry_after = retry_after
        """Seconds the server asked for before a retry (429 and 503 carry `Retry-After`)."""


class Conflict(ApiError):
    """409: a CAS lost (the resourceVersion moved) or a create found the object already there.
    Someone else won: re-read and decide again, at once."""


class NotFound(ApiError):
    """404: the object (or its namespace) is gone."""


class LeaseApi(Protocol):
    async def get_lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The Lease, or None when it does not exist."""
        ...

    async def create_lease(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create; raises Conflict when it exists already."""
        ...

    async def replace_lease(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """Replace; body carries metadata.resourceVersion, so this raises Conflict when it moved."""
        ...

    async def list_leases(self, namespace: str | None, label_selector: str) -> list[dict[str, Any]]:
        """Leases matching the selector in one namespace, or in all (None)."""
        ...
