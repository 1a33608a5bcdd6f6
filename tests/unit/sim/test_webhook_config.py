"""A ValidatingWebhook read with kube-apiserver's v1 defaults (conveyor.sim.admission.webhook_config)."""

from __future__ import annotations

import base64

from conveyor.sim.admission.webhook_config import read_webhook


def test_defaults_are_kube_s() -> None:
    hook = read_webhook("c", {"name": "h", "clientConfig": {"service": {"namespace": "ns", "name": "svc"}},
                              "rules": [{"operations": ["CREATE"]}]})
    assert hook.criteria.match_policy == "Equivalent"
    assert (hook.failure_policy, hook.timeout_seconds) == ("Fail", 10)
    assert hook.criteria.rules[0].scope == "*"
    assert hook.service is not None and hook.service.port == 443 and hook.service.host == "svc.ns.svc"
    assert hook.criteria.namespace_selector.empty and hook.criteria.object_selector.empty


def test_a_timeout_above_thirty_seconds_is_capped() -> None:
    assert read_webhook("c", {"name": "h", "timeoutSeconds": 120}).timeout_seconds == 30


def test_the_ca_bundle_is_decoded_from_base64() -> None:
    pem = b"-----BEGIN CERTIFICATE-----\n"
    hook = read_webhook("c", {"name": "h", "clientConfig": {"caBundle": base64.b64encode(pem).decode()}})
    assert hook.ca_bundle == pem
