"""`conveyor dev`: Conveyor on the local control plane, in one process, for trying and developing.

It starts the local control plane (API server, Job controller, kubelet), installs the CRDs, creates
the operator's namespace and configuration, runs the operator in-process, and only then writes the
kubeconfig users point kubectl and the CLI at. What must hold:
- The kubeconfig at the announced path appears only when everything is ready (a script may wait
  for the file and use it at once) and is removed on exit (it would point at nothing).
- Ctrl-C (SIGINT) or SIGTERM stops everything: the operator first (it releases its leader Lease),
  then the control plane, whose kubelet stops the worker pods' process groups. No child process is
  left behind.
- Workers are held to their own deployment's Executions as on a cluster installed with the chart:
  the worker isolation policy (`controller.worker_policy`) is installed before the operator starts,
  when the control plane serves ValidatingAdmissionPolicies (otherwise RBAC alone applies, as on
  Kubernetes before 1.30, and a note says so).
- `--demo` applies every YAML document under `examples/` (a file that fails is reported and skipped,
  the rest still apply) and prints the executions' progress as it happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click
import yaml

from conveyor.api.names import (
    CONFIG_MAP_KEY,
    CONFIG_MAP_NAME,
    DEFAULT_OPERATOR_NAMESPACE,
    EXECUTION,
    GROUP,
    OPERATOR_NAMESPACE_ENV,
    VERSION,
)

if TYPE_CHECKING:  # the client is imported when a command talks to the API: `--help` stays fast
    from kubernetes import client

DEFAULT_KUBECONFIG = Path(".conveyor") / "kubeconfig"
DEFAULT_CONFIG_DATA = {CONFIG_MAP_KEY: "maxRunningExecutions: 0\n"}
SETUP_TIMEOUT_SECONDS = 60.0
OPERATOR_STOP_SECONDS = 20.0
DEMO_WATCH_SECONDS = 30
DEMO_JOIN_SECONDS = 5.0
FIELD_MANAGER = "conveyor-dev"
NOT_FOUND = 404

# Apply order of the demo's documents: what others refer to first, Executions last.
_KIND_ORDER = {"Namespace": 0, "ServiceAccount": 1, "Secret": 1, "ConfigMap": 1, "Deployment": 2}
_LAST = 3
_EXECUTION_ORDER = 4


@click.command()
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False),
    default=str(DEFAULT_KUBECONFIG),
    show_default=True,
    help="Where to write the kubeconfig once everything is ready.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address of the API server.")
@click.option("--port", type=int, default=0, show_default=True, help="Port of the API server (0: any free).")
@click.option(
    "--operator-namespace",
    default=lambda: os.environ.get(OPERATOR_NAMESPACE_ENV) or DEFAULT_OPERATOR_NAMESPACE,
    show_default=f"${OPERATOR_NAMESPACE_ENV} or {DEFAULT_OPERATOR_NAMESPACE}",
    help="The operator's namespace.",
)
@click.option(
    "--examples",
    "examples_dir",
    type=click.Path(file_okay=False),
    default="examples",
    show_default=True,
    help="What --demo applies.",
)
@click.option("--demo", is_flag=True, help="Apply the examples and show their executions progressing.")
@click.option("-v", "--verbose", is_flag=True, help="Log the control plane's and the operator's messages.")
def dev(
    kubeconfig: str,
    host: str,
    port: int,
    operator_namespace: str,
    examples_dir: str,
    demo: bool,
    verbose: bool,
) -> None:
    """Run Conveyor locally: control plane, CRDs, operator; Ctrl-C stops it all."""
    import logging

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        logging.getLogger("kopf").setLevel(logging.ERROR)
    examples = Path(examples_dir) if demo else None
    session = DevSession(Path(kubeconfig), host, port, operator_namespace, examples)
    sys.exit(asyncio.run(session.run()))


class DevSession:
    """One `conveyor dev` run: start in order, serve until a signal, stop in reverse order."""

    def __init__(
        self, kubeconfig: Path, host: str, port: int, operator_namespace: str, examples: Path | None
    ) -> None:
        self.kubeconfig = kubeconfig
        self.host = host
        self.port = port
        self.operator_namespace = operator_namespace
        self.examples = examples
        self._workdir = tempfile.TemporaryDirectory(prefix="conveyor-dev-")
        self.admin_kubeconfig = Path(self._workdir.name) / "kubeconfig"
        self._demo_stop = threading.Event()
        self._demo_lock = threading.Lock()  # nothing is printed once _demo_stop is set under it
        self._demo_response: Any = None
        self._demo_thread: threading.Thread | None = None

    async def run(self) -> int:
        from conveyor.controller.runtime import Operator, OperatorOptions
        from conveyor.sim.__main__ import default_controllers
        from conveyor.sim.app import SimServer, write_atomically

        stop = asyncio.Event()
        self._on_signals(stop)
        self.kubeconfig.unlink(missing_ok=True)  # a stale one must not pass for this run's
        server = SimServer(self.host, self.port, self.admin_kubeconfig, controllers=default_controllers())
        operator_task: asyncio.Task[None] | None = None
        operator_stop = asyncio.Event()
        code = 0
        try:
            await server.start()
            await asyncio.to_thread(self._install)
            operator = Operator(
                OperatorOptions(
                    operator_namespace=self.operator_namespace,
                    namespaces=None,
                    kubeconfig=str(self.admin_kubeconfig),
                    metrics_port=None,
                    identity="conveyor-dev",
                )
            )
            operator_task = asyncio.create_task(operator.run(operator_stop), name="operator")
            ready = asyncio.create_task(operator.ready.wait())
            await asyncio.wait([ready, operator_task], timeout=SETUP_TIMEOUT_SECONDS,
                               return_when=asyncio.FIRST_COMPLETED)
            ready.cancel()
            if not operator.ready.is_set():
                if operator_task.done() and operator_task.exception() is not None:
                    raise RuntimeError(f"the operator did not start: {operator_task.exception()!r}")
                raise RuntimeError("the operator did not start")
            self._on_signals(stop)  # kopf installs its own handlers on start: ours must win
            write_atomically(self.kubeconfig, self.admin_kubeconfig.read_text())
            self._announce(server.url)
            if self.examples is not None:
                self._demo_thread = threading.Thread(target=self._demo, name="demo", daemon=True)
                self._demo_thread.start()
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait([stopping, operator_task], return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if operator_task.done():
                error = operator_task.exception()
                click.echo(f"conveyor dev: the operator stopped: {error!r}", err=True)
                code = 1
        except Exception as error:
            click.echo(f"conveyor dev: {error}", err=True)
            code = 1
        finally:
            click.echo("conveyor dev: stopping", err=True)
            await asyncio.to_thread(self._stop_demo)
            self.kubeconfig.unlink(missing_ok=True)
            if operator_task is not None and not operator_task.done():
                operator_stop.set()
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await asyncio.wait_for(operator_task, OPERATOR_STOP_SECONDS)
            with contextlib.suppress(Exception):
                await server.stop()
            self._workdir.cleanup()
        return code

    def _on_signals(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)

    # ----- setup, through the API as any client would -------------------------------------------

    def _client(self) -> client.ApiClient:
        from kubernetes import config

        return config.new_client_from_config(config_file=str(self.admin_kubeconfig), persist_config=False)

    def _install(self) -> None:
        """CRDs (established), the worker isolation policy, the operator's namespace and its
        configuration."""
        from kubernetes import client
        from kubernetes.client.rest import ApiException

        from conveyor.api.crds import generate_crds

        with self._client() as api:
            extensions = client.ApiextensionsV1Api(api)
            for crd in generate_crds():
                try:
                    extensions.create_custom_resource_definition(cast(Any, crd))
                except ApiException as error:
                    if error.status != 409:
                        raise
            for crd in generate_crds():
                _wait_established(extensions, crd["metadata"]["name"])
            _install_worker_policy(client.AdmissionregistrationV1Api(api))
            core = client.CoreV1Api(api)
            _create_if_absent(
                lambda: core.create_namespace(cast(Any, {"metadata": {"name": self.operator_namespace}}))
            )
            _create_if_absent(
                lambda: core.create_namespaced_config_map(
                    self.operator_namespace,
                    cast(Any, {"metadata": {"name": CONFIG_MAP_NAME}, "data": DEFAULT_CONFIG_DATA}),
                )
            )

    def _announce(self, url: str) -> None:
        path = self.kubeconfig if self.kubeconfig.is_absolute() else Path(".") / self.kubeconfig
        click.echo(
            f"Conveyor is running on the local control plane at {url}\n"
            f"  kubeconfig: {path}\n\n"
            f"In another shell:\n"
            f"  export KUBECONFIG={path.resolve()}\n"
            f"  kubectl get cvd,cvx -A\n"
            f"  kubectl get cvx -w\n"
            f"  conveyor executions start WORKFLOW -d DEPLOYMENT\n"
            f"  conveyor executions list -A\n\n"
            f"Ctrl-C stops everything.",
            err=False,
        )
        sys.stdout.flush()

    # ----- the demo -------------------------------------------------------------------------------

    def _demo(self) -> None:
        assert self.examples is not None
        try:
            with self._client() as api:
                applied = apply_examples(api, self.examples)
                with self._demo_lock:
                    if self._demo_stop.is_set():
                        return
                    click.echo(f"demo: applied {applied} object(s) from {self.examples}")
                if not self._demo_stop.is_set():
                    self._show_executions(api)
        except Exception as error:  # the demo is a show: it never stops the session
            if not self._demo_stop.is_set():
                click.echo(f"demo: stopped showing progress: {error}", err=True)

    def _show_executions(self, api: client.ApiClient) -> None:
        from kubernetes import client

        """One line per status or progress change of any Execution, until the session stops."""
        from conveyor.cli.watches import interrupt, watch_lines

        custom = client.CustomObjectsApi(api)
        last: dict[tuple[str, str], tuple[Any, ...]] = {}
        version = ""
        while not self._demo_stop.is_set():
            response: Any = custom.list_cluster_custom_object(
                GROUP,
                VERSION,
                EXECUTION.plural,
                resource_version=version or None,
                watch=True,
                timeout_seconds=DEMO_WATCH_SECONDS,
                _preload_content=False,
                _request_timeout=DEMO_WATCH_SECONDS + 15,
            )
            with self._demo_lock:
                if self._demo_stop.is_set():
                    interrupt(response)
                    return
                self._demo_response = response
            for change in watch_lines(response):
                obj = change.get("object") or {}
                if change.get("type") == "ERROR":
                    version = ""  # expired: start again from the current state
                    break
                meta, status = obj.get("metadata") or {}, obj.get("status") or {}
                version = meta.get("resourceVersion") or version
                ops = status.get("operations") or {}
                shown = (status.get("phase"), ops.get("finished"), ops.get("total"))
                key = (meta.get("namespace", ""), meta.get("name", ""))
                if shown[0] and last.get(key) != shown:
                    last[key] = shown
                    progress = f" {shown[1] or 0}/{shown[2]} operations" if shown[2] else ""
                    error = f": {status['error']}" if status.get("error") else ""
                    with self._demo_lock:
                        if self._demo_stop.is_set():
                            return
                        click.echo(f"demo: {key[0]}/{key[1]} {shown[0]}{progress}{error}")

    def _stop_demo(self) -> None:
        """Stop the demo's thread before the interpreter exits (see watches.interrupt)."""
        with self._demo_lock:
            self._demo_stop.set()
            if self._demo_response is not None:
                from conveyor.cli.watches import interrupt

                interrupt(self._demo_response)
        if self._demo_thread is not None:
            self._demo_thread.join(DEMO_JOIN_SECONDS)


