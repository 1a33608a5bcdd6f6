"""`python -m conveyor.sim`: the same as `conveyor sim`, without the rest of Conveyor's CLI."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import signal
import sys

from conveyor.sim.app import Controller, SimServer
from conveyor.sim.authorization import DEFAULT_MODE, MODES
from conveyor.sim.faults import FAULTS_ENV, FaultConfig

AUTHORIZATION_HELP = (
    "How requests are authorized: RBAC enforces the stored Roles, ClusterRoles and bindings "
    "(403 Forbidden as kube-apiserver answers); AlwaysAllow lets every authenticated request through. "
    f"Default: {DEFAULT_MODE}, as a real cluster enforces it."
)
FAULTS_HELP = (
    "Inject faults into the HTTP API (chaos testing), as JSON: e.g. "
    '\'{"conflict": 0.05, "internal": 0.02, "throttle": 0.02, "latency_ms": 5, "jitter_ms": 5, '
    '"watch_cut_min_seconds": 5, "watch_cut_max_seconds": 30, "resources": ["executions", "leases"], '
    '"exempt_users": ["harness"], "seed": 1}\'. '
    f"Default: ${FAULTS_ENV}, else none."
)


def default_controllers() -> list[Controller]:
    """The Job controller and kubelet, when their package provides `CONTROLLERS` (issue 3)."""
    try:
        module = importlib.import_module("conveyor.sim.controllers")
    except ImportError:
        return []
    return list(getattr(module, "CONTROLLERS", []))


def serve(host: str, port: int, kubeconfig: str, data_dir: str | None, controllers: bool = True,
          authorization: str = DEFAULT_MODE, faults: FaultConfig | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        server = SimServer(host, port, kubeconfig, data_dir, default_controllers() if controllers else [],
                           authorization=authorization, faults=faults)
        await server.start()
        print(f"conveyor sim serving {server.url} (authorization: {authorization}); kubeconfig: {kubeconfig}",
              file=sys.stderr, flush=True)
        try:
            await stop.wait()
        finally:
            await server.stop()

    asyncio.run(main())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m conveyor.sim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--no-controllers", action="store_true")
    parser.add_argument("--authorization-mode", choices=MODES, default=DEFAULT_MODE, help=AUTHORIZATION_HELP)
    parser.add_argument("--faults", default=None, help=FAULTS_HELP)
    args = parser.parse_args(argv)
    try:
        faults = FaultConfig.from_json(args.faults) if args.faults else None
    except ValueError as error:
        parser.error(f"--faults: {error}")
    serve(args.host, args.port, args.kubeconfig, args.data_dir, controllers=not args.no_controllers,
          authorization=args.authorization_mode, faults=faults)


if __name__ == "__main__":
    main()
