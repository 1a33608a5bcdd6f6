"""The fault-injection switch (conveyor.sim.faults): writes refused with kube's Status bodies, added
latency, watches cut, scoped by resource and user, switchable at runtime, deterministic for a seed.

These tests run their own sim (faults would disturb every other test of the session's one).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException
from kubetest import status_of

from conveyor.sim.app import SimServer
from conveyor.sim.faults import FAULTS_ENV, FaultConfig, from_environment

pytestmark = pytest.mark.sim_only

HARNESS = "chaos-harness"


@pytest.fixture(scope="module")
def sim_with_faults(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimServer]:
    kubeconfig = tmp_path_factory.mktemp("faults") / "kubeconfig"
    with SimServer.run_in_thread(kubeconfig=kubeconfig, controllers=[]) as server:
        _let_the_impersonated_users_edit_default(server)
        yield server


def _let_the_impersonated_users_edit_default(server: SimServer) -> None:
    """The sim enforces RBAC: the users these tests act as may write in `default`, so that what they
    meet is the injected fault, never a 403."""
    admin = config.new_client_from_config(config_file=str(server.kubeconfig))
    try:
        binding = {
            "metadata": {"name": "fault-test-users"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
            "subjects": [
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": HARNESS},
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "someone-else"},
                {"kind": "ServiceAccount", "name": "worker", "namespace": "default"},
            ],
        }
        rbac: Any = client.RbacAuthorizationV1Api(admin)
        rbac.create_namespaced_role_binding("default", binding)
    finally:
        admin.close()


@pytest.fixture
def faulty(sim_with_faults: SimServer) -> Iterator[SimServer]:
    """The module's sim, with its faults switched off again after each test."""
    sim_with_faults.faults.configure(FaultConfig())
    sim_with_faults.faults.reset_counts()
    yield sim_with_faults
    sim_with_faults.faults.configure(FaultConfig())


def _core(api: client.ApiClient) -> Any:
    """The client's stubs type bodies as models; these tests send plain dicts, as kubectl does."""
    return client.CoreV1Api(api)


def _client(server: SimServer, as_user: str | None = None) -> client.ApiClient:
    api = config.new_client_from_config(config_file=str(server.kubeconfig))
    if as_user is not None:
        api.set_default_header("Impersonate-User", as_user)
    return api


@pytest.fixture
def core(faulty: SimServer) -> Iterator[Any]:
    api = _client(faulty)
    yield client.CoreV1Api(api)
    api.close()


def _configmap(name: str | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name or f"cm-{uuid.uuid4().hex[:8]}"}, "data": {"k": "v"}}


def _create_error(core: Any, name: str | None = None) -> ApiException:
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("default", _configmap(name))
    return caught.value


def test_no_faults_are_injected_unless_configured(core: Any, faulty: SimServer) -> None:
    core.create_namespaced_config_map("default", _configmap())
    assert sum(faulty.faults.counts().values()) == 0


def test_a_refused_update_is_a_conflict_status_and_changes_nothing(
    core: Any, faulty: SimServer
) -> None:
    name = f"cm-{uuid.uuid4().hex[:8]}"
    core.create_namespaced_config_map("default", _configmap(name))
    faulty.faults.configure(conflict=1.0)
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_config_map(name, "default", {"data": {"k": "changed"}})
    error = caught.value
    body = status_of(error)
    assert (error.status, body["kind"], body["reason"], body["code"]) == (409, "Status", "Conflict", 409)
    assert body["message"].startswith(f'Operation cannot be fulfilled on configmaps "{name}"')
    faulty.faults.configure(FaultConfig())
    assert core.read_namespaced_config_map(name, "default").data == {"k": "v"}


def test_a_create_is_never_answered_conflict(core: Any, faulty: SimServer) -> None:
    """409 to a create would claim the object exists (AlreadyExists), which it does not."""
    faulty.faults.configure(conflict=1.0)
    core.create_namespaced_config_map("default", _configmap())
    assert faulty.faults.counts()["conflict"] == 0


def test_an_internal_error_is_a_500_status(core: Any, faulty: SimServer) -> None:
    faulty.faults.configure(internal=1.0)
    error = _create_error(core)
    assert (error.status, status_of(error)["reason"]) == (500, "InternalError")
    assert faulty.faults.counts()["internal"] == 1


def test_throttling_is_a_429_with_retry_after(core: Any, faulty: SimServer) -> None:
    faulty.faults.configure(throttle=1.0, retry_after_seconds=3)
    error = _create_error(core)
    body = status_of(error)
    assert (error.status, body["reason"]) == (429, "TooManyRequests")
    assert (error.headers or {})["Retry-After"] == "3"
    assert body["details"]["retryAfterSeconds"] == 3


