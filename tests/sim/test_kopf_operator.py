"""A tiny kopf operator runs against the cluster: it sees a custom resource and patches its status."""

from __future__ import annotations

import textwrap

from kopf.testing import KopfRunner
from kubetest import wait_for

GROUP = "kopf.conveyor.dev"
CRD = f"""apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: tasks.{GROUP}
spec:
  group: {GROUP}
  scope: Namespaced
  names: {{plural: tasks, singular: task, kind: Task}}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {{status: {{}}}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {{type: object, properties: {{word: {{type: string}}}}}}
          status: {{type: object, x-kubernetes-preserve-unknown-fields: true}}
"""

OPERATOR = f'''
import kopf

@kopf.on.login()
def login(**kwargs):
    return kopf.login_with_kubeconfig(**kwargs)  # reads $KUBECONFIG when called, not at import

@kopf.on.startup()
def configure(settings, **_):
    settings.watching.server_timeout = 10
    settings.posting.enabled = False

@kopf.on.create("{GROUP}", "v1", "tasks")
def shout(spec, patch, **_):
    patch.status["shouted"] = spec["word"].upper()
'''


def test_kopf_operator_patches_status_of_a_custom_resource(
    kubectl, kubeconfig, custom, namespace, tmp_path, monkeypatch
):
    kubectl("apply", "-f", "-", input=CRD)
    kubectl("wait", "--for=condition=Established", f"crd/tasks.{GROUP}", "--timeout=20s")
    operator = tmp_path / "operator.py"
    operator.write_text(textwrap.dedent(OPERATOR))
    monkeypatch.setenv("KUBECONFIG", kubeconfig)
    args = ["run", "--standalone", "--namespace", namespace, "--verbose", str(operator)]
    with KopfRunner(args, timeout=60) as runner:
        custom.create_namespaced_custom_object(
            GROUP,
            "v1",
            namespace,
            "tasks",
            {
                "apiVersion": f"{GROUP}/v1",
                "kind": "Task",
                "metadata": {"name": "t"},
                "spec": {"word": "hello"},
            },
        )
        wait_for(
            lambda: (
                custom.get_namespaced_custom_object(GROUP, "v1", namespace, "tasks", "t")
                .get("status", {})
                .get("shouted")
                == "HELLO"
            ),
            timeout=30,
            what="kopf to patch status",
        )
    assert runner.exception is None
