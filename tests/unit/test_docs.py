"""The docs say what the code does: generated reference current, examples run, messages and metric
names exact, links resolve.

Examples: every fenced block marked exactly `python` in the pages of `EXECUTED_PAGES` is imported as
a module of its own; each `@workflow` it defines is then run through `run_workflow` with an
in-memory reporter, once per run described by an optional `<!-- test: [...] -->` comment right
after the block (a JSON list of runs; no comment: one run, no parameters, expected `terminated`).
Keys of a run: parameters, inputs, dry_run, cancel (requested before the run), checkpoints (of an
earlier attempt), and the expectations status, result, error (a substring), skipped (task ids),
logs and events (substrings of log lines / Event messages).
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from conveyor.admission import messages
from conveyor.admission.parameters import InvalidParameters, validate_parameters
from conveyor.api.models import ParameterDeclaration
from conveyor.controller import requests
from conveyor.workflows import (
    CancelMode,
    DeploymentInfo,
    MemoryReporter,
    TaskDefaults,
    WorkflowContext,
    run_workflow,
    workflow_spec,
)

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
EXECUTED_PAGES = ("workflows.md", "plugins.md")
FENCE = re.compile(
    r"^```(?P<lang>[^\n`]*)\n(?P<body>.*?)^```[ \t]*\n(?:<!--\s*test:\s*(?P<runs>\[.*?\])\s*-->)?",
    re.S | re.M,
)


# --------------------------------------------------------------------------------------------------
# The generated CRD reference


def test_crd_reference_is_generated_from_the_current_models() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_crd_reference.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------------------------------
# Examples that run


@dataclass(frozen=True)
class Example:
    page: str
    index: int
    line: int
    body: str
    runs: list[dict[str, Any]]

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def python_examples() -> Iterator[Example]:
    for page in EXECUTED_PAGES:
        path = DOCS / page
        if not path.exists():
            continue
        text = path.read_text()
        for index, match in enumerate(FENCE.finditer(text)):
            if match["lang"].strip() != "python":
                continue
            runs = json.loads(match["runs"]) if match["runs"] else [{}]
            line = text.count("\n", 0, match.start()) + 1
            yield Example(page, index, line, match["body"], runs)


def _import(example: Example, folder: Path) -> ModuleType:
    name = f"docs_example_{Path(example.page).stem}_{example.index}"
    path = folder / f"{name}.py"
    path.write_text(example.body)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _context(fn: Any, run: dict[str, Any], reporter: MemoryReporter) -> WorkflowContext:
    spec = workflow_spec(fn)
    system_wide = spec is not None and spec.system_wide
    deployment = None if system_wide else DeploymentInfo("web", "shop", run.get("inputs", {"replicas": 3}))
    ctx = WorkflowContext(
        execution_name=f"{fn.__name__}-example",
        workflow_name=fn.__name__,
        namespace="conveyor-system" if system_wide else "shop",
        deployment=deployment,
        reporter=reporter,
        dry_run=run.get("dry_run", False),
        defaults=TaskDefaults(retry_interval=0.0, force_grace_period=5.0),
    )
    if "cancel" in run:
        ctx.cancel_token.request(CancelMode(run["cancel"]))
    return ctx


@pytest.mark.parametrize("example", list(python_examples()), ids=lambda example: example.id)
def test_python_example_runs_as_documented(example: Example, tmp_path: Path) -> None:
    module = _import(example, tmp_path)
    try:
        workflows = [
            value
            for value in vars(module).values()
            if workflow_spec(value) is not None and getattr(value, "__module__", None) == module.__name__
        ]
        if not workflows:
            assert example.runs == [{}], "a test comment on a block that defines no workflow"
        for fn in workflows:
            for run in example.runs:
                reporter = MemoryReporter(checkpoints=run.get("checkpoints"))
                outcome = run_workflow(fn, _context(fn, run, reporter), run.get("parameters", {}))
                where = f"{fn.__name__} with {run}"
                assert outcome.status == run.get("status", "terminated"), f"{where}: {outcome}"
                if "result" in run:
                    assert json.loads(json.dumps(outcome.result)) == run["result"], where
                if "error" in run:
                    assert run["error"] in (outcome.error or ""), f"{where}: {outcome.error}"
                if "skipped" in run:
                    assert reporter.task_ids("task_skipped") == run["skipped"], where
                logs = "\n".join(reporter.messages())
                for expected in run.get("logs", []):
                    assert expected in logs, f"{where}: {expected!r} not in the logs:\n{logs}"
                events = [event.fields["message"] for event in reporter.events()]
                for expected in run.get("events", []):
                    assert any(expected in message for message in events), f"{where}: {events}"
    finally:
        sys.modules.pop(module.__name__, None)


def test_invalid_parameters_example_is_the_message_validation_gives() -> None:
    declared = {
        name: ParameterDeclaration.model_validate(declaration)
        for name, declaration in {
            "timeout": {"type": "integer"},
            "target": {"type": "string", "constraints": {"validValues": ["prod", "staging"]}},
        }.items()
    }
    with pytest.raises(InvalidParameters) as raised:
        validate_parameters(
            declared, {"timeout": "soon", "target": "test", "colour": "red"}, False, workflow="install"
        )
    assert f"```text\n{raised.value.message}\n```" in (DOCS / "workflows.md").read_text()


# --------------------------------------------------------------------------------------------------
# Reference messages in docs/admission.md


SCHEDULED = datetime(2030, 1, 1, 2, 0, tzinfo=UTC)
CREATED = datetime(2030, 1, 1, 3, 0, tzinfo=UTC)
DOCUMENTED_MESSAGES = {
    messages.system_wide_running("<ns>/<name>"),
    messages.deployment_busy(["<names>"]),
    messages.others_running(["<ns>/<names>"]),
    messages.system_wide_waiting("<ns>/<name>"),
    messages.capacity_reached("<max>", "<running>"),  # type: ignore[arg-type]  # placeholders
    messages.queue_combined_with(["force"]),
    messages.queue_combined_with(["dryRun"]),
    messages.queue_combined_with(["force", "dryRun"]),
    messages.scheduled_in_past(SCHEDULED, CREATED),
    messages.waiting_for_system_wide_running("<ns>/<name>"),
    messages.waiting_for_system_wide_queued("<ns>/<name>"),
    messages.waiting_for_deployment("<ns>/<deployment>", ["<ns>/<names>"]),
    messages.waiting_for_others(["<ns>/<names>"]),
    messages.waiting_for_capacity("<max>"),  # type: ignore[arg-type]
    requests.unknown_deployment("<ns>", "<deployment>"),
    requests.unknown_workflow("<workflow>", "deployment <deployment>", ["<declared>"]),
    requests.unknown_workflow("<workflow>", "the operator's system workflows", ["<declared>"]),
    requests.system_wide_outside("<ns>", "<operator namespace>"),
}
"""What admission.md must quote, rendered by the code with the placeholders the page uses."""
MESSAGE_STARTS = (
    "You cannot start",
    "The following executions",
    "queue: true cannot",
    "scheduledTime ",
    "system-wide execution <",
    "running executions",
    "a free slot",
    "Deployment <",
    "Workflow <",
    "A system-wide execution (no deployment)",
)


def _quoted(text: str) -> set[str]:
    """Lines of fenced `text` blocks and inline code spans."""
    blocks = [match["body"] for match in FENCE.finditer(text) if match["lang"] == "text"]
    quoted = {line for body in blocks for line in body.splitlines()}
    quoted |= set(re.findall(r"(?<!`)`([^`\n]+)`(?!`)", text))
    return quoted


def test_admission_page_quotes_every_reference_message() -> None:
    quoted = _quoted((DOCS / "admission.md").read_text())
    missing = sorted(DOCUMENTED_MESSAGES - quoted)
    assert not missing, f"not quoted word for word in docs/admission.md: {missing}"


def test_admission_page_quotes_no_message_the_code_does_not_produce() -> None:
    quoted = _quoted((DOCS / "admission.md").read_text())
    stale = sorted(q for q in quoted if q.startswith(MESSAGE_STARTS) and q not in DOCUMENTED_MESSAGES)
    assert not stale, f"docs/admission.md quotes messages admission/messages.py does not produce: {stale}"


# --------------------------------------------------------------------------------------------------
# Metric names in docs/operations.md


def _metric_names() -> set[str]:
    metrics_module = pytest.importorskip("conveyor.controller.metrics", reason="controller/metrics.py absent")
    metrics = metrics_module.OperatorMetrics()
    metrics.attach(lambda: {"queued": 1}, lambda: 1, lambda: {"status": 1}, lambda: True)
    metrics.decisions.labels("admitted").inc()  # a labelled family has no samples until used
    names: set[str] = set()
    for family in metrics.registry.collect():
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
    return names


def test_every_metric_named_in_operations_exists() -> None:
    known = _metric_names()
    named = set(re.findall(r"\bconveyor_[a-z0-9_]+", (DOCS / "operations.md").read_text()))
    assert named, "docs/operations.md names no metric"
    assert not sorted(named - known), f"not defined in controller/metrics.py: {sorted(named - known)}"


def test_every_metric_of_the_operator_is_in_operations() -> None:
    text = (DOCS / "operations.md").read_text()
    metrics_module = pytest.importorskip("conveyor.controller.metrics", reason="controller/metrics.py absent")
    metrics = metrics_module.OperatorMetrics()
    metrics.attach(lambda: {}, lambda: 0, lambda: {}, lambda: False)
    families = {family.name for family in metrics.registry.collect()}
    assert not sorted(f for f in families if f not in text), "metrics missing from docs/operations.md"


# --------------------------------------------------------------------------------------------------
# Links


LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _pages() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


@pytest.mark.parametrize("page", _pages(), ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_points_to_an_existing_file(page: Path) -> None:
    if not page.exists():
        pytest.skip(f"{page.name} does not exist")
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M)
    broken = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue
        path = target.split("#", 1)[0]
        if not (page.parent / path).exists():
            broken.append(target)
    assert not broken, f"{page.name}: broken links {broken}"
