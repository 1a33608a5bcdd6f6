"""POSTing an AdmissionReview to one webhook over verified TLS, within its timeout.

What must hold, as kube-apiserver's webhook client does it:
- The server is verified against the webhook's caBundle (the system roots when it has none), with
  the host name of the URL, or `<svc>.<ns>.svc` for a service reference whatever address the
  Service resolves to (webhook_service). No proxy or environment setting is consulted.
- The call carries `?timeout=<n>s` and is abandoned after timeoutSeconds.
- Every way the call can fail is a `CallFailure` whose text is what kube puts after
  `failed calling webhook "<name>": `: `failed to call webhook: Post "<url>": <why>`, with Go's words
  for the usual causes (connection refused, unknown authority, deadline exceeded), so messages
  users search for read the same. Other causes keep Python's words.
"""

from __future__ import annotations

import errno
import json
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
from yarl import URL

from conveyor.sim.admission.webhook_config import ValidatingWebhook
from conveyor.sim.admission.webhook_service import Unresolvable, resolve

if TYPE_CHECKING:
    from conveyor.sim.api import ApiService

USER_AGENT = "kube-apiserver-admission"
# OpenSSL verify codes for a chain that does not lead to a trusted root (7: an issuer of the same
# name whose signature does not verify, which Go also reports as an unknown authority).
_UNKNOWN_AUTHORITY_CODES = frozenset({7, 18, 19, 20, 21})
_HOSTNAME_MISMATCH_CODE = 62


class CallFailure(Exception):
    """The webhook could not be called or its answer could not be used (failurePolicy decides)."""


@dataclass(frozen=True)
class Target:
    shown: str  # the URL as kube names it in messages (service DNS name and port for service refs)
    connect: URL  # where the request actually goes
    server_hostname: str  # the name the certificate must be valid for
    host_header: str | None = None  # service refs: `<svc>.<ns>.svc:<port>`, whatever the address


def _with_timeout(url: URL, seconds: int) -> URL:
    return url.update_query({"timeout": f"{seconds}s"})


def target_of(api: ApiService, hook: ValidatingWebhook) -> Target:
    """Where to send the review; CallFailure when the Service cannot be resolved."""
    if hook.url:
        url = _with_timeout(URL(hook.url), hook.timeout_seconds)
        return Target(str(url), url, url.host or "")
    if hook.service is None:
        raise CallFailure("could not get REST client: webhook clientConfig has neither url nor service")
    ref = hook.service
    path = _with_timeout(URL.build(path=ref.path or "/"), hook.timeout_seconds)
    shown = f"https://{ref.host}:{ref.port}{path}"  # Go keeps an explicit :443, yarl would drop it
    try:
        address = resolve(api, ref)
    except Unresolvable as exc:
        raise CallFailure(f'failed to call webhook: Post "{shown}": {exc}') from exc
    connect = URL.build(scheme="https", host=address.host, port=address.port, path=path.path,
                        query=path.query)
    return Target(shown, connect, ref.host, f"{ref.host}:{ref.port}")


def tls_context(ca_bundle: bytes | None) -> ssl.SSLContext:
    """A client context trusting the caBundle only (the system roots when there is none)."""
    if not ca_bundle:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cadata=ca_bundle.decode(errors="replace"))
    except (ssl.SSLError, ValueError) as exc:
        raise CallFailure("could not get REST client: unable to load root certificates: "
                          "unable to parse bytes as PEM block") from exc


def _tls_reason(exc: ssl.SSLCertVerificationError, host: str) -> str:
    if exc.verify_code in _UNKNOWN_AUTHORITY_CODES:
        return "tls: failed to verify certificate: x509: certificate signed by unknown authority"
    if exc.verify_code == _HOSTNAME_MISMATCH_CODE:
        return f"tls: failed to verify certificate: x509: certificate is not valid for {host}"
    return f"tls: failed to verify certificate: {exc.verify_message}"


def _connect_reason(exc: aiohttp.ClientConnectorError, target: Target) -> str:
    """Go's dial error for the usual connection failures."""
    where = f"{exc.host}:{exc.port}"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cert_error = exc.certificate_error
        if isinstance(cert_error, ssl.SSLCertVerificationError):
            return _tls_reason(cert_error, target.server_hostname)
        return f"tls: {cert_error}"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return f"dial tcp: lookup {exc.host}: no such host"
    if exc.os_error.errno == errno.ECONNREFUSED:
        return f"dial tcp {where}: connect: connection refused"
    return f"dial tcp {where}: {exc.os_error.strerror or exc.os_error}"


def _status_reason(status: int, body: bytes) -> str:
    """client-go's error for a non-2xx answer: the Status's message if the body is one."""
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and parsed.get("kind") == "Status" and parsed.get("message"):
        return str(parsed["message"])
    if status == 404:
        return "the server could not find the requested resource"
    if status >= 500:
        text = body.decode(errors="replace").strip() or "unknown"
        return f'an error on the server ("{text}") has prevented the request from succeeding'
    return f"the server responded with the status code {status} but did not return more information"


async def post_review(api: ApiService, hook: ValidatingWebhook, review: dict[str, Any]) -> Any:
    """The webhook's decoded JSON answer to `review`; CallFailure for anything short of one."""
    target = target_of(api, hook)
    context = tls_context(hook.ca_bundle)
    post = f'failed to call webhook: Post "{target.shown}"'
    headers = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": USER_AGENT}
    if target.host_header:
        headers["Host"] = target.host_header
    timeout = aiohttp.ClientTimeout(total=hook.timeout_seconds)
    try:
        async with aiohttp.ClientSession(trust_env=False, timeout=timeout) as session, session.post(
            target.connect, data=json.dumps(review).encode(), headers=headers, ssl=context,
            server_hostname=target.server_hostname,
        ) as response:
            body = await response.read()
            if not 200 <= response.status < 300:
                raise CallFailure(f"{post}: {_status_reason(response.status, body)}")
    except TimeoutError as exc:
        raise CallFailure(f"{post}: context deadline exceeded") from exc
    except aiohttp.ClientConnectorError as exc:
        raise CallFailure(f"{post}: {_connect_reason(exc, target)}") from exc
    except (aiohttp.ClientError, ssl.SSLError, OSError) as exc:
        raise CallFailure(f"{post}: {exc}") from exc
    try:
        return json.loads(body)
    except ValueError as exc:
        raise CallFailure(f"failed to call webhook: couldn't get version/kind; json parse error: {exc}"
                          ) from exc

