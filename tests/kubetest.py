"""Helpers shared by every test folder (imported as `kubetest`; tests/ is on sys.path through its
conftest.py): wait on conditions instead of sleeping, read Status bodies, run kubectl elsewhere."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float = 10.0, what: str = "condition") -> T:
    """Poll `predicate` until it returns a truthy value; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def status_of(exc: Any) -> dict[str, Any]:
    """The Status body of an ApiException."""
    return json.loads(exc.body)


def kubectl_at(kubeconfig: str) -> Callable[..., Any]:
    """A kubectl runner for a kubeconfig other than the session's (a second sim, a restarted one)."""
    def call(*args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["kubectl", *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "KUBECONFIG": kubeconfig},
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{proc.stderr}")
        return proc

    return call
