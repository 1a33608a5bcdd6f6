"""Snapshot layout (pure): what is kept of an object, how a snapshot is split, when it is whole."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor.workflows.snapshots import (
    SnapshotError,
    build_config_maps,
    config_map_name,
    portable,
    read_parts,
    split_parts,
)


def execution(name: str, size: int = 10) -> dict[str, Any]:
    return {
        "apiVersion": "conveyor.dev/v1alpha1",
        "kind": "Execution",
        "metadata": {
            "name": name,
            "namespace": "shop",
            "uid": "u-1",
            "resourceVersion": "42",
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "managedFields": [{"manager": "x"}],
            "labels": {"conveyor.dev/deployment": "web"},
        },
        "spec": {"deployment": "web", "workflow": "install", "parameters": {"blob": "x" * size}},
        "status": {"phase": "terminated"},
    }


def test_portable_objects_keep_identity_spec_and_status_but_no_server_fields() -> None:
    kept = portable(execution("a"), keep_status=True)
    assert kept["metadata"] == {
        "name": "a",
        "namespace": "shop",
        "labels": {"conveyor.dev/deployment": "web"},
    }
    assert kept["status"] == {"phase": "terminated"}


def test_deployments_are_kept_without_status() -> None:
    assert "status" not in portable(execution("a"), keep_status=False)


def test_parts_stay_under_the_limit_and_keep_the_order() -> None:
    objects = [portable(execution(f"e{i}", size=100), keep_status=True) for i in range(10)]
    parts = split_parts(objects, limit=1000)
    assert len(parts) > 1
    assert all(sum(len(line) + 1 for line in part) <= 1000 for part in parts)
    assert [line for part in parts for line in part] == split_parts(objects, limit=10**9)[0]


def test_an_object_larger_than_a_part_is_refused_naming_it() -> None:
    with pytest.raises(SnapshotError, match="Execution shop/big"):
        split_parts([portable(execution("big", size=2000), keep_status=True)], limit=1000)


def test_the_config_map_with_the_index_is_written_last() -> None:
    objects = [portable(execution(f"e{i}", size=100), keep_status=True) for i in range(10)]
    config_maps = build_config_maps("nightly", "conveyor-system", objects, "2026-01-01T00:00:00Z", limit=1000)
    assert config_maps[-1]["metadata"]["name"] == config_map_name("nightly") == "conveyor-snapshot-nightly"
    assert "snapshot.json" in config_maps[-1]["data"]
    assert all("snapshot.json" not in cm["data"] for cm in config_maps[:-1])


def test_a_snapshot_reads_back_whole() -> None:
    objects = [portable(execution(f"e{i}", size=100), keep_status=True) for i in range(10)]
    config_maps = build_config_maps("nightly", "conveyor-system", objects, "2026-01-01T00:00:00Z", limit=1000)
    assert read_parts("nightly", config_maps) == objects


def test_a_snapshot_with_a_missing_part_is_refused() -> None:
    objects = [portable(execution(f"e{i}", size=100), keep_status=True) for i in range(10)]
    config_maps = build_config_maps("nightly", "conveyor-system", objects, "2026-01-01T00:00:00Z", limit=1000)
    with pytest.raises(SnapshotError, match="incomplete"):
        read_parts("nightly", config_maps[1:])


def test_a_snapshot_without_its_index_config_map_is_not_found() -> None:
    objects = [portable(execution(f"e{i}", size=100), keep_status=True) for i in range(10)]
    config_maps = build_config_maps("nightly", "conveyor-system", objects, "2026-01-01T00:00:00Z", limit=1000)
    with pytest.raises(SnapshotError, match="not found"):
        read_parts("nightly", config_maps[:-1])
