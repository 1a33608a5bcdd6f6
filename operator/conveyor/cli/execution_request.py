"""What the user typed for `executions start` (and `snapshots`), turned into the Execution to create.

Pure: nothing here reads a cluster, so every spelling is checked before anything is sent. Values
from `-p` stay strings on purpose: the operator converts them to the declared types, so the CLI and
`kubectl apply` of the same manifest get the same answer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from conveyor.api.names import EXECUTION, GROUP, VERSION
from conveyor.kube.times import seconds


def parse_parameter_pairs(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """`-p key=value` pairs. Values stay strings: the operator converts them to the declared type
    ("42" to an integer, "true" to a boolean, a JSON array to a list), so one spelling fits any type."""
    parsed: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{pair!r} is not key=value", param_hint="'-p' / '--parameter'")
        parsed[key.strip()] = value
    return parsed


def load_parameters(text: str) -> dict[str, Any]:
    """`--parameters`: a JSON or YAML file's path, or JSON/YAML text; it must hold a mapping."""
    import yaml  # on first use: `--help` and the other commands do without it

    path = Path(text)
    source = "file " + text
    try:
        if path.is_file():
            content = path.read_text()
        else:
            content, source = text, "the value"
    except OSError as error:
        raise click.BadParameter(f"cannot read {text}: {error}", param_hint="'--parameters'") from None
    try:
        loaded = yaml.safe_load(content)  # YAML is a superset of JSON
    except yaml.YAMLError as error:
        raise click.BadParameter(
            f"{source} is neither a readable file nor JSON/YAML: {error}", param_hint="'--parameters'"
        ) from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise click.BadParameter(
            f"{source} must be a mapping of parameter names to values, not {type(loaded).__name__}",
            param_hint="'--parameters'",
        )
    return {str(key): value for key, value in loaded.items()}


_RELATIVE = re.compile(r"^\+(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_schedule(text: str, now: datetime) -> datetime:
    """`--schedule`: RFC 3339 / ISO 8601 (no zone: local time), or relative, `+30s`, `+5m`, `+2h`, `+1d`."""
    relative = _RELATIVE.match(text.strip())
    if relative:
        return now + timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a time (RFC 3339, e.g. 2030-01-01T10:00:00Z, or +30s/+5m/+2h/+1d)",
            param_hint="'--schedule'",
        ) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # a bare time means the user's local time
    return moment.astimezone(UTC)


def generate_name(workflow: str) -> str:
    """A DNS-1123 prefix from a workflow name (`create_snapshot` → `create-snapshot-`)."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", workflow.lower()).strip("-")[:50] or "execution"
    return f"{cleaned}-"


def build_execution(
    namespace: str,
    workflow: str,
    deployment: str | None,
    parameters: Mapping[str, Any],
    *,
    force: bool = False,
    queue: bool = False,
    dry_run: bool = False,
    allow_custom_parameters: bool = False,
    scheduled_time: datetime | None = None,
) -> dict[str, Any]:
    """The Execution to create; flags left at their defaults are left out, as a user would write it."""
    spec: dict[str, Any] = {"workflow": workflow}
    if deployment is not None:
        spec["deployment"] = deployment
    if parameters:
        spec["parameters"] = dict(parameters)
    for field, on in (
        ("force", force),
        ("queue", queue),
        ("dryRun", dry_run),
        ("allowCustomParameters", allow_custom_parameters),
    ):
        if on:
            spec[field] = True
    if scheduled_time is not None:
        spec["scheduledTime"] = seconds(scheduled_time)
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": EXECUTION.kind,
        "metadata": {"generateName": generate_name(workflow), "namespace": namespace},
        "spec": spec,
    }


