"""What an admission check sees of one write: the same facts kube-apiserver puts into an
AdmissionReview's `request` and into a ValidatingAdmissionPolicy's CEL variables.

Both the policy evaluator and the webhook caller read this one record, so a write is described
once, by the API service, whatever checks it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from conveyor.sim.identity import UserInfo

Operation = Literal["CREATE", "UPDATE", "DELETE", "CONNECT"]


@dataclass(frozen=True)
class AdmissionAttributes:
    operation: Operation
    group: str  # "" for the core group
    version: str
    resource: str  # plural, e.g. "executions"
    subresource: str  # "" for the main resource, "status", "scale", ...
    kind: str
    namespace: str  # "" for cluster-scoped objects
    name: str
    # The object as it would be stored (None for DELETE) and as it is stored now (None for CREATE).
    object: dict[str, Any] | None
    old_object: dict[str, Any] | None
    user: UserInfo
    dry_run: bool = False
    # The create/update/patch/delete options the client sent, as a meta/v1 *Options object.
    options: dict[str, Any] | None = None
    uid: str = field(default="")
    # The kind's own group and version when they differ from the resource's: a scale write's kind is
    # autoscaling/v1 Scale whatever the scaled resource. None: the resource's group/version.
    kind_group: str | None = None
    kind_version: str | None = None

    @property
    def kind_is_resource_kind(self) -> bool:
        """Whether the kind is the resource's own (so it follows the resource to other versions)."""
        return self.kind_group in (None, self.group) and self.kind_version in (None, self.version)

    def kind_at(self) -> tuple[str, str, str]:
        """(group, version, kind) of the object the client wrote."""
        group = self.group if self.kind_group is None else self.kind_group
        version = self.version if self.kind_version is None else self.kind_version
        return group, version, self.kind
