"""GET pods/{name}/log: what the kubelet serves, with its query parameters and its error wording.

Register `serve_pod_log` with the server (`SimApp.register_log_handler`); it finds the kubelet
that runs Pods for the request's ApiService. Parameters: container, follow, previous, timestamps,
tailLines, sinceSeconds, sinceTime, limitBytes. Errors are the apiserver's 400s, word for word:
`a container name must be specified for pod X, choose one of: [a b]`, `container y is not valid for
pod x`, `container "c" in pod "p" is waiting to start: <reason>`, `previous terminated container "c"
in pod "p" not found`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from conveyor.sim.errors import StatusError, bad_request
from conveyor.sim.kubelet.logfiles import LogOptions, LogRun, parse_rfc3339, stream_log
from conveyor.sim.kubelet.process import Waiting

if TYPE_CHECKING:
    from conveyor.sim.api import ApiService
    from conveyor.sim.kubelet.pods import Kubelet, PodRunner


def parse_options(query: Any) -> LogOptions:
    def integer(name: str, minimum: int) -> int | None:
        raw = query.get(name)
        if raw in (None, ""):
            return None
        try:
            value = int(raw)
        except ValueError:
            raise bad_request(f'{name}: Invalid value: "{raw}": must be an integer') from None
        if value < minimum:
            raise bad_request(f"{name}: Invalid value: {value}: must be greater than {minimum - 1}")
        return value

    since_time = query.get("sinceTime")
    return LogOptions(
        follow=query.get("follow") in ("true", "1"),
        tail_lines=integer("tailLines", 0),
        since_seconds=integer("sinceSeconds", 1),
        since_time=parse_rfc3339(since_time) if since_time else None,
        timestamps=query.get("timestamps") in ("true", "1"),
        limit_bytes=integer("limitBytes", 1),
    )


def choose_container(pod: dict[str, Any], requested: str) -> str:
    """The container whose log is asked for; kube's defaulting rules for a missing `container`."""
    name = pod["metadata"]["name"]
    names = [c["name"] for c in (pod.get("spec") or {}).get("containers") or ()]
    if requested:
        init = [c["name"] for c in (pod.get("spec") or {}).get("initContainers") or ()]
        if requested not in names and requested not in init:
            raise bad_request(f"container {requested} is not valid for pod {name}")
        return requested
    default = (pod["metadata"].get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
    if default in names:
        return str(default)
    if len(names) == 1:
        return names[0]
    raise bad_request(
        f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]"
    )


def find_run(runner: PodRunner | None, pod: dict[str, Any], container: str, previous: bool) -> LogRun:
    name = pod["metadata"]["name"]
    process = runner.process(container) if runner is not None else None
    if previous:
        run = process.log_run(previous=True) if process is not None else None
        if run is None:
            raise bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
        return run
    run = process.log_run() if process is not None else None
    if run is None:
        reason = "ContainerCreating"
        if process is not None and isinstance(process.status.state, Waiting):
            reason = process.status.state.reason
        elif runner is not None and runner.config_error:
            reason = "CreateContainerConfigError"
        raise bad_request(f'container "{container}" in pod "{name}" is waiting to start: {reason}')
    return run


async def serve_pod_log(
    request: web.Request, api: ApiService, namespace: str, name: str, container_hint: str
) -> web.StreamResponse:
    from conveyor.sim.controllers.client import PODS, Client
    from conveyor.sim.kubelet.pods import Kubelet

    pod = await Client(api).get(PODS, namespace, name)
    if pod is None:
        raise StatusError(404, "NotFound", f'pods "{name}" not found', {"name": name, "kind": "pods"})
    options = parse_options(request.query)
    container = choose_container(pod, container_hint or request.query.get("container", ""))
    kubelet: Kubelet | None = Kubelet.for_api(api)
    runner = kubelet.pods.get(pod["metadata"]["uid"]) if kubelet is not None else None
    run = find_run(runner, pod, container, request.query.get("previous") in ("true", "1"))
    response = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
    await response.prepare(request)
    async for chunk in stream_log(run, options):
        await response.write(chunk)
    await response.write_eof()
    return response
