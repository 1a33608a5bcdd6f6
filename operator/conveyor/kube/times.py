"""Kubernetes timestamps, written and read the same way by the operator, the worker and the CLI.

`rfc3339` writes MicroTime (microseconds): `status.createdAt` fixes the admission order for every
later admitter, so requests stamped a microsecond apart must stay apart, and latencies are measured
from these stamps. `seconds` writes metav1.Time as conditions and Events carry it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def seconds(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any) -> datetime | None:
    """A Time or MicroTime ('...Z', with or without fractions); None when absent or malformed
    (objects written without the CRD schema, e.g. with --validate=false, must not crash readers)."""
    if not isinstance(value, str) or not value:
        return None
    try:  # RFC 3339 allows a lowercase 't' and 'z'; Python 3.11's fromisoformat does not
        parsed = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
