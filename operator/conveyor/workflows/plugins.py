"""Operations named "plugin.operation", resolved through the entry-point group `conveyor.plugins`.

Each entry point names a module or an object whose callables are the plugin's operations: the
names in its `__all__` if it has one; otherwise, for a module, the public functions defined in it
(not what it imports, so `shell.Mapping` is not an operation); for any other object, its public
callable attributes. An operation is called as `operation(ctx, **kwargs)` where `ctx` is an
`OperationContext` (logger, dry_run, cancel token, task identity); what it returns becomes the
task's result. Failing the right way matters: raise RecoverableError for what a retry may fix,
NonRecoverableError for what it cannot, OperationRetry to be run again later; see errors.py.

Tests and embedding code register plugins directly with `register_plugin`, no packaging needed.
"""

from __future__ import annotations

import importlib.metadata
import threading
import types
from collections.abc import Callable
from typing import Any

ENTRY_POINT_GROUP = "conveyor.plugins"

Operation = Callable[..., Any]


class PluginError(LookupError):
    """An operation name that does not resolve; the message names what is missing and what exists."""


class UnknownPluginError(PluginError):
    pass


class UnknownOperationError(PluginError):
    pass


_lock = threading.Lock()
_registered: dict[str, object] = {}
_loaded_entry_points: dict[str, object] = {}


def register_plugin(name: str, plugin: object) -> None:
    """Make `plugin` (a module or any object with callables) available as `name`, over entry points."""
    if not name or "." in name:
        raise ValueError(f"plugin name must be non-empty and contain no '.', got {name!r}")
    with _lock:
        _registered[name] = plugin


def unregister_plugin(name: str) -> None:
    """Forget a plugin registered with `register_plugin` (entry points are unaffected)."""
    with _lock:
        _registered.pop(name, None)


def _entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def known_plugins() -> list[str]:
    """Every plugin name that resolves: registered ones and those declared by entry points."""
    with _lock:
        names = set(_registered)
    return sorted(names | set(_entry_points()))


def resolve_plugin(name: str) -> object:
    with _lock:
        if name in _registered:
            return _registered[name]
        if name in _loaded_entry_points:
            return _loaded_entry_points[name]
    entry_point = _entry_points().get(name)
    if entry_point is None:
        known = ", ".join(known_plugins()) or "none"
        raise UnknownPluginError(
            f"unknown plugin {name!r}: no plugin registered and no entry point in group "
            f"{ENTRY_POINT_GROUP!r} by that name (known plugins: {known})"
        )
    try:
        plugin = entry_point.load()
    except Exception as error:
        raise UnknownPluginError(
            f"plugin {name!r} (entry point {entry_point.value!r}) failed to load: "
            f"{type(error).__name__}: {error}"
        ) from error
    with _lock:
        _loaded_entry_points[name] = plugin
    return plugin


def _is_operation(plugin: object, attribute: str) -> bool:
    if attribute.startswith("_"):
        return False
    exported = getattr(plugin, "__all__", None)
    if exported is not None and attribute not in exported:
        return False
    value = getattr(plugin, attribute, None)
    if not callable(value):
        return False
    if exported is None and isinstance(plugin, types.ModuleType):
        return getattr(value, "__module__", None) == plugin.__name__
    return True


def operations_of(plugin: object) -> list[str]:
    return sorted(attribute for attribute in dir(plugin) if _is_operation(plugin, attribute))


def resolve_operation(qualified_name: str) -> Operation:
    """Return the callable for "plugin.operation"; PluginError says precisely what did not resolve."""
    plugin_name, dot, operation_name = qualified_name.partition(".")
    if not dot or not plugin_name or not operation_name:
        raise PluginError(f"operation {qualified_name!r} must be written 'plugin.operation'")
    plugin = resolve_plugin(plugin_name)
    operation = getattr(plugin, operation_name) if _is_operation(plugin, operation_name) else None
    if operation is None:
        available = ", ".join(operations_of(plugin)) or "none"
        raise UnknownOperationError(
            f"plugin {plugin_name!r} has no operation {operation_name!r} (operations: {available})"
        )
    return operation
