"""Built-in kinds: unknown fields (fieldValidation), metadata and spec validation, and defaults.

The server calls, for a write of a built-in kind: `unknown_fields` (Strict/Warn), then
`apply_builtin_defaults`, then `validate_metadata` and `validate_builtin`, whose causes become a
422 Invalid. Each function is table-driven by (group, kind) and is a no-op for kinds it does not know.
"""

from conveyor.sim.builtin_schema.defaults import (
    allocate_cluster_ip,
    apply_builtin_defaults,
    default_pod_spec,
    release_cluster_ip,
)
from conveyor.sim.builtin_schema.fields import model_for, unknown_fields
from conveyor.sim.builtin_schema.kinds import validate_builtin, validate_pod_spec
from conveyor.sim.builtin_schema.metadata import name_rule, validate_metadata, validate_name

__all__ = [
    "allocate_cluster_ip",
    "apply_builtin_defaults",
    "default_pod_spec",
    "model_for",
    "name_rule",
    "release_cluster_ip",
    "unknown_fields",
    "validate_builtin",
    "validate_metadata",
    "validate_name",
    "validate_pod_spec",
]
