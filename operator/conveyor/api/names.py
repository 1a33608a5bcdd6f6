"""Every name Conveyor puts on the cluster, in one place, so the operator, the workers, the CLI and the
Helm chart can never disagree on one.

The builders are pure. Names that embed a user's object name are bounded: Kubernetes limits label
values and Job names to 63 characters, and a Deployment's name may be up to 253. A name that would be
too long is cut and given a short hash of the full name, so two long names that share a prefix still
get different results, and the same input always gives the same name (nothing is remembered).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from conveyor import __version__

GROUP = "conveyor.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
CATEGORY = "conveyor"
"""`kubectl get conveyor` lists both kinds."""


@dataclass(frozen=True)
class ResourceNames:
    """The names of one custom resource kind, as its CRD declares them."""

    kind: str
    plural: str
    singular: str
    short_names: tuple[str, ...]

    @property
    def crd_name(self) -> str:
        """The CRD's metadata.name, which Kubernetes requires to be `<plural>.<group>`."""
        return f"{self.plural}.{GROUP}"


DEPLOYMENT = ResourceNames(
    kind="Deployment", plural="deployments", singular="deployment", short_names=("cvd",)
)
EXECUTION = ResourceNames(kind="Execution", plural="executions", singular="execution", short_names=("cvx",))

LABEL_DEPLOYMENT = f"{GROUP}/deployment"
"""On every Execution (set by the operator) and on worker Jobs: workers and the CLI select by it.
Its value is `label_value(deployment name)`, never the raw name (labels are limited to 63 chars)."""
LABEL_EXECUTION = f"{GROUP}/execution"
LABEL_APP_NAME = "app.kubernetes.io/name"
LABEL_APP_COMPONENT = "app.kubernetes.io/component"
LABEL_APP_MANAGED_BY = "app.kubernetes.io/managed-by"
APP_NAME = "conveyor"

ANNOTATION_RESUME = f"{GROUP}/resume"
"""Set to a new token to resume a failed or cancelled execution; each distinct token resumes once."""
ANNOTATION_RESTORED_FROM = f"{GROUP}/restored-from"
"""On an object a snapshot restore created: the snapshot's name (the webhook lets restores through)."""
ANNOTATION_HOLDERS = f"{GROUP}/holders"
"""On a deployment Lease: the forced executions holding it besides `holderIdentity`."""

FINALIZER = f"{GROUP}/cancel-on-delete"
"""Held by running Executions: deleting one kill-cancels it and releases its lease before it goes."""

DEFAULT_OPERATOR_NAMESPACE = "conveyor-system"
OPERATOR_NAMESPACE_ENV = "CONVEYOR_NAMESPACE"
CONFIG_MAP_NAME = "conveyor-config"
CONFIG_MAP_KEY = "config.yaml"

SYSTEM_LEASE_NAME = "conveyor-system"
"""In the operator's namespace; held by the one system-wide execution running or draining."""
LEADER_LEASE_NAME = "conveyor-operator"
"""In the operator's namespace; leader election between operator replicas."""
SYSTEM_WORKER_JOB_NAME = "conveyor-worker-system"
"""The Job that runs system-wide executions, in the operator's namespace."""

MAX_NAME_LENGTH = 63
"""Label values and Job names (the Job controller copies the name into a label) stop at 63."""
_HASH_LENGTH = 8


def bounded_name(name: str, limit: int = MAX_NAME_LENGTH) -> str:
    """`name` if it fits in `limit` characters, else a prefix of it, '-' and 8 hex digits of its hash.

    The result stays a valid DNS-1123 label/subdomain and label value when `name` is one: the cut
    prefix loses trailing '-' and '.', and the hash ends in an alphanumeric character.
    """
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:_HASH_LENGTH]
    prefix = name[: limit - _HASH_LENGTH - 1].rstrip("-.")
    return f"{prefix}-{digest}"


def deployment_lease_name(deployment: str) -> str:
    """The Lease that serialises one deployment's executions, in the deployment's namespace."""
    return bounded_name(f"conveyor-deployment-{deployment}")


def worker_job_name(deployment: str) -> str:
    """The worker Job of one deployment, in the deployment's namespace."""
    return bounded_name(f"conveyor-worker-{deployment}")


def label_value(name: str) -> str:
    """An object name as a label value: names may be 253 chars long, label values only 63."""
    return bounded_name(name)


_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")


def deployment_label(deployment: str | None) -> dict[str, str]:
    """The `conveyor.dev/deployment` label of an Execution of `deployment`; none when the name can be
    no object's (an invalid request names anything): the API server would refuse the whole write."""
    if not deployment:
        return {}
    value = label_value(deployment)
    return {LABEL_DEPLOYMENT: value} if _LABEL_VALUE.fullmatch(value) else {}


# Defaults of the operator's command line, here rather than beside the operator so that the CLI can
# show them without importing kopf (every `conveyor` call would pay for it).
DEFAULT_METRICS_PORT = 8080
DEFAULT_WORKER_IMAGE = f"ghcr.io/conveyor-dev/conveyor:{__version__}"
