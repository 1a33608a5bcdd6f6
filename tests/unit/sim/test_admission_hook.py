"""Where the API service runs admission (conveyor.sim.api with conveyor.sim.admission.chain): on the
object as it will be stored, for every kind of write, and not at all while no admission
configuration exists. In-process, against an ApiService (no HTTP)."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor.sim.admission import chain
from conveyor.sim.admission.attributes import AdmissionAttributes
from conveyor.sim.api import ApiService, Request
from conveyor.sim.errors import StatusError

ADMISSION = "admissionregistration.k8s.io"
CONFIGMAPS = ("", "v1", "configmaps")
DEPLOYMENTS = ("apps", "v1", "deployments")


@pytest.fixture
def api() -> ApiService:
    service = ApiService()
    service.bootstrap()
    return service


async def bind(
    api: ApiService, name: str, spec: dict[str, Any], actions: tuple[str, ...] = ("Deny",)
) -> None:
    await api.create((ADMISSION, "v1", "validatingadmissionpolicies"), None,
                     {"metadata": {"name": name}, "spec": spec})
    await api.create((ADMISSION, "v1", "validatingadmissionpolicybindings"), None,
                     {"metadata": {"name": name},
                      "spec": {"policyName": name, "validationActions": list(actions)}})


def rule(group: str, resources: list[str], operations: list[str]) -> dict[str, Any]:
    return {"resourceRules": [{"apiGroups": [group], "apiVersions": ["*"], "operations": operations,
                               "resources": resources}]}


def deployment(name: str, replicas: int = 1) -> dict[str, Any]:
    labels = {"app": name}
    return {"metadata": {"name": name}, "spec": {
        "replicas": replicas, "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}


async def test_without_bindings_or_webhooks_admission_never_runs(
    api: ApiService, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refuse(api: ApiService, attrs: AdmissionAttributes, warnings: list[str]) -> None:
        raise AssertionError("admission ran")

    monkeypatch.setattr(chain, "admit", refuse)
    await api.create((ADMISSION, "v1", "validatingadmissionpolicies"), None,
                     {"metadata": {"name": "unbound"}, "spec": {"validations": [{"expression": "false"}]}})
    await api.create(CONFIGMAPS, "default", {"metadata": {"name": "a"}})
    await api.patch(CONFIGMAPS, "default", "a", {"data": {"k": "v"}}, "merge")
    await api.delete(CONFIGMAPS, "default", "a")
    assert not chain.configured(api.store)


async def test_the_admitted_object_is_the_stored_one(api: ApiService) -> None:
    message = "object.metadata.name + '/' + object.metadata.uid"
    await bind(api, "uid", {"matchConstraints": rule("", ["configmaps"], ["CREATE"]),
                            "validations": [{"expression": "false", "messageExpression": message}]},
               actions=("Warn",))
    req = Request()
    stored = await api.create(CONFIGMAPS, "default", {"metadata": {"generateName": "gen-"}}, req=req)
    meta = stored["metadata"]
    assert req.warnings == [
        "Validation failed for ValidatingAdmissionPolicy 'uid' with binding 'uid': "
        f"{meta['name']}/{meta['uid']}"]


async def test_a_generate_name_create_has_an_empty_request_name(api: ApiService) -> None:
    await bind(api, "named", {"matchConstraints": rule("", ["configmaps"], ["CREATE"]),
                              "validations": [{"expression": "request.name == ''"}]})
    await api.create(CONFIGMAPS, "default", {"metadata": {"generateName": "gen-"}})
    with pytest.raises(StatusError):
        await api.create(CONFIGMAPS, "default", {"metadata": {"name": "plain"}})


async def test_a_denied_write_stores_nothing(api: ApiService) -> None:
    await bind(api, "none", {"matchConstraints": rule("", ["configmaps"], ["CREATE"]),
                             "validations": [{"expression": "false"}]})
    rv = api.store.resource_version
    with pytest.raises(StatusError) as err:
        await api.create(CONFIGMAPS, "default", {"metadata": {"name": "a"}})
    assert err.value.code == 422
    assert api.store.get("", "configmaps", "default", "a") is None
    assert api.store.resource_version == rv


async def test_in_process_writes_are_judged_too(api: ApiService) -> None:
    await bind(api, "admin", {"matchConstraints": rule("", ["configmaps"], ["CREATE"]),
                              "validations": [{"expression": "request.userInfo.username != 'system:admin'"}]})
    with pytest.raises(StatusError):
        await api.create(CONFIGMAPS, "default", {"metadata": {"name": "a"}})


async def test_a_scale_write_is_judged_on_scale_objects(api: ApiService) -> None:
    await api.create(DEPLOYMENTS, "default", deployment("web"))
    await bind(api, "scale", {"matchConstraints": rule("apps", ["deployments/scale"], ["UPDATE"]),
                              "validations": [{"expression": "request.kind.group == 'autoscaling' && "
                                                             "request.kind.kind == 'Scale' && "
                                                             "object.spec.replicas <= 3"}]})
    await api.patch(DEPLOYMENTS, "default", "web", {"spec": {"replicas": 3}}, "merge", subresource="scale")
    with pytest.raises(StatusError):
        await api.patch(DEPLOYMENTS, "default", "web", {"spec": {"replicas": 4}}, "merge",
                        subresource="scale")
    assert api.store.get("apps", "deployments", "default", "web")["spec"]["replicas"] == 3  # type: ignore[index]


async def test_a_namespace_write_names_itself_as_request_namespace(api: ApiService) -> None:
    message = "request.namespace + (namespaceObject == null ? ', none' : ', some')"
    await bind(api, "ns", {"matchConstraints": rule("", ["namespaces"], ["CREATE"]),
                           "validations": [{"expression": "false", "messageExpression": message}]},
               actions=("Warn",))
    req = Request()
    await api.create(("", "v1", "namespaces"), None, {"metadata": {"name": "shop"}}, req=req)
    assert req.warnings == [
        "Validation failed for ValidatingAdmissionPolicy 'ns' with binding 'ns': shop, none"]


async def test_a_status_write_matches_a_star_status_rule_only(api: ApiService) -> None:
    await api.create(DEPLOYMENTS, "default", deployment("web"))
    await bind(api, "status", {"matchConstraints": rule("apps", ["*/status"], ["UPDATE"]),
                               "validations": [{"expression": "request.subResource == 'status' && false"}]})
    await api.patch(DEPLOYMENTS, "default", "web", {"metadata": {"labels": {"a": "b"}}}, "merge")
    with pytest.raises(StatusError):
        await api.patch(DEPLOYMENTS, "default", "web", {"status": {"replicas": 1}}, "merge",
                        subresource="status")


async def test_a_dry_run_is_judged_and_stores_nothing(api: ApiService) -> None:
    await bind(api, "dry", {"matchConstraints": rule("", ["configmaps"], ["CREATE", "UPDATE"]),
                            "validations": [{"expression": "request.dryRun && "
                                                           "request.options.dryRun == ['All']"}]})
    created = await api.create(CONFIGMAPS, "default", {"metadata": {"name": "a"}}, dry_run=True)
    assert created["metadata"]["name"] == "a"
    assert api.store.get("", "configmaps", "default", "a") is None


async def test_each_item_of_a_delete_collection_is_judged(api: ApiService) -> None:
    for name in ("keep", "drop"):
        await api.create(CONFIGMAPS, "default", {"metadata": {"name": name, "labels": {"set": "x"}}})
    await bind(api, "keep", {"matchConstraints": rule("", ["configmaps"], ["DELETE"]),
                             "validations": [{"expression": "oldObject.metadata.name != 'keep'"}]})
    with pytest.raises(StatusError):
        await api.deletecollection(CONFIGMAPS, "default", label_selector="set=x")
    assert api.store.get("", "configmaps", "default", "keep") is not None


async def test_a_removed_binding_stops_admission(api: ApiService) -> None:
    await bind(api, "gone", {"matchConstraints": rule("", ["configmaps"], ["CREATE"]),
                             "validations": [{"expression": "false"}]})
    await api.delete((ADMISSION, "v1", "validatingadmissionpolicybindings"), None, "gone")
    assert not chain.configured(api.store)
    await api.create(CONFIGMAPS, "default", {"metadata": {"name": "a"}})
