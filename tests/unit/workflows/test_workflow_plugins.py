"""Operations "plugin.operation": registered plugins, entry points, precise errors."""

from __future__ import annotations

import textwrap
import types
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.workflows import (
    UnknownOperationError,
    UnknownPluginError,
    register_plugin,
    resolve_operation,
    unregister_plugin,
)


@pytest.fixture
def demo_plugin() -> Iterator[types.ModuleType]:
    module = types.ModuleType("demo_plugin")
    exec(  # a real module body, so functions carry the module's name
        "from collections import OrderedDict\n"
        "def greet(ctx, name):\n    return f'hello {name}'\n"
        "def _private(ctx):\n    pass\n",
        module.__dict__,
    )
    register_plugin("demo", module)
    yield module
    unregister_plugin("demo")


def test_registered_plugin_operation_resolves(demo_plugin: types.ModuleType) -> None:
    assert resolve_operation("demo.greet")(None, name="web") == "hello web"


def test_unknown_plugin_is_named(demo_plugin: types.ModuleType) -> None:
    with pytest.raises(UnknownPluginError, match=r"unknown plugin 'nosuch'.*known plugins:.*demo"):
        resolve_operation("nosuch.run")


def test_unknown_operation_names_plugin_and_lists_operations(demo_plugin: types.ModuleType) -> None:
    expected = r"plugin 'demo' has no operation 'deploy' \(operations: greet\)"
    with pytest.raises(UnknownOperationError, match=expected):
        resolve_operation("demo.deploy")


def test_private_and_imported_names_are_not_operations(demo_plugin: types.ModuleType) -> None:
    for name in ("demo._private", "demo.OrderedDict"):
        with pytest.raises(UnknownOperationError):
            resolve_operation(name)


def test_an_object_plugin_exposes_its_public_methods() -> None:
    class Counter:
        def bump(self, ctx: object) -> int:
            return 1

    register_plugin("counter", Counter())
    try:
        assert resolve_operation("counter.bump")(None) == 1
    finally:
        unregister_plugin("counter")


def test_operation_name_must_have_plugin_and_operation() -> None:
    with pytest.raises(LookupError, match=r"'plugin\.operation'"):
        resolve_operation("shell")


def test_builtin_plugins_declare_only_their_operations() -> None:
    from conveyor.plugins import http, shell
    from conveyor.workflows.plugins import operations_of

    assert (operations_of(shell), operations_of(http)) == (["run"], ["request"])


def _install_distribution(folder: Path, plugin: str, target: str, module_body: str | None) -> None:
    """A minimal installed distribution on the import path, declaring one `conveyor.plugins` entry point."""
    info = folder / f"{plugin}_dist-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {plugin}-dist\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[conveyor.plugins]\n{plugin} = {target}\n")
    if module_body is not None:
        (folder / f"{target}.py").write_text(textwrap.dedent(module_body))


def test_a_plugin_declared_by_entry_point_resolves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = f"ep{uuid.uuid4().hex[:8]}"
    _install_distribution(tmp_path, plugin, f"{plugin}_ops", "def ping(ctx):\n    return 'pong'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert resolve_operation(f"{plugin}.ping")(None) == "pong"


def test_an_entry_point_that_fails_to_load_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = f"ep{uuid.uuid4().hex[:8]}"
    _install_distribution(tmp_path, plugin, f"{plugin}_missing", None)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(UnknownPluginError, match=f"entry point '{plugin}_missing'.*failed to load"):
        resolve_operation(f"{plugin}.ping")