def _create_if_absent(create: Any) -> None:
    from kubernetes.client.rest import ApiException

    try:
        create()
    except ApiException as error:
        if error.status != 409:
            raise


def _install_worker_policy(admission: client.AdmissionregistrationV1Api) -> None:
    from kubernetes.client.rest import ApiException

    from conveyor.controller.worker_policy import build_worker_policy, build_worker_policy_binding

    try:
        policy = cast(Any, build_worker_policy())
        _create_if_absent(lambda: admission.create_validating_admission_policy(policy))
    except ApiException as error:
        if error.status != NOT_FOUND:
            raise
        click.echo("conveyor dev: the control plane serves no ValidatingAdmissionPolicy: workers are held "
                   "to their namespace by RBAC, not to their deployment", err=True)
        return
    _create_if_absent(
        lambda: admission.create_validating_admission_policy_binding(cast(Any, build_worker_policy_binding()))
    )


def _wait_established(extensions: client.ApiextensionsV1Api, name: str) -> None:
    deadline = time.monotonic() + SETUP_TIMEOUT_SECONDS
    while True:
        crd = extensions.read_custom_resource_definition(name)
        conditions = (crd.status.conditions if crd.status else None) or []
        if any(c.type == "Established" and c.status == "True" for c in conditions):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"CRD {name} was not established within {SETUP_TIMEOUT_SECONDS:g}s")
        time.sleep(0.05)


