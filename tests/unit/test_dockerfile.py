"""The image recipe (Dockerfile), checked without an engine: hadolint-style rules that Python can
check, and that its entrypoint, as installed from the wheel, runs."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
OCI_LABELS = ("title", "description", "source", "licenses", "version", "revision")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str
    stage: int
    """Index of the build stage (-1: before the first FROM)."""


def _instructions() -> list[Instruction]:
    """The Dockerfile's instructions, continuation lines joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    found: list[Instruction] = []
    stage = -1
    for line in logical:
        keyword, _, arguments = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        found.append(Instruction(keyword, arguments.strip(), stage))
    return found


def _global_args() -> dict[str, str]:
    """ARG defaults declared before the first FROM (the only ones FROM may use)."""
    args: dict[str, str] = {}
    for instruction in _instructions():
        if instruction.stage == -1 and instruction.keyword == "ARG" and "=" in instruction.arguments:
            name, value = instruction.arguments.split("=", 1)
            args[name] = value
    return args


def _base_images() -> list[str]:
    args = _global_args()
    images = []
    for instruction in _instructions():
        if instruction.keyword == "FROM":
            image = instruction.arguments.split()[0]
            images.append(re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), image))
    return images


def _final_stage() -> list[Instruction]:
    instructions = _instructions()
    last = max(i.stage for i in instructions)
    return [i for i in instructions if i.stage == last]


def test_every_base_image_has_a_pinned_tag_and_none_is_latest() -> None:
    for image in _base_images():
        name, _, tag = image.rpartition(":")
        assert name and tag, f"{image}: no tag"
        assert tag != "latest", image
        assert re.match(r"^3\.11\.\d+-slim", tag), f"{image}: not a pinned Python 3.11 slim tag"


def test_builds_the_wheel_in_a_builder_stage() -> None:
    builder = [i for i in _instructions() if i.stage == 0]
    assert builder[0].arguments.split()[-1].lower() == "builder"
    assert any(i.keyword == "RUN" and "pip wheel" in i.arguments for i in builder)


def test_runtime_stage_copies_only_the_wheel() -> None:
    copies = [i for i in _final_stage() if i.keyword == "COPY"]
    assert copies, "the runtime stage must copy the wheel from the builder"
    for copy in copies:
        assert copy.arguments.startswith("--from=builder "), f"COPY of the build context: {copy.arguments}"
        assert copy.arguments.split()[1] == "/wheels"


def test_runtime_stage_installs_the_wheel_only() -> None:
    runs = " ".join(i.arguments for i in _final_stage() if i.keyword == "RUN")
    installs = re.findall(r"pip install ([^&;]+)", runs)
    assert [install.strip() for install in installs] == ["/wheels/*.whl"]


def test_builder_copies_only_what_the_wheel_needs() -> None:
    builder = [i for i in _instructions() if i.stage == 0 and i.keyword == "COPY"]
    sources = {source for i in builder for source in i.arguments.split()[:-1]}
    assert sources == {"pyproject.toml", "README.md", "operator"}


def test_no_add_instruction() -> None:
    assert [i for i in _instructions() if i.keyword == "ADD"] == []


def test_runs_as_a_numeric_non_root_user() -> None:
    users = [i for i in _final_stage() if i.keyword == "USER"]
    assert users, "USER must be set in the runtime stage"
    user = users[-1].arguments.split(":")[0]
    assert user.isdigit(), "numeric, so the kubelet can check runAsNonRoot"
    assert int(user) != 0


def test_user_matches_the_pods_security_context() -> None:
    """The chart and the worker Jobs run as 65532; the image's user is the same."""
    (user,) = [i.arguments for i in _final_stage() if i.keyword == "USER"]
    assert user == "65532:65532"


def test_entrypoint_is_the_conveyor_command_in_exec_form() -> None:
    (entrypoint,) = [i.arguments for i in _final_stage() if i.keyword == "ENTRYPOINT"]
    assert entrypoint == '["conveyor"]'
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert "conveyor" in scripts


def test_carries_the_oci_labels() -> None:
    labels = " ".join(i.arguments for i in _final_stage() if i.keyword == "LABEL")
    for label in OCI_LABELS:
        assert f"org.opencontainers.image.{label}=" in labels


def test_dockerignore_sends_only_what_the_builder_copies() -> None:
    lines = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    included = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert included == {"pyproject.toml", "README.md", "operator"}


def test_entrypoint_command_runs() -> None:
    conveyor = Path(sys.executable).parent / "conveyor"
    binary = str(conveyor) if conveyor.exists() else shutil.which("conveyor")
    if binary is None:
        pytest.skip("the conveyor command is not installed")
    proc = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Usage: conveyor" in proc.stdout
