"""Workflow code from `spec.source.configMap`: read through the API into a private folder per execution.

Why through the API and not a mounted volume: a mount is fixed when the pod starts, updates reach it
late (kubelet sync) and the local control plane has no volumes; reading the ConfigMap when an
execution starts behaves the same everywhere, and a GitOps change reaches the next execution.

What must hold:
- each execution gets a fresh folder, first on `sys.path` while it resolves its mapping, and modules
  imported from earlier folders are forgotten first, so the newest ConfigMap contents win even when
  an earlier execution imported the same module name;
- resolution is serialised (`IMPORT_LOCK`): `sys.path` and `sys.modules` are process-wide, and forced
  executions resolve concurrently; once resolved, a workflow keeps its own module objects;
- the folder stays on the path while its execution runs (a workflow may import sibling modules
  lazily) and is removed afterwards.

A ConfigMap key is a file name (keys cannot contain '/', so the folder is flat): `web_workflows.py`
is importable as `web_workflows`; other keys (templates, manifests) sit beside it as data files.
"""

from __future__ import annotations

import base64
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conveyor.kube.api import KubeApi
from conveyor.workflows.decorator import WorkflowFunction, forget_modules, resolve_mapping

IMPORT_LOCK = threading.Lock()
_ROOT_PREFIX = "conveyor-source-"


class SourceError(Exception):
    """The source cannot be loaded; the message names the ConfigMap and says why."""


@dataclass
class SourceFolder:
    """A private folder of workflow code; `path` None means the worker image only."""

    path: Path | None

    def resolve(self, mapping: str) -> WorkflowFunction:
        """Import the mapping with this folder first on the path (see the module docstring).

        Raises conveyor.workflows.WorkflowMappingError naming the module or attribute at fault.
        """
        with IMPORT_LOCK:
            forget_modules([str(_root())])
            if self.path is not None:
                sys.path.insert(0, str(self.path))
            return resolve_mapping(mapping)

    def remove(self) -> None:
        if self.path is None:
            return
        with IMPORT_LOCK:
            while str(self.path) in sys.path:
                sys.path.remove(str(self.path))
        shutil.rmtree(self.path, ignore_errors=True)


_root_lock = threading.Lock()
_root_path: Path | None = None


def _root() -> Path:
    """One folder per worker process under the temp dir (the Job's writable /tmp)."""
    global _root_path
    with _root_lock:
        if _root_path is None:
            _root_path = Path(tempfile.mkdtemp(prefix=_ROOT_PREFIX))
        return _root_path


def write_folder(config_map: dict[str, Any], execution: str) -> Path:
    """Write the ConfigMap's keys as files into a new folder for `execution`."""
    folder = Path(tempfile.mkdtemp(prefix=f"{execution[:40]}-", dir=_root()))
    for key, text in (config_map.get("data") or {}).items():
        (folder / key).write_text(text)
    for key, encoded in (config_map.get("binaryData") or {}).items():
        (folder / key).write_bytes(base64.b64decode(encoded))
    return folder


async def load_source(api: KubeApi, namespace: str, config_map: str | None, execution: str) -> SourceFolder:
    """The execution's source folder: the ConfigMap's contents now, or the image only (None)."""
    if not config_map:
        return SourceFolder(None)
    found = await api.get_config_map(namespace, config_map)
    if found is None:
        raise SourceError(f"source ConfigMap {namespace}/{config_map} not found")
    return SourceFolder(write_folder(found, execution))
