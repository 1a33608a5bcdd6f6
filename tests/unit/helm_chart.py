"""Rendering the Helm chart for the chart tests (test_chart*.py): one way to find helm, keep its
caches out of the user's home, and read what `helm template` produced."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "conveyor"
RELEASE, NAMESPACE = "conveyor", "conveyor-system"
KUBERNETES_VERSION = "1.35.0"
"""The Kubernetes schemas (kubernetes-validate) rendered objects are checked against."""


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    """helm from .tools/bin (or PATH); the test is skipped when there is none."""
    local = REPO / ".tools" / "bin" / "helm"
    binary = str(local) if local.exists() else shutil.which("helm")
    if binary is None:
        pytest.skip("helm is not installed (make tools)")
    base = Path(os.environ.get("TMPDIR", "/tmp")) / "conveyor-helm"
    env = {
        **os.environ,
        "HELM_CACHE_HOME": str(base / "cache"),
        "HELM_CONFIG_HOME": str(base / "config"),
        "HELM_DATA_HOME": str(base / "data"),
    }
    return subprocess.run([binary, *args], capture_output=True, text=True, env=env, timeout=120, check=False)


def template(*args: str) -> subprocess.CompletedProcess[str]:
    """`helm template` of the chart as release RELEASE in NAMESPACE, with `args` (values)."""
    return helm("template", RELEASE, str(CHART), "--namespace", NAMESPACE, *args)


@functools.cache
def render(*args: str) -> tuple[dict[str, Any], ...]:
    """The objects `template(*args)` renders; the test fails when helm refuses the values."""
    proc = template(*args)
    assert proc.returncode == 0, proc.stderr
    return tuple(doc for doc in yaml.safe_load_all(proc.stdout) if doc)


def of_kind(docs: tuple[dict[str, Any], ...], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]
