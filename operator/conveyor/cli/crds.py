"""`conveyor crds`: print, write or check the CRDs generated from `conveyor.api.models`.

`crds/` in the repository is a copy of this output; `make crds` rewrites it and `--check` (CI, tests)
says when it is stale, so the YAML never drifts from the models it comes from.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import click


def _stale_files(directory: Path, rendered: dict[str, str]) -> list[str]:
    """One summary line per file that is missing or differs, with a short unified diff."""
    problems: list[str] = []
    for name, expected in sorted(rendered.items()):
        path = directory / name
        if not path.exists():
            problems.append(f"{path}: missing")
            continue
        actual = path.read_text()
        if actual == expected:
            continue
        diff = list(
            difflib.unified_diff(
                actual.splitlines(),
                expected.splitlines(),
                f"{path} (on disk)",
                f"{path} (generated)",
                lineterm="",
            )
        )
        shown = diff[:40] + ([f"... {len(diff) - 40} more diff lines"] if len(diff) > 40 else [])
        problems.append(f"{path}: differs from what the models generate\n" + "\n".join(shown))
    return problems


@click.command()
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write one file per CRD into this directory instead of printing them.",
)
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing; exit 1 if the files in --output-dir (default: crds) differ from the models' output.",
)
def crds(output_dir: Path | None, check: bool) -> None:
    """Print the Conveyor CRDs (a multi-document YAML), or write them with --output-dir."""
    from conveyor.api.crds import render_crds_yaml  # the models and yaml: only when rendering

    rendered = render_crds_yaml()
    if check:
        directory = output_dir or Path("crds")
        problems = _stale_files(directory, rendered)
        if problems:
            click.echo("\n".join(problems), err=True)
            click.echo("The CRDs are stale: run `make crds` and commit the result.", err=True)
            raise SystemExit(1)
        click.echo(f"{directory}: up to date ({len(rendered)} CRDs)")
        return
    if output_dir is None:
        click.echo("---\n".join(rendered[name] for name in sorted(rendered)), nl=False)
        return
    output_dir.mkdir(parents=True, exist_ok=True)
    for name, text in sorted(rendered.items()):
        (output_dir / name).write_text(text)
        click.echo(f"wrote {output_dir / name}")
