"""Custom resources' structural schemas: CRD validation, pruning, defaulting and validation.

The server calls, for every write of a custom resource: `prune` (unknown fields out, their paths
back for fieldValidation), `apply_defaults`, then `validate`. For a CRD itself: `apply_crd_defaults`
then `validate_crd`. All return or raise nothing on success; causes are `errors.cause` dicts.
"""

from conveyor.sim.schema.crd import apply_crd_defaults, validate_crd
from conveyor.sim.schema.defaulting import apply_defaults
from conveyor.sim.schema.pruning import prune
from conveyor.sim.schema.validation import validate

__all__ = ["apply_crd_defaults", "apply_defaults", "prune", "validate", "validate_crd"]
