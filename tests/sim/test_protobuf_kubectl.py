"""Clients that send protobuf bodies work: kubectl's typed `create` commands and helm's release Secrets.

client-go's typed clients encode built-in kinds as application/vnd.kubernetes.protobuf on POST and PUT
(and DeleteOptions on DELETE); these tests go through the real binaries, so they fail with 415 if the
server stops reading protobuf, and check that what was stored is what was sent.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

Kubectl = Callable[..., "subprocess.CompletedProcess[str]"]
Helm = Callable[..., "subprocess.CompletedProcess[str]"]


def get_json(kubectl: Kubectl, *args: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(kubectl("get", *args, "-o", "json").stdout)
    return result


def test_create_configmap_stores_text_and_binary_data(kubectl: Kubectl, namespace: str,
                                                      tmp_path: Path) -> None:
    (tmp_path / "blob").write_bytes(b"\x00\x01\xffbinary")
    kubectl("create", "configmap", "cm", "-n", namespace, "--from-literal=a=b",
            f"--from-file=blob={tmp_path / 'blob'}")
    cm = get_json(kubectl, "configmap", "cm", "-n", namespace)
    assert cm["data"] == {"a": "b"}
    assert base64.b64decode(cm["binaryData"]["blob"]) == b"\x00\x01\xffbinary"


def test_create_secret_stores_the_bytes_sent(kubectl: Kubectl, namespace: str) -> None:
    kubectl("create", "secret", "generic", "s", "-n", namespace, "--from-literal=password=p@ss w0rd")
    secret = get_json(kubectl, "secret", "s", "-n", namespace)
    assert base64.b64decode(secret["data"]["password"]) == b"p@ss w0rd"
    assert secret["type"] == "Opaque"


def test_create_deployment_stores_its_spec(kubectl: Kubectl, namespace: str) -> None:
    kubectl("create", "deployment", "web", "-n", namespace, "--image=nginx", "--replicas=2", "--port=80")
    deployment = get_json(kubectl, "deployment", "web", "-n", namespace)
    assert deployment["spec"]["replicas"] == 2
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert (container["image"], container["ports"][0]["containerPort"]) == ("nginx", 80)


def test_create_namespace_is_served(kubectl: Kubectl) -> None:
    name = f"pb-{os.urandom(4).hex()}"
    kubectl("create", "namespace", name)
    try:
        assert get_json(kubectl, "namespace", name)["metadata"]["name"] == name
    finally:
        kubectl("delete", "namespace", name, "--wait=false", check=False)


def test_create_pdb_keeps_percent_and_integer_forms(kubectl: Kubectl, namespace: str) -> None:
    kubectl("create", "pdb", "p1", "-n", namespace, "--selector=app=web", "--min-available=50%")
    kubectl("create", "pdb", "p2", "-n", namespace, "--selector=app=web", "--max-unavailable=1")
    assert get_json(kubectl, "pdb", "p1", "-n", namespace)["spec"]["minAvailable"] == "50%"
    assert get_json(kubectl, "pdb", "p2", "-n", namespace)["spec"]["maxUnavailable"] == 1


def test_create_token_posts_a_token_request(kubectl: Kubectl, namespace: str) -> None:
    kubectl("create", "serviceaccount", "robot", "-n", namespace)
    token = kubectl("create", "token", "robot", "-n", namespace, "--duration=1h").stdout.strip()
    assert token


def test_typed_dry_run_create_answers_the_object(kubectl: Kubectl, namespace: str) -> None:
    out = kubectl("create", "job", "j", "-n", namespace, "--image=busybox", "--dry-run=server", "-o", "json",
                  "--", "echo", "hi").stdout
    job = json.loads(out)
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["echo", "hi"]
    assert kubectl("get", "job", "j", "-n", namespace, check=False).returncode != 0


@pytest.fixture
def helm(kubeconfig: str, tmp_path: Path) -> Helm:
    env = {**os.environ, "KUBECONFIG": kubeconfig, "HELM_CACHE_HOME": str(tmp_path / "cache"),
           "HELM_CONFIG_HOME": str(tmp_path / "config"), "HELM_DATA_HOME": str(tmp_path / "data")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(["helm", *args], capture_output=True, text=True, env=env, timeout=120)
        assert proc.returncode == 0, f"helm {' '.join(args)} failed:\n{proc.stderr}"
        return proc

    return run


def test_helm_install_and_uninstall_keep_release_secrets(helm: Helm, kubectl: Kubectl, namespace: str,
                                                         tmp_path: Path) -> None:
    helm("create", str(tmp_path / "chart"))
    helm("install", "rel", str(tmp_path / "chart"), "-n", namespace, "--set", "image.repository=nginx")
    secret = get_json(kubectl, "secret", "sh.helm.release.v1.rel.v1", "-n", namespace)
    assert secret["type"] == "helm.sh/release.v1"
    assert secret["metadata"]["labels"]["status"] == "deployed"
    helm("uninstall", "rel", "-n", namespace)  # deletes the Secret with protobuf DeleteOptions
    left = kubectl("get", "secrets", "-n", namespace, "-l", "owner=helm", "-o", "name").stdout
    assert left.strip() == ""
