"""Dry run: the workflow code runs and builds its graphs; no task's operation or callable is called.

Local callables are skipped like plugin operations: they are arbitrary code and may change the
world just as much.
Every task still goes through the engine (events, progress, dependencies) so a dry run shows what
would happen and in which order; only the call is replaced by a log line. Nothing is checkpointed,
so a dry run can never make a later real resume skip work.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any


def describe(operation: str, kwargs: Mapping[str, Any]) -> str:
    return f"would run {operation} with {dict(kwargs)!r}"


def log_skipped_call(logger: logging.Logger | logging.LoggerAdapter[Any], operation: str,
                     kwargs: Mapping[str, Any]) -> None:
    logger.info("%s", describe(operation, kwargs))
