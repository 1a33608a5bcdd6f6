"""Which cluster and namespace a CLI command talks to, and the official client it talks with.

Conventions kubectl users expect: `--kubeconfig` (else $KUBECONFIG, else ~/.kube/config), `--context`
(else the current context), `-n/--namespace` (else the context's namespace, else `default`),
`-o table|json|yaml` where a command lists or shows. System-wide commands go to the operator's
namespace (`--operator-namespace`, else $CONVEYOR_NAMESPACE, else conveyor-system) without the user
naming it, because only that namespace may hold system-wide executions.

The client is built lazily, on first use, so `--help` and usage errors never need a cluster; the
`kubernetes` package itself (with urllib3, about 0.1-0.3 s to import: it loads every API model) is
imported then too, by this module and by the few functions that catch its exceptions. API
failures become one clear line on stderr and exit code 1, never a traceback: scripts rely on the
exit codes (0 done, 1 failed, 2 usage, 3 cancelled, 4 timed out).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, cast

import click

from conveyor.api.names import DEFAULT_OPERATOR_NAMESPACE, GROUP, OPERATOR_NAMESPACE_ENV, VERSION

if TYPE_CHECKING:
    from kubernetes import client
    from kubernetes.client.rest import ApiException

F = TypeVar("F", bound=Callable[..., Any])

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_CANCELLED = 3
EXIT_TIMEOUT = 4

OUTPUT_FORMATS = ("table", "json", "yaml")


class CommandFailed(Exception):
    """A failure the user must read, with the exit code that classifies it. `cluster_options` prints
    the message on stderr as it is (no "Error:" prefix, after any live display has closed), so the
    reference sentences reach scripts word for word."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def fail(message: str, exit_code: int = EXIT_FAILED) -> NoReturn:
    raise CommandFailed(message, exit_code)


@dataclass(frozen=True)
class Target:
    """What the user pointed the command at; None: the kubeconfig's choice."""

    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None
    operator_namespace: str = DEFAULT_OPERATOR_NAMESPACE