def test_reads_are_never_refused(core: Any, faulty: SimServer) -> None:
    faulty.faults.configure(conflict=0.5, internal=0.5)
    for _ in range(20):
        core.list_namespaced_config_map("default")
    assert faulty.faults.counts()["conflict"] == faulty.faults.counts()["internal"] == 0


def test_faults_scoped_to_a_resource_leave_other_resources_alone(
    core: Any, faulty: SimServer
) -> None:
    faulty.faults.configure(internal=1.0, resources=("leases",))
    core.create_namespaced_config_map("default", _configmap())
    coordination: Any = client.CoordinationV1Api(core.api_client)
    with pytest.raises(ApiException) as caught:
        coordination.create_namespaced_lease("default", {"metadata": {"name": f"l-{uuid.uuid4().hex[:8]}"}})
    assert caught.value.status == 500


def test_an_exempt_user_is_never_touched(faulty: SimServer) -> None:
    faulty.faults.configure(internal=1.0, exempt_users=(HARNESS,))
    harness = _client(faulty, as_user=HARNESS)
    try:
        _core(harness).create_namespaced_config_map("default", _configmap())
    finally:
        harness.close()
    other = _client(faulty, as_user="someone-else")
    try:
        assert _create_error(client.CoreV1Api(other)).status == 500
    finally:
        other.close()


def test_users_in_scope_match_shell_patterns(faulty: SimServer) -> None:
    faulty.faults.configure(internal=1.0, users=("system:serviceaccount:*",))
    admin = _client(faulty)
    try:
        _core(admin).create_namespaced_config_map("default", _configmap())
    finally:
        admin.close()
    account = _client(faulty, as_user="system:serviceaccount:default:worker")
    try:
        assert _create_error(client.CoreV1Api(account)).status == 500
    finally:
        account.close()


def test_the_same_seed_refuses_the_same_writes(core: Any, faulty: SimServer) -> None:
    name = f"cm-{uuid.uuid4().hex[:8]}"
    core.create_namespaced_config_map("default", _configmap(name))

    def outcomes() -> list[int]:
        faulty.faults.configure(FaultConfig(conflict=0.2, internal=0.2, throttle=0.2, seed=7))
        codes = []
        for index in range(30):
            try:
                core.patch_namespaced_config_map(name, "default", {"data": {"k": str(index)}})
                codes.append(200)
            except ApiException as error:
                codes.append(error.status)
        return codes

    first = outcomes()
    assert first == outcomes()
    assert {200, 409, 500, 429} <= set(first)


def test_latency_delays_each_request_in_scope(core: Any, faulty: SimServer) -> None:
    faulty.faults.configure(latency_ms=200, jitter_ms=50)
    began = time.monotonic()
    core.list_namespaced_config_map("default")
    assert time.monotonic() - began >= 0.15
    assert faulty.faults.counts()["latency"] == 1


def test_a_watch_is_cut_after_the_configured_time(core: Any, faulty: SimServer) -> None:
    faulty.faults.configure(watch_cut_min_seconds=0.2, watch_cut_max_seconds=0.4)
    began = time.monotonic()
    for _ in watch.Watch().stream(core.list_namespaced_config_map, "default", timeout_seconds=30,
                                  resource_version=core.list_namespaced_config_map("default").metadata
                                  .resource_version):
        pass
    assert time.monotonic() - began < 10, "the watch ran to its own timeout instead of being cut"
    assert faulty.faults.counts()["watch_cut"] == 1


def test_disabling_at_runtime_lets_writes_through_again(core: Any, faulty: SimServer) -> None:
    faulty.faults.configure(internal=1.0)
    assert _create_error(core).status == 500
    faulty.faults.disable()
    core.create_namespaced_config_map("default", _configmap())


def test_settings_come_from_the_environment_as_json() -> None:
    settings = from_environment({FAULTS_ENV: '{"conflict": 0.1, "resources": "executions", "seed": 3}'})
    assert settings == FaultConfig(conflict=0.1, resources=("executions",), seed=3)
    assert from_environment({}) is None


def test_unknown_settings_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="conflicts"):
        FaultConfig.from_json('{"conflicts": 0.1}')


def test_shares_over_one_are_refused() -> None:
    with pytest.raises(ValueError, match="must not exceed 1"):
        FaultConfig(conflict=0.6, internal=0.6)


def test_the_cli_refuses_malformed_fault_settings(tmp_path: Path) -> None:
    from conveyor.cli.sim import sim

    result = CliRunner().invoke(sim, ["--kubeconfig", str(tmp_path / "k"), "--faults", '{"bogus": 1}'])
    assert result.exit_code == 2
    assert "unknown fault settings: bogus" in result.output
