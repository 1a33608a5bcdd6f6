"""`python -m conveyor.sim`: the same as `conveyor sim`, without the rest of Conveyor's CLI."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import signal
import sys

from conveyor.sim.app import Controller, SimServer


def default_controllers() -> list[Controller]:
    """The Job controller and kubelet, when their package provides `CONTROLLERS` (issue 3)."""
    try:
        module = importlib.import_module("conveyor.sim.controllers")
    except ImportError:
        return []
    return list(getattr(module, "CONTROLLERS", []))


def serve(host: str, port: int, kubeconfig: str, data_dir: str | None, controllers: bool = True) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        server = SimServer(host, port, kubeconfig, data_dir, default_controllers() if controllers else [])
        await server.start()
        print(f"conveyor sim serving {server.url}; kubeconfig: {kubeconfig}", file=sys.stderr, flush=True)
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
    args = parser.parse_args(argv)
    serve(args.host, args.port, args.kubeconfig, args.data_dir, controllers=not args.no_controllers)


if __name__ == "__main__":
    main()