class ClusterClient:
    """The official sync client for one Target, plus the namespaces commands resolve against."""

    def __init__(self, target: Target) -> None:
        self.target = target

    @cached_property
    def api_client(self) -> client.ApiClient:
        from kubernetes import config
        from kubernetes.config.config_exception import ConfigException

        try:
            return config.new_client_from_config(
                config_file=self.target.kubeconfig, context=self.target.context, persist_config=False
            )
        except (ConfigException, OSError) as error:
            fail(f"cannot load the kubeconfig ({self._kubeconfig_words()}): {error}")

    def _kubeconfig_words(self) -> str:
        return self.target.kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"

    @cached_property
    def namespace(self) -> str:
        """-n, else the namespace of the selected context, else `default` (as kubectl does)."""
        if self.target.namespace:
            return self.target.namespace
        from kubernetes import config
        from kubernetes.config.config_exception import ConfigException

        try:
            contexts, active = config.list_kube_config_contexts(config_file=self.target.kubeconfig)
        except (ConfigException, OSError) as error:
            fail(f"cannot load the kubeconfig ({self._kubeconfig_words()}): {error}")
        chosen = active
        if self.target.context:
            chosen = next((c for c in contexts if c.get("name") == self.target.context), None)
            if chosen is None:
                fail(f"context {self.target.context} is not in the kubeconfig ({self._kubeconfig_words()})")
        namespace = ((chosen or {}).get("context") or {}).get("namespace")
        return str(namespace) if namespace else "default"

    @property
    def operator_namespace(self) -> str:
        return self.target.operator_namespace

    @cached_property
    def custom(self) -> client.CustomObjectsApi:
        from kubernetes import client

        return client.CustomObjectsApi(self.api_client)

    @cached_property
    def core(self) -> client.CoreV1Api:
        from kubernetes import client

        return client.CoreV1Api(self.api_client)

    @cached_property
    def batch(self) -> client.BatchV1Api:
        from kubernetes import client

        return client.BatchV1Api(self.api_client)

    # Conveyor objects, as plain dicts (what the API returns, what -o json prints).

    def get_object(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        from kubernetes.client.rest import ApiException

        try:
            return cast(dict[str, Any], self.custom.get_namespaced_custom_object(
                GROUP, VERSION, namespace, plural, name
            ))
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def list_objects(
        self, plural: str, namespace: str | None, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        """Every object of `plural` in `namespace` (None: all namespaces)."""
        kwargs: dict[str, Any] = {"label_selector": label_selector} if label_selector else {}
        listed: Any
        if namespace is None:
            listed = self.custom.list_cluster_custom_object(GROUP, VERSION, plural, **kwargs)
        else:
            listed = self.custom.list_namespaced_custom_object(GROUP, VERSION, namespace, plural, **kwargs)
        return list(listed.get("items") or [])

    def close(self) -> None:
        if "api_client" in self.__dict__:
            self.api_client.close()


def api_failure_message(error: ApiException) -> str:
    """The API server's own message (its Status object), which names what was refused and why."""
    import json

    try:
        body = json.loads(error.body or "")
    except (TypeError, ValueError):
        body = None
    if isinstance(body, dict) and body.get("message"):
        return f"the API server refused the request ({error.status} {body.get('reason') or error.reason}): " \
            f"{body['message']}"
    return f"the API server refused the request ({error.status} {error.reason})"


def cluster_failure_message(cluster: ClusterClient, error: Exception) -> str | None:
    """One line for an API refusal or a connection failure; None for any other error (a bug: its
    traceback must show). Only a command that used the client can meet these, and it has imported
    the client, so importing it here costs nothing then."""
    if "kubernetes" not in sys.modules:
        return None
    import urllib3
    from kubernetes.client.rest import ApiException

    if isinstance(error, ApiException):
        return api_failure_message(error)
    if isinstance(error, urllib3.exceptions.HTTPError):
        host = getattr(cluster.api_client.configuration, "host", "?")
        return f"cannot reach the cluster at {host}: {error}"
    return None


def exit_with(failure: CommandFailed) -> NoReturn:
    click.echo(failure.message, err=True)
    raise click.exceptions.Exit(failure.exit_code)


def cluster_options(command: F) -> F:
    """Add the target options to a command and hand it a `cluster: ClusterClient` instead.

    API and connection failures inside the command end as one line on stderr, exit code 1.
    """

    @functools.wraps(command)
    def run(
        *args: Any,
        kubeconfig: str | None,
        kube_context: str | None,
        namespace: str | None,
        operator_namespace: str,
        **kwargs: Any,
    ) -> Any:
        cluster = ClusterClient(Target(kubeconfig, kube_context, namespace, operator_namespace))
        try:
            return command(*args, cluster=cluster, **kwargs)
        except CommandFailed as failure:
            exit_with(failure)
        except Exception as error:
            said = cluster_failure_message(cluster, error)
            if said is None:
                raise
            exit_with(CommandFailed(said))
        finally:
            cluster.close()

    decorators = [
        click.option(
            "--kubeconfig",
            type=click.Path(dir_okay=False),
            default=None,
            help="Kubeconfig file (default: $KUBECONFIG, else ~/.kube/config).",
        ),
        click.option(
            "--context", "kube_context", default=None, help="Kubeconfig context (default: the current one)."
        ),
        click.option(
            "-n", "--namespace", default=None, help="Namespace (default: the kubeconfig context's namespace)."
        ),
        click.option(
            "--operator-namespace",
            default=lambda: os.environ.get(OPERATOR_NAMESPACE_ENV) or DEFAULT_OPERATOR_NAMESPACE,
            show_default=f"${OPERATOR_NAMESPACE_ENV} or {DEFAULT_OPERATOR_NAMESPACE}",
            help="The operator's namespace, where system-wide executions and snapshots live.",
        ),
    ]
    wrapped: Any = run
    for decorate in reversed(decorators):
        wrapped = decorate(wrapped)
    return cast(F, wrapped)


def output_option(command: F) -> F:
    return cast(
        F,
        click.option(
            "-o",
            "--output",
            type=click.Choice(OUTPUT_FORMATS),
            default="table",
            show_default=True,
            help="Output format.",
        )(command),
    )
