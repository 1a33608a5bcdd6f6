"""One validating webhook of a ValidatingWebhookConfiguration, read with kube's defaults.

The sim stores webhook configurations as written (it does not default them), so every default
kube-apiserver's admissionregistration/v1 defaulting would have filled in is applied here, once:
failurePolicy Fail, matchPolicy Equivalent, timeoutSeconds 10, rule scope "*", service port 443,
empty (match-everything) selectors. A timeout above kube's maximum of 30 seconds is capped, so a
misconfigured webhook can never hold a write longer than kube would.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from conveyor.sim.admission.matching import Criteria, read_rules
from conveyor.sim.selectors import selector_from_match

DEFAULT_TIMEOUT_SECONDS = 10
MAX_TIMEOUT_SECONDS = 30
DEFAULT_SERVICE_PORT = 443


@dataclass(frozen=True)
class ServiceRef:
    namespace: str
    name: str
    port: int
    path: str

    @property
    def host(self) -> str:
        """The name the serving certificate must carry: kube verifies `<svc>.<ns>.svc`."""
        return f"{self.name}.{self.namespace}.svc"


@dataclass(frozen=True)
class MatchCondition:
    name: str
    expression: str


@dataclass(frozen=True)
class ValidatingWebhook:
    name: str
    configuration: str  # the ValidatingWebhookConfiguration it belongs to
    criteria: Criteria  # rules, selectors and matchPolicy ("Exact" or "Equivalent")
    match_conditions: tuple[MatchCondition, ...]
    failure_policy: str  # "Fail" or "Ignore"
    side_effects: str | None
    timeout_seconds: int
    url: str | None
    service: ServiceRef | None
    ca_bundle: bytes | None  # PEM, decoded from the base64 caBundle

    @property
    def fails_open(self) -> bool:
        return self.failure_policy == "Ignore"


def _ca_bundle(value: Any) -> bytes | None:
    """The caBundle as PEM bytes. The API carries it base64-encoded ([]byte in JSON); a value that
    does not decode is kept as given, so the TLS setup reports it as an unusable bundle."""
    if not value:
        return None
    text = str(value)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return text.encode()


def _timeout(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        return DEFAULT_TIMEOUT_SECONDS
    return min(value, MAX_TIMEOUT_SECONDS)


def _service(raw: Any) -> ServiceRef | None:
    if not isinstance(raw, dict):
        return None
    port = raw.get("port")
    return ServiceRef(
        namespace=str(raw.get("namespace") or ""),
        name=str(raw.get("name") or ""),
        port=port if isinstance(port, int) and not isinstance(port, bool) else DEFAULT_SERVICE_PORT,
        path=str(raw.get("path") or ""),
    )


def read_webhook(configuration: str, raw: dict[str, Any]) -> ValidatingWebhook:
    """One entry of `webhooks`, defaulted as kube-apiserver stores it."""
    client = raw.get("clientConfig") or {}
    conditions = raw.get("matchConditions") or []
    return ValidatingWebhook(
        name=str(raw.get("name") or ""),
        configuration=configuration,
        criteria=Criteria(
            rules=read_rules(raw.get("rules")),
            namespace_selector=selector_from_match(raw.get("namespaceSelector"), tolerant=True),
            object_selector=selector_from_match(raw.get("objectSelector"), tolerant=True),
            match_policy=str(raw.get("matchPolicy") or "Equivalent"),
        ),
        match_conditions=tuple(
            MatchCondition(str(c.get("name") or ""), str(c.get("expression") or ""))
            for c in conditions if isinstance(c, dict)
        ),
        failure_policy=str(raw.get("failurePolicy") or "Fail"),
        side_effects=raw.get("sideEffects"),
        timeout_seconds=_timeout(raw.get("timeoutSeconds")),
        url=client.get("url") or None,
        service=_service(client.get("service")),
        ca_bundle=_ca_bundle(client.get("caBundle")),
    )


def read_configurations(configurations: list[dict[str, Any]]) -> list[ValidatingWebhook]:
    """Every webhook of every configuration, in configuration-name order then declaration order
    (the order the sim reports the first of several denials in)."""
    hooks: list[ValidatingWebhook] = []
    for config in configurations:
        name = (config.get("metadata") or {}).get("name", "")
        hooks.extend(read_webhook(name, raw) for raw in config.get("webhooks") or () if isinstance(raw, dict))
    return hooks
