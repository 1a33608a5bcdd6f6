"""`kubernetes.wait`: rollout and condition checks as kubectl makes them (pure, no cluster)."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor.plugins.kube.readiness import (
    RolloutFailed,
    condition_progress,
    parse_condition,
    rollout_progress,
)


def deployment(generation: int = 2, spec_replicas: int = 3, **status: Any) -> dict[str, Any]:
    observed = {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3}
    return {
        "kind": "Deployment",
        "metadata": {"name": "web", "generation": generation},
        "spec": {"replicas": spec_replicas},
        "status": {**observed, **status},
    }


def test_a_deployment_with_every_replica_updated_and_available_is_rolled_out() -> None:
    progress = rollout_progress(deployment())
    assert progress.done and progress.message == 'deployment "web" successfully rolled out'


def test_a_spec_not_yet_observed_is_not_rolled_out_whatever_the_counts() -> None:
    progress = rollout_progress(deployment(generation=3))
    assert not progress.done and "spec update to be observed" in progress.message


def test_missing_updated_replicas_are_waited_for() -> None:
    assert (
        rollout_progress(deployment(updatedReplicas=1)).message == "1 out of 3 new replicas have been updated"
    )


def test_old_replicas_pending_termination_are_waited_for() -> None:
    assert rollout_progress(deployment(spec_replicas=3, replicas=4)).message == (
        "1 old replicas are pending termination"
    )


def test_unavailable_updated_replicas_are_waited_for() -> None:
    assert (
        rollout_progress(deployment(availableReplicas=2)).message == "2 of 3 updated replicas are available"
    )


def test_a_deployment_past_its_progress_deadline_fails_for_good() -> None:
    stuck = deployment(
        updatedReplicas=1,
        conditions=[{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}],
    )
    with pytest.raises(RolloutFailed, match="exceeded its progress deadline"):
        rollout_progress(stuck)


def statefulset(**status: Any) -> dict[str, Any]:
    base = {
        "observedGeneration": 1,
        "readyReplicas": 2,
        "updatedReplicas": 2,
        "currentRevision": "r1",
        "updateRevision": "r1",
    }
    return {
        "kind": "StatefulSet",
        "metadata": {"name": "db", "generation": 1},
        "spec": {"replicas": 2},
        "status": {**base, **status},
    }


def test_a_statefulset_at_one_revision_with_ready_replicas_is_rolled_out() -> None:
    assert rollout_progress(statefulset()).done


def test_a_statefulset_between_revisions_is_not_rolled_out() -> None:
    assert not rollout_progress(statefulset(updateRevision="r2", updatedReplicas=1)).done


def test_a_statefulset_with_unready_replicas_is_not_rolled_out() -> None:
    assert rollout_progress(statefulset(readyReplicas=1)).message == "1 of 2 replicas are ready"


def test_an_on_delete_statefulset_has_no_rollout_to_wait_for() -> None:
    obj = statefulset()
    obj["spec"]["updateStrategy"] = {"type": "OnDelete"}
    with pytest.raises(RolloutFailed, match="RollingUpdate"):
        rollout_progress(obj)


def daemonset(**status: Any) -> dict[str, Any]:
    base = {
        "observedGeneration": 1,
        "desiredNumberScheduled": 2,
        "updatedNumberScheduled": 2,
        "numberAvailable": 2,
    }
    return {
        "kind": "DaemonSet",
        "metadata": {"name": "agent", "generation": 1},
        "spec": {},
        "status": {**base, **status},
    }


def test_a_daemonset_with_every_pod_updated_and_available_is_rolled_out() -> None:
    assert rollout_progress(daemonset()).done


def test_a_daemonset_with_pods_not_updated_is_not_rolled_out() -> None:
    assert not rollout_progress(daemonset(updatedNumberScheduled=1)).done


def test_a_kind_without_rollout_asks_for_a_condition() -> None:
    with pytest.raises(RolloutFailed, match="give a condition"):
        rollout_progress({"kind": "Job", "metadata": {"name": "j"}})


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("Ready", ("Ready", "True")),
        ("Ready=False", ("Ready", "False")),
        ("condition=Complete", ("Complete", "True")),
    ],
)
def test_conditions_are_written_as_kubectl_wait_writes_them(text: str, parsed: tuple[str, str]) -> None:
    assert parse_condition(text) == parsed


def job(*conditions: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "Job",
        "metadata": {"name": "j", "generation": 1},
        "status": {"conditions": list(conditions)},
    }


def test_a_condition_with_the_expected_status_is_met_case_insensitively() -> None:
    assert condition_progress(job({"type": "Complete", "status": "True"}), "complete").done


def test_a_condition_with_another_status_is_waited_for_with_its_reason() -> None:
    progress = condition_progress(
        job({"type": "Complete", "status": "False", "reason": "Running"}), "Complete"
    )
    assert not progress.done and "Running" in progress.message


def test_an_absent_condition_is_waited_for() -> None:
    assert not condition_progress(job(), "Complete").done


def test_a_condition_observed_for_an_older_generation_is_not_met_yet() -> None:
    obj = job({"type": "Ready", "status": "True", "observedGeneration": 1})
    obj["metadata"]["generation"] = 2
    assert not condition_progress(obj, "Ready").done
