"""Fixtures shared by every test folder: the kube tools on PATH, and "a cluster" to test against.

`kubeconfig` is the local control plane started once per session, or, when the environment
variable CONVEYOR_TEST_KUBECONFIG names a kubeconfig (kind in CI), that cluster instead.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
TOOLS_BIN = REPO / ".tools" / "bin"

if str(TOOLS_BIN) not in os.environ.get("PATH", "").split(os.pathsep)[:1]:
    os.environ["PATH"] = f"{TOOLS_BIN}{os.pathsep}{os.environ.get('PATH', '')}"

EXTERNAL_KUBECONFIG = os.environ.get("CONVEYOR_TEST_KUBECONFIG") or None

Kubectl = Callable[..., "subprocess.CompletedProcess[str]"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "sim_only: looks inside the local control plane (its ApiService, "
        "restarts); skipped when CONVEYOR_TEST_KUBECONFIG points at another cluster",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not EXTERNAL_KUBECONFIG:
        return
    skip = pytest.mark.skip(reason="exercises the local control plane itself")
    for item in items:
        if "sim_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One local control plane for the session (controllers included), as `conveyor sim` runs it."""
    from conveyor.sim.__main__ import default_controllers
    from conveyor.sim.app import SimServer

    kubeconfig = tmp_path_factory.mktemp("sim") / "kubeconfig"
    with SimServer.run_in_thread(kubeconfig=kubeconfig, controllers=default_controllers()) as server:
        yield server


@pytest.fixture(scope="session")
def kubeconfig(request: pytest.FixtureRequest) -> str:
    """Path of a kubeconfig for the cluster under test."""
    if EXTERNAL_KUBECONFIG:
        return EXTERNAL_KUBECONFIG
    return str(request.getfixturevalue("sim").kubeconfig)


def run_kubectl(
    kubeconfig: str, *args: str, input: str | None = None, check: bool = True, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the real kubectl against `kubeconfig`; with `check`, a failure raises with its stderr."""
    env = {**os.environ, "KUBECONFIG": kubeconfig}
    proc = subprocess.run(
        ["kubectl", *args], input=input, capture_output=True, text=True, env=env, timeout=timeout
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def kubectl(kubeconfig: str) -> Kubectl:
    """`kubectl(*args, input=None, check=True) -> CompletedProcess` against the cluster under test."""

    def call(
        *args: str, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return run_kubectl(kubeconfig, *args, input=input, check=check, timeout=timeout)

    return call


@pytest.fixture
def namespace(kubectl: Kubectl) -> Iterator[str]:
    """A fresh namespace per test, deleted (without waiting) afterwards."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    kubectl("apply", "-f", "-", input=f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n")
    yield name
    kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False)
