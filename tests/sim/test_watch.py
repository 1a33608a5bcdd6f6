"""Watches: events from a resourceVersion, selectors, bookmarks, initial events, 410 Gone."""

from __future__ import annotations

import json
import ssl
import threading
import urllib.error
import urllib.request

import pytest
import yaml
from kubernetes import watch


def _watch(core, namespace, **kw):
    return watch.Watch().stream(core.list_namespaced_config_map, namespace, timeout_seconds=5, **kw)


def test_watch_from_resource_version_sees_later_events_in_order(core, namespace):
    rv = core.list_namespaced_config_map(namespace).metadata.resource_version
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "w"}})
    core.patch_namespaced_config_map("w", namespace, {"data": {"a": "1"}})
    core.delete_namespaced_config_map("w", namespace)
    seen = []
    for event in _watch(core, namespace, resource_version=rv):
        seen.append((event["type"], event["object"].metadata.name))
        if len(seen) == 3:
            break
    assert seen == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]


def test_watch_without_resource_version_starts_with_current_objects(core, namespace):
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "pre"}})
    names = set()
    for event in _watch(core, namespace):
        assert event["type"] == "ADDED"
        names.add(event["object"].metadata.name)
        if {"pre", "kube-root-ca.crt"} <= names:
            break
    assert "pre" in names


def test_watch_with_label_selector_reports_objects_leaving_the_selection_as_deleted(core, namespace):
    rv = core.list_namespaced_config_map(namespace).metadata.resource_version
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "s", "labels": {"x": "1"}}})
    core.patch_namespaced_config_map("s", namespace, {"metadata": {"labels": {"x": "2"}}})
    seen = []
    for event in _watch(core, namespace, resource_version=rv, label_selector="x=1"):
        seen.append(event["type"])
        if len(seen) == 2:
            break
    assert seen == ["ADDED", "DELETED"]


def test_watch_delivers_events_written_after_it_started(core, namespace):
    rv = core.list_namespaced_config_map(namespace).metadata.resource_version
    seen: list[str] = []

    def consume() -> None:
        for event in _watch(core, namespace, resource_version=rv):
            seen.append(event["object"].metadata.name)
            if "late" in seen:
                return

    thread = threading.Thread(target=consume)
    thread.start()
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "late"}})
    thread.join(10)
    assert "late" in seen


def _raw(kubeconfig: str, path: str) -> list[dict]:
    import base64

    with open(kubeconfig) as f:
        cfg = yaml.safe_load(f)
    cluster = cfg["clusters"][0]["cluster"]
    ctx = ssl.create_default_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
    req = urllib.request.Request(
        cluster["server"] + path, headers={"Authorization": f"Bearer {cfg['users'][0]['user']['token']}"}
    )
    with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
        return [json.loads(line) for line in resp.read().splitlines() if line.strip()]


def test_send_initial_events_ends_with_an_annotated_bookmark(kubeconfig, core, namespace):
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "i1"}})
    events = _raw(
        kubeconfig,
        f"/api/v1/namespaces/{namespace}/configmaps?watch=true&sendInitialEvents=true"
        "&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=1",
    )
    types = [e["type"] for e in events]
    assert types[:2] == ["ADDED", "ADDED"]
    bookmark = next(e for e in events if e["type"] == "BOOKMARK")
    assert bookmark["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"] == "true"
    assert int(bookmark["object"]["metadata"]["resourceVersion"]) > 0


def test_watch_ends_after_timeout_seconds(kubeconfig, namespace):
    events = _raw(
        kubeconfig, f"/api/v1/namespaces/{namespace}/configmaps?watch=true&timeoutSeconds=1&resourceVersion=0"
    )
    assert all(e["type"] == "ADDED" for e in events)


@pytest.mark.sim_only
def test_watch_from_compacted_resource_version_is_410_gone(tmp_path):
    from conveyor.sim.app import SimServer

    with SimServer.run_in_thread(kubeconfig=tmp_path / "kc", history=20, controllers=[]) as small:
        kc = str(small.kubeconfig)
        for i in range(30):
            small.call(small.api.create(("", "v1", "configmaps"), "default", {"metadata": {"name": f"c{i}"}}))
        with pytest.raises(urllib.error.HTTPError) as err:
            _raw(kc, "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=2")
        assert err.value.code == 410
        status = json.loads(err.value.read())
        assert status["reason"] == "Expired"
        assert status["message"].startswith("too old resource version: 2 (")


@pytest.mark.sim_only
def test_periodic_bookmarks_carry_the_current_resource_version(tmp_path):
    from conveyor.sim.app import SimServer

    with SimServer.run_in_thread(kubeconfig=tmp_path / "kc", bookmark_interval=0.2, controllers=[]) as quick:
        events = _raw(
            str(quick.kubeconfig),
            "/api/v1/namespaces/default/configmaps?watch=true"
            "&allowWatchBookmarks=true&timeoutSeconds=1&resourceVersion="
            + str(quick.api.store.resource_version),
        )
        bookmarks = [e for e in events if e["type"] == "BOOKMARK"]
        assert bookmarks
        assert bookmarks[-1]["object"]["metadata"]["resourceVersion"] == str(quick.api.store.resource_version)
