"""The sim's pure modules written alongside the server (patching, schemas, discovery, OpenAPI, tables).

The server imports them through here so that it still starts, with a clear 500 for the feature in
question, while one of them is missing or broken during development. Each attribute is the module,
or None when it cannot be imported.
"""

from __future__ import annotations

import importlib
import logging
from types import ModuleType
from typing import Any

log = logging.getLogger(__name__)


def _load(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(f"conveyor.sim.{name}")
    except ImportError as exc:
        log.warning("conveyor.sim.%s is not available: %s", name, exc)
        return None


patch: Any = _load("patch")
schema: Any = _load("schema")
builtin_schema: Any = _load("builtin_schema")
discovery: Any = _load("discovery")
openapi: Any = _load("openapi")
tables: Any = _load("tables")
