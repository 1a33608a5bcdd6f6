"""An execution's lines in its worker's log: the worker prefixes each line with `[<execution>] `.

A worker pod ends after being idle and its log goes with it; a newer pod of the same Job takes over
the stream, so following reads the newest running pod until the execution ends.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import click

from conveyor.api.names import SYSTEM_WORKER_JOB_NAME, worker_job_name
from conveyor.cli.context import ClusterClient
from conveyor.cli.following import ended
from conveyor.cli.watches import STOP_JOIN_SECONDS, interrupt, watch_execution

LOG_RETRY_SECONDS = 0.5


def worker_job_of(obj: Mapping[str, Any]) -> str:
    deployment = (obj.get("spec") or {}).get("deployment")
    return worker_job_name(deployment) if deployment else SYSTEM_WORKER_JOB_NAME


def execution_lines(text: str, name: str) -> list[str]:
    """The lines of a worker's log that belong to execution `name`, without their `[name] ` prefix."""
    prefix = f"[{name}] "
    return [line[len(prefix):] for line in text.splitlines() if line.startswith(prefix)]


def worker_pods(cluster: ClusterClient, namespace: str, job: str) -> list[Any]:
    pods = cluster.core.list_namespaced_pod(namespace, label_selector=f"job-name={job}").items
    return sorted(pods, key=lambda p: (p.metadata.creation_timestamp or datetime.min.replace(tzinfo=UTC),
                                       p.metadata.name))


def logged_lines(cluster: ClusterClient, namespace: str, name: str, pods: list[Any]) -> Iterator[str]:
    from kubernetes.client.rest import ApiException  # imported on first use: see context.py

    for pod in pods:
        try:
            text = cluster.core.read_namespaced_pod_log(pod.metadata.name, namespace)
        except ApiException as error:
            if error.status in (400, 404):  # not started yet, or gone
                continue
            raise
        yield from execution_lines(text, name)


def follow_logs(cluster: ClusterClient, namespace: str, name: str, job: str) -> None:
    """Stream the newest worker pod's log (waiting for one to appear) until the execution ends."""
    done = threading.Event()
    printing = threading.Lock()  # nothing is written once `done` is set under it (see EventFeed)
    reading: list[Any] = []
    from kubernetes.watch.watch import iter_resp_lines

    prefix = f"[{name}] "

    def stream() -> None:
        finished_pods: set[str] = set()  # read to their end: a newer pod took over
        while not done.is_set():
            try:
                pods = worker_pods(cluster, namespace, job)
                running = [
                    p for p in pods
                    if p.metadata.name not in finished_pods and (p.status.phase or "") not in ("Pending", "")
                ]
                if not running:
                    done.wait(LOG_RETRY_SECONDS)  # a pod's log cannot be followed before it runs
                    continue
                pod = running[-1].metadata.name
                response = cluster.core.read_namespaced_pod_log(
                    pod, namespace, follow=True, _preload_content=False
                )
                with printing:
                    if done.is_set():
                        interrupt(response)
                        return
                    reading.append(response)
                for line in iter_resp_lines(response):
                    with printing:
                        if done.is_set():
                            return
                        if line.startswith(prefix):
                            click.echo(line[len(prefix):])
                finished_pods.add(pod)
            except Exception:  # not started yet, gone, or interrupted: look again
                done.wait(LOG_RETRY_SECONDS)

    streamer = threading.Thread(target=stream, name=f"logs-{name}", daemon=True)
    streamer.start()
    try:
        watch_execution(cluster, namespace, name, ended, None)
    finally:
        with printing:
            done.set()
            for response in reading:
                interrupt(response)
        streamer.join(STOP_JOIN_SECONDS)
