"""Figures for the local control plane: write throughput and watch fan-out, over HTTPS like clients.

Runs `python -m conveyor.sim` in a subprocess (so the clients here do not share its GIL) and prints:
- writes/s: creates then updates of ConfigMaps from a few concurrent clients;
- watch fan-out: events delivered per second to 200 concurrent watchers, and the delivery latency
  (p50, p99) from the write's acknowledgement... measured from just before each write is sent.

Usage: python benchmarks/sim.py [--clients 4] [--writes 3000] [--watchers 200] [--events 300]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml


def _start_sim(tmp: Path) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    kubeconfig = tmp / "kubeconfig"
    proc = subprocess.Popen(
        [sys.executable, "-m", "conveyor.sim", "--kubeconfig", str(kubeconfig), "--no-controllers"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not kubeconfig.exists():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit("the sim did not start")
        time.sleep(0.05)
    return proc, yaml.safe_load(kubeconfig.read_text())


class Client:
    def __init__(self, cfg: dict[str, Any]) -> None:
        cluster = cfg["clusters"][0]["cluster"]
        self.server = cluster["server"]
        ca = base64.b64decode(cluster["certificate-authority-data"]).decode()
        self.ssl = ssl.create_default_context(cadata=ca)
        self.headers = {
            "Authorization": f"Bearer {cfg['users'][0]['user']['token']}",
            "Content-Type": "application/json",
        }

    def session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            headers=self.headers,
            connector=aiohttp.TCPConnector(ssl=self.ssl, limit=0),
            timeout=aiohttp.ClientTimeout(total=None),
        )


async def _ensure_namespace(client: Client, name: str) -> None:
    async with client.session() as s:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        async with s.post(f"{client.server}/api/v1/namespaces", json=body) as r:
            assert r.status in (201, 409), await r.text()


async def bench_writes(client: Client, clients: int, writes: int) -> float:
    await _ensure_namespace(client, "bench-writes")
    url = f"{client.server}/api/v1/namespaces/bench-writes/configmaps"
    per_client = writes // clients

    async def worker(i: int) -> None:
        async with client.session() as s:
            for j in range(per_client // 2):
                name = f"c{i}-{j}"
                body = {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": name},
                    "data": {"v": "0"},
                }
                async with s.post(url, json=body) as r:
                    assert r.status == 201, await r.text()
                    created = await r.json()
                created["data"]["v"] = "1"
                async with s.put(f"{url}/{name}", json=created) as r:
                    assert r.status == 200, await r.text()

    start = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(clients)))
    return (per_client // 2 * 2 * clients) / (time.perf_counter() - start)


async def bench_fanout(client: Client, watchers: int, events: int) -> tuple[float, float, float]:
    await _ensure_namespace(client, "bench-watch")
    url = f"{client.server}/api/v1/namespaces/bench-watch/configmaps"
    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    received = 0
    done = asyncio.Event()
    ready = 0
    all_ready = asyncio.Event()

    async def watcher(s: aiohttp.ClientSession) -> None:
        nonlocal received, ready
        async with s.get(url, params={"watch": "true", "resourceVersion": rv, "timeoutSeconds": "300"}) as r:
            ready += 1
            if ready == watchers:
                all_ready.set()
            count = 0
            async for line in r.content:
                event = json.loads(line)
                now = time.perf_counter()
                latencies.append(now - sent_at[event["object"]["metadata"]["name"]])
                received += 1
                count += 1
                if received == watchers * events:
                    done.set()
                if count == events:
                    return

    async with client.session() as s:
        async with s.get(url) as r:
            rv = (await r.json())["metadata"]["resourceVersion"]
        tasks = [asyncio.create_task(watcher(s)) for _ in range(watchers)]
        await asyncio.wait_for(all_ready.wait(), 60)
        start = time.perf_counter()
        for i in range(events):
            name = f"e{i}"
            sent_at[name] = time.perf_counter()
            body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
            async with s.post(url, json=body) as r:
                assert r.status == 201
        await asyncio.wait_for(done.wait(), 300)
        elapsed = time.perf_counter() - start
        await asyncio.gather(*tasks)
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    return received / elapsed, statistics.median(latencies) * 1000, p99 * 1000


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        proc, cfg = _start_sim(Path(tmp))
        try:
            client = Client(cfg)
            rate = await bench_writes(client, args.clients, args.writes)
            print(f"writes/s ({args.clients} clients, creates+updates of ConfigMaps over HTTPS): {rate:,.0f}")
            delivered, p50, p99 = await bench_fanout(client, args.watchers, args.events)
            print(
                f"watch fan-out ({args.watchers} watchers x {args.events} events): {delivered:,.0f} events "
                f"delivered/s, latency p50 {p50:.1f} ms, p99 {p99:.1f} ms"
            )
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--writes", type=int, default=4000)
    parser.add_argument("--watchers", type=int, default=200)
    parser.add_argument("--events", type=int, default=300)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    asyncio.run(main(parser.parse_args()))