# --------------------------------------------------------------------------------------------------
# Applying a folder of manifests


def example_documents(folder: Path) -> Iterator[tuple[Path, list[dict[str, Any]] | Exception]]:
    """Each YAML file under `folder` (recursively, sorted) with its documents, or why it cannot be read."""
    for path in sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()):
        try:
            docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
            bad = [d for d in docs if not isinstance(d, dict) or "kind" not in d or "apiVersion" not in d]
            if bad:
                raise ValueError("a document is not a Kubernetes object (no kind/apiVersion)")
            yield path, docs
        except (OSError, yaml.YAMLError, ValueError) as error:
            yield path, error


def _apply_rank(doc: dict[str, Any]) -> int:
    if doc.get("kind") == EXECUTION.kind and str(doc.get("apiVersion", "")).startswith(GROUP):
        return _EXECUTION_ORDER
    return _KIND_ORDER.get(str(doc.get("kind")), _LAST)


def apply_examples(api: client.ApiClient, folder: Path) -> int:
    """Apply every document found under `folder`; a file that fails is reported and skipped.

    Objects with a name are server-side applied (running the demo twice changes nothing); objects
    with only `generateName` (Executions) are created. Returns how many objects were applied.
    """
    from kubernetes.dynamic import DynamicClient

    if not folder.is_dir():
        click.echo(f"demo: no {folder} folder here; nothing to apply", err=True)
        return 0
    dynamic = DynamicClient(api)
    files = list(example_documents(folder))
    applied = 0
    planned: list[tuple[int, int, Path, dict[str, Any]]] = []
    for index, (path, docs) in enumerate(files):
        if isinstance(docs, Exception):
            click.echo(f"demo: skipped {path}: {docs}", err=True)
            continue
        planned.extend((_apply_rank(doc), index, path, doc) for doc in docs)
    failed: set[Path] = set()
    for _, _, path, doc in sorted(planned, key=lambda item: (item[0], item[1])):
        if path in failed:
            continue
        try:
            _apply_one(dynamic, doc)
            applied += 1
        except Exception as error:
            failed.add(path)
            reason = getattr(error, "summary", None) or getattr(error, "reason", None) or error
            click.echo(f"demo: skipped the rest of {path}: {doc.get('kind')} "
                       f"{(doc.get('metadata') or {}).get('name', '')}: {reason}", err=True)
    return applied


def _apply_one(dynamic: Any, doc: dict[str, Any]) -> None:
    resource = dynamic.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
    metadata = doc.setdefault("metadata", {})
    namespace = metadata.get("namespace") or ("default" if resource.namespaced else None)
    if resource.namespaced:
        metadata["namespace"] = namespace
    if not metadata.get("name"):
        dynamic.create(resource, body=doc, namespace=namespace)
        return
    dynamic.server_side_apply(
        resource, body=doc, name=metadata["name"], namespace=namespace,
        field_manager=FIELD_MANAGER, force_conflicts=True,
    )
