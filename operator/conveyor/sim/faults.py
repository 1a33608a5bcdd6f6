"""Fault injection: the sim misbehaving as a loaded or flaky kube-apiserver does, on purpose.

Chaos runs (benchmarks/chaos.py) need the API server to fail in the ways clients must survive:
- a share of writes (POST, PUT, PATCH, DELETE) answered 409 Conflict, 500 InternalError or 429
  TooManyRequests with `Retry-After`, with kube's `Status` bodies (errors.py), *before* the write
  is applied: a refused write changed nothing, so a client that re-reads and retries is correct.
  Conflicts go to writes of an existing object only (PUT, PATCH, DELETE: someone else's write won);
  a create answered 409 would claim the object exists, which kube never does for one it lacks;
- latency added to every request in scope (milliseconds, with uniform jitter);
- watch streams ended after a random time, as kube-apiserver ends them at its request timeout:
  the client must watch again from its last resourceVersion.

What must hold:
- Off unless configured: `FaultInjector()` injects nothing and costs one attribute read.
- Scoped: by resource (plural, optionally `plural/subresource`), and by user (shell-style patterns
  to include, and to exempt), so a test harness may keep its own requests out of the chaos.
- Switchable at runtime from any thread (`configure`, `disable`): decisions read one immutable
  `FaultConfig`, swapped whole.
- Deterministic for a seed: given the same sequence of requests, the same requests fail. (The
  order of concurrent requests is the only remaining source of variation.)
- Counted by kind (`injected`), so a run can print what it went through.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import os
import random
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from aiohttp import web

from conveyor.sim.errors import StatusError, conflict, internal, too_many_requests
from conveyor.sim.request_info import request_attributes

FAULTS_ENV = "CONVEYOR_SIM_FAULTS"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FAULT_KINDS = ("conflict", "internal", "throttle", "latency", "watch_cut")


@dataclass(frozen=True)
class FaultConfig:
    """What to inject. Shares are probabilities in [0, 1] per write in scope; their sum must not
    exceed 1 (one write gets at most one error)."""

    conflict: float = 0.0
    internal: float = 0.0
    throttle: float = 0.0
    retry_after_seconds: int = 1
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    watch_cut_min_seconds: float | None = None
    watch_cut_max_seconds: float | None = None
    """Both set: every watch in scope ends after a time drawn uniformly between them."""
    resources: tuple[str, ...] = ()
    """Plural names (`executions`, `leases`, `jobs`, `executions/status`); empty: every resource."""
    users: tuple[str, ...] = ()
    """User-name patterns (fnmatch) in scope; empty: every user."""
    exempt_users: tuple[str, ...] = ()
    """User-name patterns never touched, whatever `users` says."""
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in ("conflict", "internal", "throttle"):
            share = getattr(self, name)
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"{name} must be a share between 0 and 1, not {share}")
        if self.conflict + self.internal + self.throttle > 1.0 + 1e-9:
            raise ValueError("conflict + internal + throttle must not exceed 1")
        if self.latency_ms < 0 or self.jitter_ms < 0:
            raise ValueError("latency_ms and jitter_ms must not be negative")
        if self.retry_after_seconds < 0:
            raise ValueError("retry_after_seconds must not be negative")
        cut = (self.watch_cut_min_seconds, self.watch_cut_max_seconds)
        if (cut[0] is None) != (cut[1] is None):
            raise ValueError("watch_cut_min_seconds and watch_cut_max_seconds go together")
        if cut[0] is not None and cut[1] is not None and not 0 <= cut[0] <= cut[1]:
            raise ValueError("watch cuts need 0 <= watch_cut_min_seconds <= watch_cut_max_seconds")

    @property
    def active(self) -> bool:
        return bool(
            self.conflict or self.internal or self.throttle or self.latency_ms or self.jitter_ms
            or self.watch_cut_min_seconds is not None
        )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> FaultConfig:
        """From JSON-like data (the CLI flag, the env var); unknown keys are refused by name."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"unknown fault settings: {', '.join(unknown)} (known: {', '.join(sorted(known))})"
            )
        values = dict(data)
        for key in ("resources", "users", "exempt_users"):
            if key in values:
                raw = values[key]
                values[key] = (raw,) if isinstance(raw, str) else tuple(raw)
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> FaultConfig:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("fault settings must be a JSON object")
        return cls.from_mapping(data)


@dataclass
class _Decision:
    """What one request is in for; computed before it is served."""

    error: StatusError | None = None
    delay: float = 0.0
    watch_cut: float | None = None
    kinds: list[str] = field(default_factory=list)


