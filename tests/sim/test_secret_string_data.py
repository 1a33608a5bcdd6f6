"""Secret `stringData` is write-only, as in kube-apiserver: the sim merges it into `data` (base64)
when it decodes a create or an update, so kubelet volumes and env see every key. Driven with kubectl."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import yaml

Kubectl = Callable[..., Any]


def secret(name: str, namespace: str, **fields: Any) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Secret",
                           "metadata": {"name": name, "namespace": namespace}, **fields})


def key(kubectl: Kubectl, namespace: str, name: str, path: str) -> str:
    return str(kubectl("get", "secret", name, "-n", namespace, "-o", f"jsonpath={{{path}}}").stdout)


def test_string_data_is_stored_base64_in_data_on_create(kubectl: Kubectl, namespace: str) -> None:
    kubectl("apply", "-f", "-", input=secret("s", namespace, stringData={"k": "v1"}))
    assert key(kubectl, namespace, "s", ".data.k") == base64.b64encode(b"v1").decode()
    assert key(kubectl, namespace, "s", ".stringData") == ""


def test_string_data_wins_over_data_of_the_same_key_on_update(kubectl: Kubectl, namespace: str) -> None:
    kubectl("create", "secret", "generic", "s", "-n", namespace, "--from-literal=k=old", "--from-literal=a=1")
    kubectl("apply", "-f", "-", input=secret("s", namespace, data={"k": base64.b64encode(b"old").decode()},
                                             stringData={"k": "new"}))
    assert base64.b64decode(key(kubectl, namespace, "s", ".data.k")) == b"new"
    assert key(kubectl, namespace, "s", ".stringData") == ""
