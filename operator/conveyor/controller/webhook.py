"""The optional validating admission webhook: kopf's webhook server and two `@kopf.on.validate`
handlers, one for new Executions and one for Deployments' specs (DESIGN.md, "Resources").

What must hold:
- off unless asked for (`conveyor operator --webhook-port`); every replica serves it, leader or
  not, since the API server calls any ready pod behind the Service;
- it refuses only what the controller would end `failed` (`webhook_decision`), with the
  controller's words; the controller stays the authority and still decides every request;
- it fails open: when the state cannot be read in `read_timeout` seconds, or reading fails, the
  request is let through (and the controller decides as ever). kopf answers "denied" for any
  exception a handler raises, so none but the refusal may escape. The ValidatingWebhookConfiguration
  (the Helm chart's) is the other half: CREATE of Executions only, CREATE/UPDATE of Deployments, no
  subresources, `failurePolicy: Ignore` by default, so a down webhook never stops users either.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator, Coroutine, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import kopf

from conveyor.api.names import DEPLOYMENT, EXECUTION, GROUP, VERSION
from conveyor.controller.webhook_certs import write_self_signed
from conveyor.controller.webhook_decision import (
    ObservedState,
    Refusal,
    deployment_refusal,
    execution_refusal,
    is_new_request,
    needs_state,
)
from conveyor.controller.webhook_state import WebhookReader

logger = logging.getLogger(__name__)

DEFAULT_WEBHOOK_PORT = 9443
EXECUTIONS_WEBHOOK = "validate-executions"
"""The handler id, which kopf's server takes from the URL path: `https://<service>:<port>/validate-executions`."""
DEPLOYMENTS_WEBHOOK = "validate-deployments"
"""`https://<service>:<port>/validate-deployments`."""


@dataclass
class WebhookOptions:
    """`certfile`/`keyfile` (PEM; the chart mounts cert-manager's or Helm's Secret): both or neither.
    Neither: a self-signed certificate for `host` is made at start (local use); its caBundle is
    logged and written to `ca_dump` when given. kopf re-reads the files when they change (rotation)."""

    port: int = DEFAULT_WEBHOOK_PORT
    """0: any free port (tests; `WebhookEndpoint.url` says which)."""
    certfile: str | None = None
    keyfile: str | None = None
    addr: str | None = None
    """Listening address; None: every interface."""
    host: str = "127.0.0.1"
    """The name a self-signed certificate is made for, and the host of the logged URL."""
    ca_dump: str | None = None
    read_timeout: float = 3.0
    """Seconds a decision may spend reading the cluster before the request is let through; below the
    chart's timeoutSeconds (5), so the API server never times out waiting for the webhook."""


