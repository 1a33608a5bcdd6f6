"""`@workflow` and "module.function" mappings: errors name the module or attribute that failed."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conveyor.workflows import WorkflowMappingError, WorkflowSpec, resolve_mapping, workflow, workflow_spec
from conveyor.workflows.decorator import forget_modules


@pytest.fixture
def source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], str]]:
    """Write a module into a folder on the import path; returns its unique name."""
    monkeypatch.syspath_prepend(str(tmp_path))
    written: list[str] = []

    def write(body: str) -> str:
        name = f"wf_{uuid.uuid4().hex[:8]}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(body))
        written.append(name)
        return name

    yield write
    for name in written:
        sys.modules.pop(name, None)


def test_bare_decorator_marks_a_plain_workflow() -> None:
    @workflow
    def install(ctx: object) -> None: ...

    assert workflow_spec(install) == WorkflowSpec(system_wide=False, resumable=False)


def test_decorator_options_are_recorded() -> None:
    @workflow(system_wide=True, resumable=True)
    def maintenance(ctx: object) -> None: ...

    assert workflow_spec(maintenance) == WorkflowSpec(system_wide=True, resumable=True)


def test_mapping_resolves_to_the_decorated_function(source: Callable[[str], str]) -> None:
    module = source("""
        from conveyor.workflows import workflow

        @workflow
        def install(ctx):
            return "installed"
    """)
    assert resolve_mapping(f"{module}.install")(None) == "installed"


def test_missing_module_is_named() -> None:
    with pytest.raises(WorkflowMappingError, match="module 'no_such_module_xyz' not found"):
        resolve_mapping("no_such_module_xyz.install")


def test_missing_attribute_names_module_and_attribute(source: Callable[[str], str]) -> None:
    module = source("x = 1\n")
    with pytest.raises(WorkflowMappingError, match=f"module '{module}' has no attribute 'install'"):
        resolve_mapping(f"{module}.install")


def test_import_error_inside_the_module_is_told_apart_from_a_missing_module(
    source: Callable[[str], str],
) -> None:
    module = source("import a_dependency_that_is_not_installed\n")
    expected = f"importing module '{module}' failed: ModuleNotFoundError"
    with pytest.raises(WorkflowMappingError, match=expected):
        resolve_mapping(f"{module}.install")


def test_exception_while_importing_the_module_is_reported(source: Callable[[str], str]) -> None:
    module = source("raise RuntimeError('config missing')\n")
    with pytest.raises(WorkflowMappingError, match="RuntimeError: config missing"):
        resolve_mapping(f"{module}.install")


def test_a_function_not_decorated_as_workflow_is_refused(source: Callable[[str], str]) -> None:
    module = source("def install(ctx):\n    pass\n")
    with pytest.raises(WorkflowMappingError, match="is not a workflow"):
        resolve_mapping(f"{module}.install")


def test_a_mapping_without_a_dot_is_refused() -> None:
    with pytest.raises(WorkflowMappingError, match=r"'module\.function'"):
        resolve_mapping("install")


def test_forget_modules_drops_modules_imported_from_a_source_folder(
    source: Callable[[str], str], tmp_path: Path
) -> None:
    module = source("from conveyor.workflows import workflow\n\n@workflow\ndef install(ctx):\n    return 1\n")
    resolve_mapping(f"{module}.install")
    forget_modules([str(tmp_path)])
    assert module not in sys.modules
