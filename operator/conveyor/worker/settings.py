"""What one `conveyor worker` process serves, and its timings.

A worker serves either one Deployment's executions (`deployment` set) or, as the system worker, the
system-wide executions of the operator's namespace (`deployment` None, `namespace` the operator's).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from conveyor.api.models import DEFAULT_IDLE_TIMEOUT_SECONDS

POD_NAME_ENV = "CONVEYOR_POD_NAME"
"""Set by the worker Job (downward API); it is the `worker` an execution is claimed for."""


def default_pod_name() -> str:
    """The pod's name: the Job's env, else the hostname (a pod's hostname is its name)."""
    return os.environ.get(POD_NAME_ENV) or socket.gethostname()


@dataclass(frozen=True)
class WorkerSettings:
    """namespace: where the executions (and the Deployment) live.

    idle_timeout: seconds with nothing to run before the process exits 0.
    progress_interval: at most one progress/checkpoint write per execution per this many seconds,
      so a 1,000-task graph costs a few dozen status writes, not thousands.
    renew_interval: None = a third of each lease's duration (renewed well before it expires).
    """

    namespace: str
    deployment: str | None
    operator_namespace: str
    pod_name: str
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT_SECONDS
    progress_interval: float = 1.0
    renew_interval: float | None = None
    force_grace_period: float | None = None
    """None = the framework's default: how long a force cancel waits for running code to stop."""

    @property
    def system(self) -> bool:
        return self.deployment is None

    @property
    def label(self) -> str:
        """How this worker names itself in logs."""
        return f"{self.namespace}/{self.deployment or '<system>'}"
