"""What the benchmark runs: the no-op workflow's source, the Deployments, and Execution requests.

The workflows are code in a source ConfigMap, as users ship it (DESIGN.md, "Workers"): the worker
loads it through the API for every execution, so that cost is part of the figures.
"""

from __future__ import annotations

import textwrap
from typing import Any

from kube import GROUP_PATH, Kube

SOURCE = "bench-flows"
MODULE = "bench_flows"
FLOWS = textwrap.dedent(
    """
    import time

    from conveyor.workflows import workflow


    @workflow
    def noop(ctx, sleep=0.0):
        if sleep:
            time.sleep(sleep)


    @workflow
    def hold(ctx, seconds=600.0):
        ctx.cancel_token.wait_forced(seconds)
    """
)
PARAMETERS = {"sleep": {"type": "float", "default": 0.0}}
WORKFLOWS: dict[str, Any] = {
    "noop": {"mapping": f"{MODULE}.noop", "parameters": PARAMETERS},
    "hold": {"mapping": f"{MODULE}.hold", "parameters": {"seconds": {"type": "float", "default": 600.0}}},
}
SYSTEM_CONFIG = textwrap.dedent(
    f"""
    systemWorkflows:
      noop:
        mapping: {MODULE}.noop
        source: {{configMap: {SOURCE}}}
        parameters: {{sleep: {{type: float, default: 0.0}}}}
    """
)


async def install_source(kube: Kube, namespace: str) -> None:
    await kube.ensure(
        f"/api/v1/namespaces/{namespace}/configmaps",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": SOURCE},
            "data": {f"{MODULE}.py": FLOWS},
        },
    )


async def configure_system_workflows(kube: Kube, operator_namespace: str) -> None:
    await kube.ensure(
        f"/api/v1/namespaces/{operator_namespace}/configmaps",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "conveyor-config"},
            "data": {"config.yaml": SYSTEM_CONFIG},
        },
    )


async def create_deployment(kube: Kube, namespace: str, name: str) -> None:
    await kube.ensure(
        f"{GROUP_PATH}/namespaces/{namespace}/deployments",
        {
            "apiVersion": "conveyor.dev/v1alpha1",
            "kind": "Deployment",
            "metadata": {"name": name},
            "spec": {
                "source": {"configMap": SOURCE},
                "worker": {"idleTimeoutSeconds": 900},
                "workflows": WORKFLOWS,
            },
        },
    )


async def create_execution(
    kube: Kube, namespace: str, deployment: str | None, workflow: str = "noop", **spec: Any
) -> str:
    """Create an Execution; its `namespace/name` key."""
    body: dict[str, Any] = {"workflow": workflow, **spec}
    if deployment is not None:
        body["deployment"] = deployment
    created = await kube.create(
        f"{GROUP_PATH}/namespaces/{namespace}/executions",
        {
            "apiVersion": "conveyor.dev/v1alpha1",
            "kind": "Execution",
            "metadata": {"generateName": f"{workflow}-"},
            "spec": body,
        },
    )
    return f"{namespace}/{created['metadata']['name']}"
