"""`SimServer`: the whole local control plane, started on an event loop (the CLI's or a thread's).

What must hold:
- The kubeconfig appears only once the server accepts requests, and appears whole (written to a
  temporary file and renamed), so a client polling for it never reads half a file or gets refused.
- With a data dir, the CA, the tokens and every object survive a restart, so a kubeconfig written
  by the previous run still works and resourceVersions keep increasing.
- Controllers (`Callable[[ApiService], Awaitable[None]]`) run as tasks beside the server and are
  cancelled on stop; they use the ApiService directly, never HTTP, so authorization never applies
  to them.
- `faults` (else $CONVEYOR_SIM_FAULTS, JSON) makes the HTTP API misbehave on purpose (faults.py);
  `server.faults.configure(...)` changes it at runtime, from any thread.
- `authorization` is "RBAC" (the default, as on a cluster: every HTTP request checked against the
  stored RBAC policy) or "AlwaysAllow".
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import secrets
import tempfile
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import yaml
from aiohttp import web

from conveyor.sim import certs as certs_mod
from conveyor.sim import openapi
from conveyor.sim.api import ApiService
from conveyor.sim.authorization import DEFAULT_MODE, MODES
from conveyor.sim.faults import FaultConfig, FaultInjector, from_environment
from conveyor.sim.kubelet.logs import serve_pod_log
from conveyor.sim.kubelet.streaming import serve_pod_stream
from conveyor.sim.lifecycle import Lifecycle
from conveyor.sim.resources import Registry
from conveyor.sim.role_aggregator import ClusterRoleAggregation
from conveyor.sim.server import SimApp
from conveyor.sim.storage import DEFAULT_HISTORY, Store

Controller = Callable[[ApiService], Awaitable[None]]
T = TypeVar("T")


def write_atomically(path: Path, text: str, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def kubeconfig_text(url: str, ca_pem: str, token: str, namespace: str = "default") -> str:
    ca = base64.b64encode(ca_pem.encode()).decode()
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "preferences": {},
            "clusters": [
                {"name": "conveyor-sim", "cluster": {"server": url, "certificate-authority-data": ca}}
            ],
            "users": [{"name": "conveyor-admin", "user": {"token": token}}],
            "contexts": [
                {
                    "name": "conveyor-sim",
                    "context": {"cluster": "conveyor-sim", "user": "conveyor-admin", "namespace": namespace},
                }
            ],
            "current-context": "conveyor-sim",
        },
        sort_keys=False,
    )


class SimServer:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        kubeconfig: str | os.PathLike[str] | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        controllers: list[Controller] | None = None,
        bookmark_interval: float = 60.0,
        history: int = DEFAULT_HISTORY,
        authorization: str = DEFAULT_MODE,
        faults: FaultConfig | None = None,
    ) -> None:
        if authorization not in MODES:
            raise ValueError(f"authorization must be one of {', '.join(MODES)}, not {authorization!r}")
        self.host = host
        self.port = port
        self.kubeconfig = Path(kubeconfig) if kubeconfig else None
        self.data_dir = Path(data_dir) if data_dir else None
        self.controllers = list(controllers or ())
        self.bookmark_interval = bookmark_interval
        self.history = history
        self.authorization = authorization
        self.url = ""
        self.api: ApiService
        self.app: SimApp
        self.faults = FaultInjector(faults if faults is not None else from_environment())
        self.loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._warming: asyncio.Future[None] | None = None
        self.admin_token = ""

    def _secret(self, name: str, make: Callable[[], str]) -> str:
        if self.data_dir is None:
            return make()
        path = self.data_dir / name
        if path.exists():
            return path.read_text().strip()
        value = make()
        write_atomically(path, value)
        return value

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        if self.kubeconfig is not None:
            # A kubeconfig left by a previous run must not pass for this one before it listens.
            self.kubeconfig.unlink(missing_ok=True)
        certs = certs_mod.load_or_generate(self.data_dir, [self.host])
        self.admin_token = self._secret("admin-token", lambda: secrets.token_urlsafe(32))
        token_secret = self._secret("token-secret", lambda: secrets.token_hex(32)).encode()
        store = Store(self.data_dir / "store" if self.data_dir else None, self.history)
        self.api = ApiService(store, Registry(), certs.ca_pem, token_secret, self.bookmark_interval)
        self.api.bootstrap()
        # Off the loop, and not awaited: requests are served meanwhile, and one that needs the
        # definitions before they are ready builds them itself (in a thread too, see server.py).
        self._warming = self.loop.run_in_executor(None, openapi.warm_builtin_definitions)
        lifecycle = Lifecycle(self.api)
        self._tasks.append(asyncio.create_task(lifecycle.run(), name="sim-lifecycle"))
        aggregation = ClusterRoleAggregation(self.api)
        self._tasks.append(asyncio.create_task(aggregation.run(), name="sim-clusterrole-aggregation"))
        for controller in self.controllers:
            self._tasks.append(asyncio.create_task(_run_controller(controller, self.api)))
        self.app = SimApp(self.api, self.admin_token, self.faults, self.authorization)
        self.app.register_log_handler(serve_pod_log)
        self.app.stream_handler = serve_pod_stream
        self._runner = web.AppRunner(
            self.app.build(), access_log=None, shutdown_timeout=1.0, handle_signals=False
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=certs.ssl_context(), backlog=1024)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"https://{host}:{self.port}"
        self.app.server_address = f"{host}:{self.port}"
        self.api.server_url = self.url  # the kubelet writes it into each Pod's kubeconfig
        if self.kubeconfig is not None:
            write_atomically(self.kubeconfig, kubeconfig_text(self.url, certs.ca_pem, self.admin_token))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self._warming is not None:
            # A failure here is the first request's to report (the documents are rebuilt then).
            with contextlib.suppress(Exception):
                await self._warming
            self._warming = None
        self.api.hub.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.api.store.close()

    async def serve_forever(self, stop: asyncio.Event) -> None:
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run a coroutine (e.g. an ApiService call) on the server's loop from another thread."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    @classmethod
    @contextlib.contextmanager
    def run_in_thread(cls, **kwargs: Any) -> Iterator[SimServer]:
        """Start a sim on its own loop in a daemon thread; yields it once it accepts requests."""
        server = cls(**kwargs)
        started = threading.Event()
        failure: list[BaseException] = []
        stop_holder: dict[str, asyncio.Event] = {}

        async def main() -> None:
            stop = asyncio.Event()
            stop_holder["stop"] = stop
            try:
                await server.start()
            except BaseException as exc:
                failure.append(exc)
                started.set()
                raise
            started.set()
            try:
                await stop.wait()
            finally:
                await server.stop()

        thread = threading.Thread(target=lambda: asyncio.run(main()), name="conveyor-sim", daemon=True)
        thread.start()
        started.wait(60)
        if failure:
            raise failure[0]
        try:
            yield server
        finally:
            assert server.loop is not None
            server.loop.call_soon_threadsafe(stop_holder["stop"].set)
            thread.join(30)


@contextlib.contextmanager
def run_in_thread(**kwargs: Any) -> Iterator[SimServer]:
    with SimServer.run_in_thread(**kwargs) as server:
        yield server


async def _run_controller(controller: Controller, api: ApiService) -> None:
    await controller(api)
