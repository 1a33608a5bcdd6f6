"""The operator's configuration: key `config.yaml` of the ConfigMap `conveyor-config` in the operator's
namespace (DESIGN.md, "Operator configuration"), filled by the Helm chart's values.

The operator re-reads it live, so parsing is a pure function of the ConfigMap's data: a missing
ConfigMap or key means all defaults, and a broken one raises `InvalidConfig` with a message fit for
an Event, so the operator can keep its last good configuration and say why.
"""

from __future__ import annotations

from collections.abc import Mapping

import yaml
from pydantic import Field, ValidationError

from conveyor.api.models import ApiModel, SourceSpec, WorkflowDeclaration
from conveyor.api.names import CONFIG_MAP_KEY


class InvalidConfig(ValueError):
    """The operator's ConfigMap cannot be used; the message says where and why."""


class SystemWorkflowDeclaration(WorkflowDeclaration):
    """A system-wide workflow declared by the operator's configuration, besides the built-in ones."""

    source: SourceSpec | None = Field(
        default=None, description="Where its code comes from, in the operator's namespace."
    )


class OperatorConfig(ApiModel):
    max_running_executions: int = Field(
        default=0, ge=0, description="How many executions may run at once, in all; 0: no cap."
    )
    worker_image: str | None = Field(
        default=None, description="Default worker image; left out: the operator's own image."
    )
    system_workflows: dict[str, SystemWorkflowDeclaration] = Field(
        default_factory=dict, description="System-wide workflows besides the built-in snapshot ones."
    )

    @property
    def cap(self) -> int | None:
        """The running-executions cap, or None when there is none."""
        return self.max_running_executions or None


def parse_operator_config(data: Mapping[str, str] | None) -> OperatorConfig:
    """The configuration in a ConfigMap's `data` (None or no key: the defaults)."""
    text = (data or {}).get(CONFIG_MAP_KEY)
    if text is None or not text.strip():
        return OperatorConfig()
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InvalidConfig(f"{CONFIG_MAP_KEY} is not valid YAML: {error}") from None
    if loaded is None:
        return OperatorConfig()
    if not isinstance(loaded, dict):
        raise InvalidConfig(f"{CONFIG_MAP_KEY} must be a mapping, not {type(loaded).__name__}")
    try:
        return OperatorConfig.model_validate(loaded)
    except ValidationError as error:
        details = "; ".join(f"{'.'.join(str(part) for part in e['loc'])}: {e['msg']}" for e in error.errors())
        raise InvalidConfig(f"{CONFIG_MAP_KEY} is invalid: {details}") from None
