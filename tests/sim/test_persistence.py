"""State kept under --data-dir survives a restart of the sim."""

from __future__ import annotations

import json

import pytest
from kubetest import kubectl_at


@pytest.mark.sim_only
def test_objects_and_resource_versions_survive_a_restart(tmp_path):
    from conveyor.sim.app import SimServer

    data, kc = tmp_path / "data", tmp_path / "kubeconfig"
    manifest = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kept\n  namespace: default\ndata:\n  a: '1'\n"
    )
    kubectl = kubectl_at(str(kc))
    with SimServer.run_in_thread(kubeconfig=kc, data_dir=data, controllers=[]) as first:
        kubectl("apply", "-f", "-", input=manifest)
        before = json.loads(kubectl("get", "configmap", "kept", "-o", "json").stdout)
        rv_before = first.api.store.resource_version
    with SimServer.run_in_thread(kubeconfig=kc, data_dir=data, controllers=[]) as second:
        after = json.loads(kubectl("get", "configmap", "kept", "-o", "json").stdout)
        assert after["metadata"]["uid"] == before["metadata"]["uid"]
        assert after["data"] == {"a": "1"}
        kubectl("label", "configmap", "kept", "x=y")
        assert second.api.store.resource_version > rv_before