class FaultInjector:
    """Consulted by the HTTP layer before each authenticated API request (`before`) and when a
    watch starts (`watch_deadline`). In-process callers of ApiService (the sim's controllers) are
    never affected: they are the cluster's own machinery, not its clients."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self._config = config or FaultConfig()
        self._random = random.Random(self._config.seed)
        self.injected: Counter[str] = Counter()

    @property
    def config(self) -> FaultConfig:
        return self._config

    def configure(self, config: FaultConfig | None = None, **changes: Any) -> FaultConfig:
        """Swap the settings (a whole FaultConfig, or changes to the current one); safe from any
        thread. A seed restarts the random sequence; the counters are kept."""
        with self._lock:
            new = config if config is not None else self._config
            if changes:
                for key in ("resources", "users", "exempt_users"):
                    if isinstance(changes.get(key), str):
                        changes[key] = (changes[key],)
                    elif key in changes:
                        changes[key] = tuple(changes[key])
                new = replace(new, **changes)
            if new.seed is not None and (new.seed != self._config.seed or config is not None):
                self._random = random.Random(new.seed)
            self._config = new
            return new

    def disable(self) -> None:
        """Inject nothing from now on (requests already delayed finish their delay)."""
        with self._lock:
            self._config = replace(self._config, conflict=0.0, internal=0.0, throttle=0.0, latency_ms=0.0,
                                   jitter_ms=0.0, watch_cut_min_seconds=None, watch_cut_max_seconds=None)

    def reset_counts(self) -> None:
        with self._lock:
            self.injected.clear()

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {kind: self.injected.get(kind, 0) for kind in FAULT_KINDS}

    # ---- decisions ------------------------------------------------------------------------------

    def decide(self, method: str, path: str, query: Mapping[str, str], username: str) -> _Decision:
        """The faults one request gets; pure but for the random sequence and the counters."""
        decision = _Decision()
        config = self._config
        if not config.active or not _user_in_scope(config, username):
            return decision
        attributes = request_attributes(method, path, query)
        in_scope = _resource_in_scope(config, attributes.resource, attributes.subresource)
        if not attributes.resource or not in_scope:
            return decision
        with self._lock:
            draw = self._random.random
            if config.latency_ms or config.jitter_ms:
                decision.delay = max(0.0, config.latency_ms + (2 * draw() - 1) * config.jitter_ms) / 1000.0
                decision.kinds.append("latency")
            if attributes.verb == "watch" and config.watch_cut_min_seconds is not None:
                low = config.watch_cut_min_seconds
                high = config.watch_cut_max_seconds or low
                decision.watch_cut = low + draw() * (high - low)
                decision.kinds.append("watch_cut")
            if method.upper() in WRITE_METHODS:
                roll = draw()
                name = attributes.name or "(new)"
                if roll < config.conflict:
                    if method.upper() != "POST":
                        decision.error = conflict(attributes.resource, attributes.group, name)
                        decision.kinds.append("conflict")
                elif roll < config.conflict + config.internal:
                    decision.error = internal("injected fault: the storage did not answer in time")
                    decision.kinds.append("internal")
                elif roll < config.conflict + config.internal + config.throttle:
                    decision.error = too_many_requests(config.retry_after_seconds)
                    decision.kinds.append("throttle")
            for kind in decision.kinds:
                if kind != "watch_cut":  # counted when the cut happens: a watch may end sooner
                    self.injected[kind] += 1
        return decision

    def count_watch_cut(self) -> None:
        with self._lock:
            self.injected["watch_cut"] += 1

    # ---- the HTTP layer's hooks -----------------------------------------------------------------

    async def before(self, request: web.Request, username: str = "") -> None:
        """Delay and/or refuse the request of `username`; a watch's cut time is left on the
        request for `watch_deadline`."""
        decision = self.decide(request.method, request.path, request.query, username)
        if decision.watch_cut is not None:
            request[_WATCH_CUT] = decision.watch_cut
        if decision.delay:
            await asyncio.sleep(decision.delay)
        if decision.error is not None:
            raise decision.error

    def watch_deadline(self, request: web.Request) -> float | None:
        """Seconds after which this watch is to be ended (None: never, by us)."""
        value = request.get(_WATCH_CUT)
        return float(value) if value is not None else None


_WATCH_CUT = web.RequestKey("conveyor_sim_watch_cut", float)


def _user_in_scope(config: FaultConfig, username: str) -> bool:
    if any(fnmatch.fnmatchcase(username, pattern) for pattern in config.exempt_users):
        return False
    return not config.users or any(fnmatch.fnmatchcase(username, pattern) for pattern in config.users)


def _resource_in_scope(config: FaultConfig, resource: str, subresource: str) -> bool:
    if not config.resources:
        return True
    full = f"{resource}/{subresource}" if subresource else resource
    return resource in config.resources or full in config.resources


def from_environment(environ: Mapping[str, str] | None = None) -> FaultConfig | None:
    """The settings in $CONVEYOR_SIM_FAULTS (JSON), None when unset or empty."""
    text = (environ if environ is not None else os.environ).get(FAULTS_ENV, "").strip()
    return FaultConfig.from_json(text) if text else None
