"""Refusals the CLI gives before creating anything: the operator's own words, from the same functions.

What the CLI cannot know (a rejection depends on what runs at the moment of admission) is left to
the operator; so is anything the CLI may not read (the Deployment, the operator's configuration).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from conveyor.admission import messages
from conveyor.api.config import InvalidConfig, OperatorConfig, parse_operator_config
from conveyor.api.names import CONFIG_MAP_NAME
from conveyor.cli.context import ClusterClient
from conveyor.controller.requests import BUILTIN_SYSTEM_WORKFLOWS, invalid_reason
from conveyor.kube.times import parse_time


def queue_conflict(queue: bool, force: bool, dry_run: bool) -> str | None:
    """The operator's refusal of `queue` with `force`/`dryRun`, or None."""
    flags = [flag for flag, on in (("force", force), ("dryRun", dry_run)) if on]
    return messages.queue_combined_with(flags) if queue and flags else None


def read_operator_config(cluster: ClusterClient) -> OperatorConfig | None:
    """The operator's configuration as the operator reads it; None when the CLI may not read it
    (then it cannot tell which system-wide workflows exist, and leaves the check to the operator)."""
    from kubernetes.client.rest import ApiException  # imported on first use: see context.py

    try:
        config_map = cluster.core.read_namespaced_config_map(CONFIG_MAP_NAME, cluster.operator_namespace)
    except ApiException as error:
        if error.status == 404:
            return OperatorConfig()
        return None
    try:
        return parse_operator_config(config_map.data)
    except InvalidConfig:
        return None


def precheck(cluster: ClusterClient, manifest: dict[str, Any]) -> str | None:
    """Why the operator would refuse `manifest` as invalid, when the CLI can tell; else None."""
    from kubernetes.client.rest import ApiException  # imported on first use: see context.py

    spec = manifest["spec"]
    conflict = queue_conflict(bool(spec.get("queue")), bool(spec.get("force")), bool(spec.get("dryRun")))
    if conflict:
        return conflict
    namespace = manifest["metadata"]["namespace"]
    deployment_name = spec.get("deployment")
    deployment: dict[str, Any] | None = None
    config = OperatorConfig()
    if deployment_name is None:
        if spec["workflow"] not in BUILTIN_SYSTEM_WORKFLOWS:
            loaded = read_operator_config(cluster)
            if loaded is None:
                return None
            config = loaded
    else:
        try:
            deployment = cluster.get_object("deployments", namespace, deployment_name)
        except ApiException:
            return None  # not allowed to read it: the operator decides
    scheduled = parse_time(spec.get("scheduledTime"))
    now = datetime.now(UTC)
    if scheduled is not None and scheduled < now - timedelta(seconds=1):
        return messages.scheduled_in_past(scheduled, now.replace(microsecond=0))
    obj = {**manifest, "metadata": {**manifest["metadata"], "name": manifest["metadata"]["generateName"]}}
    return invalid_reason(obj, deployment, cluster.operator_namespace, config)

