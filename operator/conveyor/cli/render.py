"""What the CLI prints: tables in kubectl's plain style, JSON/YAML of the API objects, and the live
progress of an execution.

What must hold: output meant for scripts is stable. `-o json|yaml` prints the objects as the API
returns them (a `List` for many, as kubectl does); tables never wrap or truncate when stdout is not a
terminal; progress written to a pipe is plain lines (one per status change and per event), never
terminal control codes. Live, colourful rendering is only for terminals.

rich and yaml are imported where they are used: every command's `--help` imports this module, and
rich alone takes tens of milliseconds to import.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import click

from conveyor.api.models import FINAL_PHASES, ExecutionPhase
from conveyor.kube.times import parse_time

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import TaskID
    from rich.table import Table

PIPE_WIDTH = 250
"""Columns of a table written to a pipe: wide enough that nothing is cut."""


def console(err: bool = False) -> Console:
    """A console on stdout (or stderr) that does not wrap when it is not a terminal."""
    from rich.console import Console

    probe = Console(stderr=err)
    if probe.is_terminal:
        return probe
    return Console(stderr=err, width=PIPE_WIDTH, no_color=True, highlight=False, soft_wrap=True)


def print_structured(data: Any, output: str) -> None:
    """`data` as JSON or YAML on stdout."""
    if output == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))
    else:
        import yaml

        click.echo(yaml.safe_dump(data, sort_keys=False, default_flow_style=False).rstrip("\n"))


def as_list(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The `kind: List` wrapper kubectl prints for many objects."""
    return {"apiVersion": "v1", "kind": "List", "items": list(items), "metadata": {"resourceVersion": ""}}


def build_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
    """kubectl's look: upper-case headers, no borders, columns separated by spaces."""
    from rich.table import Table

    table = Table(box=None, pad_edge=False, expand=False, header_style="bold", padding=(0, 3, 0, 0))
    for header in headers:
        table.add_column(header.upper(), no_wrap=True, overflow="ignore")
    for row in rows:
        table.add_row(*row)
    return table


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]], empty: str) -> None:
    """A table on stdout, or `empty` on stderr when there are no rows (kubectl's "No resources found")."""
    if not rows:
        click.echo(empty, err=True)
        return
    console().print(build_table(headers, rows))


def print_objects(
    objects: list[dict[str, Any]],
    output: str,
    headers: Sequence[str],
    row: Callable[[dict[str, Any]], list[str]],
    namespace: str | None,
    kind: str,
) -> None:
    """What a `list` command prints: the objects as a `List` (-o json|yaml), or a table that has a
    namespace column when `namespace` is None (every namespace), or kubectl's "No ... found" line."""
    if output != "table":
        print_structured(as_list(objects), output)
        return
    columns = (["namespace"] if namespace is None else []) + list(headers)
    where = "any namespace" if namespace is None else f"namespace {namespace}"
    print_table(columns, [row(obj) for obj in objects], f"No {kind} found in {where}.")


def print_fields(fields: Sequence[tuple[str, str]]) -> None:
    """A `describe`-like list of `Name: value` lines, values aligned."""
    width = max((len(name) for name, _ in fields), default=0) + 1
    for name, value in fields:
        lines = value.splitlines() or [""]
        click.echo(f"{name + ':':<{width}} {lines[0]}")
        for more in lines[1:]:
            click.echo(f"{'':<{width}} {more}")


def age(value: Any, now: datetime | None = None) -> str:
    """kubectl's short age: 42s, 5m, 3h, 2d; `<unknown>` without a time."""
    moment = parse_time(value)
    if moment is None:
        return "<unknown>"
    seconds = max(0, int(((now or datetime.now(UTC)) - moment).total_seconds()))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 120 * 60:
        return f"{seconds // 60}m"
    if seconds < 48 * 3600:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def operations_text(status: Mapping[str, Any]) -> str:
    ops = status.get("operations") or {}
    if not ops:
        return "-"
    return f"{ops.get('finished', 0)}/{ops.get('total', 0)}"


def event_line(event: Mapping[str, Any]) -> str:
    """One Event as a progress line: `Reason: message` (Warnings marked)."""
    mark = "! " if event.get("type") == "Warning" else ""
    return f"{mark}{event.get('reason') or '?'}: {event.get('message') or ''}".rstrip()


# --------------------------------------------------------------------------------------------------
# Progress of one execution while the CLI waits for it


class ProgressView(Protocol):
    def update(self, execution: Mapping[str, Any]) -> None: ...
    def event(self, event: Mapping[str, Any]) -> None: ...
    def close(self) -> None: ...


class PlainProgress:
    """For pipes and logs: a line when the status changes and one per event, on stdout."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._last: tuple[str | None, str] | None = None

    def update(self, execution: Mapping[str, Any]) -> None:
        status = execution.get("status") or {}
        phase = status.get("phase")
        shown = (phase, operations_text(status))
        if phase and shown != self._last:
            self._last = shown
            ops = f" (operations {shown[1]})" if shown[1] != "-" else ""
            click.echo(f"{self.name} {phase}{ops}")

    def event(self, event: Mapping[str, Any]) -> None:
        click.echo(f"  {event_line(event)}")

    def close(self) -> None:
        pass


class LiveProgress:
    """For terminals: a rich progress bar (status, operations finished/total), events printed above it."""

    def __init__(self, name: str) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.name = name
        self._progress = Progress(
            TextColumn("[bold]{task.fields[execution]}"),
            TextColumn("{task.fields[phase]:<16}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("operations"),
            TimeElapsedColumn(),
            console=Console(),
            transient=False,
        )
        self._task: TaskID = self._progress.add_task(
            "", total=None, execution=name, phase="waiting for the operator"
        )
        self._progress.start()

    def update(self, execution: Mapping[str, Any]) -> None:
        status = execution.get("status") or {}
        ops = status.get("operations") or {}
        total = ops.get("total")
        phase = status.get("phase") or "waiting for the operator"
        self._progress.update(
            self._task, phase=phase, total=total or None, completed=ops.get("finished", 0)
        )

    def event(self, event: Mapping[str, Any]) -> None:
        style = "yellow" if event.get("type") == "Warning" else "dim"
        self._progress.console.print(f"  {event_line(event)}", style=style, markup=False, highlight=False)

    def close(self) -> None:
        self._progress.stop()


def progress_view(name: str) -> ProgressView:
    from rich.console import Console

    return LiveProgress(name) if Console().is_terminal else PlainProgress(name)


def is_final(phase: str | None) -> bool:
    return phase in {p.value for p in FINAL_PHASES}


def phase_of(execution: Mapping[str, Any]) -> ExecutionPhase | None:
    raw = (execution.get("status") or {}).get("phase")
    try:
        return ExecutionPhase(raw) if raw else None
    except ValueError:
        return None