class WebhookEndpoint(kopf.WebhookServer):
    """kopf's HTTPS server, remembering where it listens (`url`, None until it does) and the CA
    bundle clients must trust (`ca_bundle`, base64 PEM)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.url: str | None = None
        self.ca_bundle: str | None = None

    async def __call__(self, fn: Any) -> AsyncIterator[Any]:  # kopf's WebhookFn → WebhookClientConfig
        async for client_config in super().__call__(fn):
            self.url = client_config.get("url")
            self.ca_bundle = client_config.get("caBundle")
            yield client_config


def build_endpoint(options: WebhookOptions, scratch: Path) -> WebhookEndpoint:
    """The server for `options`; a self-signed pair, when needed, goes to `scratch` (a private dir)."""
    if (options.certfile is None) != (options.keyfile is None):
        raise ValueError("the webhook needs both a certificate and a key, or neither (self-signed)")
    certfile, keyfile = options.certfile, options.keyfile
    if certfile is None:
        hosts = [options.host, "localhost", "127.0.0.1"]
        certfile, keyfile = (str(path) for path in write_self_signed(scratch, hosts))
        logger.info(
            "admission webhook: self-signed certificate for %s; caBundle %s",
            options.host, base64.b64encode(Path(certfile).read_bytes()).decode(),
        )
    return WebhookEndpoint(
        addr=options.addr,
        port=options.port or None,
        host=options.host,
        certfile=certfile,
        pkeyfile=keyfile,
        cadump=options.ca_dump,
    )


def _refuse(refusal: Refusal | None) -> None:
    if refusal is not None:
        raise kopf.AdmissionError(refusal.message, code=refusal.code)


def register_webhooks(
    registry: kopf.OperatorRegistry, reader: WebhookReader, endpoint: WebhookEndpoint, read_timeout: float
) -> None:
    """Add the validating handlers and the server to `registry` (built by `handlers.build_registry`)."""

    @kopf.on.startup(registry=registry)
    def _serve(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.admission.server = endpoint
        settings.admission.managed = None  # the chart (or the user) owns the configuration

    # kopf passes every kwarg of its WebhookFn protocol; these handlers read the few they need.
    @kopf.on.validate(GROUP, VERSION, EXECUTION.plural, id=EXECUTIONS_WEBHOOK, operations=["CREATE"],
                      registry=registry)
    async def _execution(**kwargs: Any) -> None:
        body = dict(kwargs["body"])
        if kwargs.get("operation") != "CREATE" or not is_new_request(body):
            return
        _refuse(await decide_or_let_through(_judge_execution(reader, body), read_timeout, body))

    @kopf.on.validate(GROUP, VERSION, DEPLOYMENT.plural, id=DEPLOYMENTS_WEBHOOK,
                      operations=["CREATE", "UPDATE"], registry=registry)
    async def _deployment(**kwargs: Any) -> None:
        operation, old = kwargs.get("operation"), kwargs.get("old")
        if operation not in ("CREATE", "UPDATE"):
            return
        body = dict(kwargs["body"])
        previous = dict(old) if operation == "UPDATE" and old is not None else None
        try:
            refusal = deployment_refusal(body, previous)
        except Exception:  # fail open, as for Executions: a bug here must not deny a user's write
            logger.exception("admission webhook let Deployment %s through undecided",
                             (body.get("metadata") or {}).get("name"))
            return
        _refuse(refusal)


async def decide_or_let_through(
    decision: Coroutine[Any, Any, Refusal | None], seconds: float, body: Mapping[str, Any]
) -> Refusal | None:
    """The decision, or None (let through) when it cannot be made in time or reading failed."""
    try:
        async with asyncio.timeout(seconds):
            refusal = await decision
    except Exception as error:  # fail open: the controller decides anyway
        metadata = body.get("metadata") or {}
        logger.warning("admission webhook let %s/%s through undecided: %r",
                       metadata.get("namespace"), metadata.get("name"), error)
        return None
    return refusal


async def _judge_execution(reader: WebhookReader, obj: dict[str, Any]) -> Refusal | None:
    """Invalid first (one GET of the Deployment, the cached configuration), then, for a request that
    must start now or fail, against what runs: as the admission loop checks, in that order."""
    metadata = obj.get("metadata") or {}
    namespace = metadata.get("namespace")
    if not namespace:
        return None
    if not metadata.get("name"):  # kube-apiserver names the object before validating webhooks
        obj = {**obj, "metadata": {**metadata, "name": metadata.get("generateName") or "?"}}
    deployment_name = (obj.get("spec") or {}).get("deployment")
    deployment = await reader.deployment(namespace, deployment_name) if deployment_name else None
    config = await reader.config()
    now = datetime.now(UTC)

    def judge(state: ObservedState) -> Refusal | None:
        return execution_refusal(
            obj, deployment=deployment, config=config, operator_namespace=reader.operator_namespace,
            state=state, now=now,
        )

    refusal = judge(ObservedState())
    if refusal is not None or not needs_state(obj):
        return refusal
    max_running = config.max_running_executions if config is not None else 0
    return judge(await reader.state(namespace, deployment_name, max_running))
