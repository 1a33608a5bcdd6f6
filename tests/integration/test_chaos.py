"""The short chaos profile (benchmarks/chaos.py): ~60 executions over 6 deployments, with operator
replicas killed and restarted, worker pods deleted, and the sim injecting faults (409/500/429,
latency, watch cuts). One run (module fixture) serves every test; each checks one rule on what the
run recorded. The full profile is `python benchmarks/chaos.py`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from history import RUNNING
from operator_harness import Cluster, OperatorThread, WorkerStandIn, wait_for

from conveyor.api.names import GROUP, VERSION

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))

from chaos import SHORT, ChaosReport, run_chaos  # noqa: E402

pytestmark = [pytest.mark.sim_only, pytest.mark.timeout(150)]
"""Runs its own sim (faults must not reach other tests) and workflows write files on this machine."""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> ChaosReport:
    result = run_chaos(SHORT, tmp_path_factory.mktemp("chaos"), seed=1)
    print(result.render())
    return result


def _explain(report: ChaosReport) -> str:
    return "\n" + report.render()


def test_chaos_did_inject_faults_and_kill_operators_and_workers(report: ChaosReport) -> None:
    """Without faults and kills the other tests would prove nothing."""
    faults: dict[str, Any] = report.faults
    kinds = ("conflict", "internal", "throttle", "watch_cut")
    assert all(faults[kind] > 0 for kind in kinds), _explain(report)
    assert report.operator_restarts > 0 and report.worker_kills > 0, _explain(report)
    assert report.executions >= 50, _explain(report)


def test_s1_no_non_forced_execution_starts_beside_another_of_its_deployment(report: ChaosReport) -> None:
    assert report.s1 == [], _explain(report)


def test_s2_no_system_wide_execution_runs_beside_any_other(report: ChaosReport) -> None:
    assert report.s2 == [], _explain(report)


def test_s3_a_final_status_never_changes_and_nothing_starts_twice(report: ChaosReport) -> None:
    assert report.s3 == [], _explain(report)


def test_every_execution_reaches_a_final_status(report: ChaosReport) -> None:
    assert report.lost == [], _explain(report)


def test_no_execution_runs_twice_by_its_side_effects(report: ChaosReport) -> None:
    assert report.duplicates == [], _explain(report)


def test_no_execution_runs_without_being_admitted(report: ChaosReport) -> None:
    assert report.unadmitted_runs == [], _explain(report)


def test_queued_executions_start_in_creation_order_per_deployment(report: ChaosReport) -> None:
    assert report.order_violations == [], _explain(report)


def test_the_recorded_history_has_no_gaps(report: ChaosReport) -> None:
    assert report.recorder_gaps == 0, _explain(report)


def test_no_operator_replica_crashes_on_its_own(report: ChaosReport) -> None:
    assert report.operator_crashes == [], _explain(report)


def test_no_scheduled_execution_is_refused_for_the_operator_being_late(report: ChaosReport) -> None:
    assert report.scheduled_refused == [], _explain(report)


def test_fifo_survives_restarts_for_requests_stamped_by_the_same_leader(
    start_operator: Callable[..., OperatorThread], cluster: Cluster, worker: WorkerStandIn
) -> None:
    """Deterministic reproduction: the older request is named to sort after the younger one."""
    cluster.deployment("web")
    first = start_operator()
    blocker = cluster.execution("web")
    worker.claim(blocker)  # the deployment is busy: what comes next must queue
    first.stop()
    for name in ("zz-older", "aa-younger"):  # created while no operator runs, oldest first
        cluster.custom.create_namespaced_custom_object(GROUP, VERSION, cluster.namespace, "executions", {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "Execution", "metadata": {"name": name},
            "spec": {"deployment": "web", "workflow": "install", "queue": True},
        })
    second = start_operator()
    for name in ("zz-older", "aa-younger"):
        cluster.wait_phase(name, "queued")
    second.stop()
    start_operator()
    worker.finish(blocker)

    def first_to_start() -> str | None:
        return next((n for n in ("zz-older", "aa-younger") if cluster.phase(n) in RUNNING), None)

    assert wait_for(first_to_start, 15, "a queued execution to start") == "zz-older"


def test_a_scheduled_execution_whose_time_came_while_no_operator_ran_is_admitted(
    start_operator: Callable[..., OperatorThread], cluster: Cluster
) -> None:
    cluster.deployment("web")
    when = datetime.now(UTC) + timedelta(seconds=2)
    name = cluster.execution("web", scheduledTime=when.strftime("%Y-%m-%dT%H:%M:%SZ"))
    wait_for(lambda: datetime.now(UTC) > when + timedelta(seconds=1), 10, "the scheduled time to pass")
    start_operator()
    status = cluster.wait_phase(name, "pending", "queued", "failed")["status"]
    assert status["phase"] != "failed", status.get("error")
