"""`@workflow` and the resolution of "module.function" mappings to workflow functions.

A mapping is resolved in the worker for every execution, from a fresh import path, so its errors
end the execution `failed`: they must name the module or the attribute that failed, and tell an
import error raised *inside* a module apart from a module that does not exist.
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
from collections.abc import Callable
from typing import Any, TypeVar, overload

WorkflowFunction = Callable[..., Any]
F = TypeVar("F", bound=WorkflowFunction)

_SPEC_ATTRIBUTE = "__conveyor_workflow__"


@dataclasses.dataclass(frozen=True)
class WorkflowSpec:
    """What `@workflow` declares about a function.

    system_wide: may only run as a system-wide execution (never beside any other execution).
    resumable: task states are checkpointed, so a failed or cancelled attempt can be resumed.
    """

    system_wide: bool = False
    resumable: bool = False


class WorkflowMappingError(ImportError):
    """A "module.function" mapping that does not resolve to a workflow; the message names the part."""

    def __init__(self, mapping: str, message: str) -> None:
        super().__init__(message)
        self.mapping = mapping


@overload
def workflow(fn: F, /) -> F: ...


@overload
def workflow(*, system_wide: bool = False, resumable: bool = False) -> Callable[[F], F]: ...


def workflow(
    fn: F | None = None, /, *, system_wide: bool = False, resumable: bool = False
) -> F | Callable[[F], F]:
    """Mark a function as a workflow, called as `fn(ctx, **parameters)`.

    The function is returned unchanged (it stays directly callable, e.g. from tests); the spec is
    attached to it and read back with `workflow_spec`.
    """
    spec = WorkflowSpec(system_wide=system_wide, resumable=resumable)

    def mark(function: F) -> F:
        if not callable(function):
            raise TypeError(f"@workflow applies to functions, not {type(function).__name__}")
        setattr(function, _SPEC_ATTRIBUTE, spec)
        return function

    if fn is not None:
        return mark(fn)
    return mark


def workflow_spec(fn: object) -> WorkflowSpec | None:
    """The spec `@workflow` attached, or None for a function that is not a workflow."""
    spec = getattr(fn, _SPEC_ATTRIBUTE, None)
    return spec if isinstance(spec, WorkflowSpec) else None


def resolve_mapping(mapping: str) -> WorkflowFunction:
    """Import "package.module.function" and return the workflow it names.

    The module is imported by its full dotted prefix; the function must be decorated `@workflow`
    so a typo cannot turn an arbitrary callable (say `os.remove`) into a workflow.
    """
    module_name, dot, attribute = mapping.rpartition(".")
    if not dot or not module_name or not attribute:
        raise WorkflowMappingError(mapping, f"workflow mapping {mapping!r} must be written 'module.function'")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name is not None and module_name.startswith(error.name) and (
            error.name == module_name or module_name.startswith(error.name + ".")
        ):
            raise WorkflowMappingError(
                mapping, f"workflow mapping {mapping!r}: module {module_name!r} not found "
                f"(no module named {error.name!r} on the import path)"
            ) from error
        raise WorkflowMappingError(
            mapping, f"workflow mapping {mapping!r}: importing module {module_name!r} failed: "
            f"{type(error).__name__}: {error}"
        ) from error
    except Exception as error:
        raise WorkflowMappingError(
            mapping, f"workflow mapping {mapping!r}: importing module {module_name!r} failed: "
            f"{type(error).__name__}: {error}"
        ) from error
    try:
        function = getattr(module, attribute)
    except AttributeError as error:
        raise WorkflowMappingError(
            mapping, f"workflow mapping {mapping!r}: module {module_name!r} has no attribute {attribute!r}"
        ) from error
    if not callable(function):
        raise WorkflowMappingError(
            mapping, f"workflow mapping {mapping!r}: {module_name}.{attribute} is not callable "
            f"(it is a {type(function).__name__})"
        )
    if workflow_spec(function) is None:
        raise WorkflowMappingError(
            mapping, f"workflow mapping {mapping!r}: {module_name}.{attribute} is not a workflow; "
            "decorate it with @conveyor.workflows.workflow"
        )
    return function


def forget_modules(prefix_paths: list[str]) -> None:
    """Drop modules imported from the given folders so the next resolution re-imports them.

    The worker gives each execution a fresh source folder; without this, a module imported for a
    previous execution would shadow the new ConfigMap contents.
    """
    for name, module in list(sys.modules.items()):
        location = getattr(module, "__file__", None) or ""
        if any(location.startswith(path) for path in prefix_paths):
            del sys.modules[name]
