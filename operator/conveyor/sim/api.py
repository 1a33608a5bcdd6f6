"""The service layer: every read and write of the sim, with kube-apiserver's semantics, in one place.

The HTTP handlers and the in-process controllers and kubelet both call `ApiService`, so a rule
(defaulting, validation, generation, status subresource, finalizers, namespace lifecycle...) is
written once. All methods must be called on the server's event loop; they do not await between
reading and writing an object, so each call is atomic with respect to the others.

Objects returned to in-process callers are copies they may mutate; the HTTP layer passes a
`Request` with `shared=True` and gets the stored dicts (read-only) to serialise without copying.
Authorization is the HTTP layer's (server.py): a call here is never refused for its caller's rights,
so in-process controllers act as the system.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import random
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from conveyor.sim import aggregation, bootstrap_policy, builtin_schema, crds, patching, reviews, schema
from conveyor.sim.admission import chain as admission
from conveyor.sim.admission.attributes import AdmissionAttributes, Operation
from conveyor.sim.builtin_schema import admission_policies
from conveyor.sim.builtin_schema.defaults import generate_job_selector
from conveyor.sim.errors import (
    StatusError,
    already_exists,
    bad_request,
    cause,
    conflict,
    invalid,
    method_not_allowed,
    not_found,
    unsupported_media_type,
)
from conveyor.sim.identity import IN_PROCESS_USER, UserInfo, user_info
from conveyor.sim.rbac import RBAC, Authorizer
from conveyor.sim.resources import Registry, ResourceType
from conveyor.sim.selectors import (
    compile_filter,
    parse_field_selector,
    parse_label_selector,
    selector_to_string,
)
from conveyor.sim.storage import Store
from conveyor.sim.watch import Item, Watcher, WatchHub, WatchStream

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
# The Service every cluster has in `default`, as kube-apiserver creates it: in-cluster clients
# (and charts that template `kubernetes.default.svc`) find the API server through it.
KUBERNETES_SERVICE: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
    "spec": {
        "type": "ClusterIP",
        "clusterIP": "10.96.0.1",
        "clusterIPs": ["10.96.0.1"],
        "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
        "sessionAffinity": "None",
    },
}
# Built-in kinds whose objects carry metadata.generation (those with a spec a controller observes).
_GENERATION_KINDS = frozenset(
    {
        ("apps", "Deployment"),
        ("apps", "ReplicaSet"),
        ("apps", "StatefulSet"),
        ("apps", "DaemonSet"),
        ("batch", "Job"),
        ("batch", "CronJob"),
        ("", "Pod"),
        ("policy", "PodDisruptionBudget"),
        ("networking.k8s.io", "Ingress"),
        ("networking.k8s.io", "NetworkPolicy"),
        ("autoscaling", "HorizontalPodAutoscaler"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("scheduling.k8s.io", "PriorityClass"),
    }
)
# kube's name-generator alphabet: consonants and digits that cannot spell words.
_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
    "application/apply-patch+json": "apply",
    "application/apply-patch+cbor": "apply",
}

Resource = ResourceType | tuple[str, str, str]


@dataclass
class Request:
    """Per-call context: who asks, warnings to return, and whether results may be shared dicts."""

    user: str = IN_PROCESS_USER
    user_agent: str = ""
    shared: bool = False
    warnings: list[str] = field(default_factory=list)
    # The groups the server settled on (impersonation sets them); None: those `user` implies.
    groups: tuple[str, ...] | None = None

    def user_info(self) -> UserInfo:
        return user_info(self.user) if self.groups is None else UserInfo(self.user, self.groups)


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def clone(obj: Any) -> Any:
    """A deep copy of JSON data; faster than copy.deepcopy for the dict/list/str trees we store."""
    return json.loads(json.dumps(obj))


def _without(obj: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in keys}


def _meta_compare(meta: dict[str, Any]) -> dict[str, Any]:
    return _without(meta, "resourceVersion", "managedFields", "generation")


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal ignoring resourceVersion and managedFields: such a write is a no-op in kube."""
    return _without(a, "metadata") == _without(b, "metadata") and _meta_compare(
        a.get("metadata") or {}
    ) == _meta_compare(b.get("metadata") or {})


RETURNS_DELETED_OBJECT = {("", "pods"), ("", "services")}
"""Kinds whose kube-apiserver storage answers a delete with the deleted object, not a Status (the
official client's typed delete_namespaced_pod fails to read a Status there)."""

class ApiService:
    """kube-apiserver's REST semantics over the store. See the module docstring for the rules."""

    def __init__(
        self,
        store: Store | None = None,
        registry: Registry | None = None,
        ca_pem: str = "",
        token_secret: bytes | None = None,
        bookmark_interval: float = 60.0,
    ) -> None:
        self.store = store or Store()
        self.registry = registry or Registry()
        self.hub = WatchHub(self.store)
        self.authorizer = Authorizer(self.store)
        self.ca_pem = ca_pem
        self.bookmark_interval = bookmark_interval
        # Where clients reach this server (set once it listens): the kubelet puts it into the
        # kubeconfig it gives each Pod.
        self.server_url: str | None = None
        self._token_secret = token_secret or secrets.token_bytes(32)
        self._service_ips = 10
        # Hooks the garbage collector and CRD lifecycle register to hear about deletions.
        self.on_commit: list[Callable[[], None]] = []
        for crd in self.store.objects("apiextensions.k8s.io", "customresourcedefinitions"):
            if crds.is_established(crd):
                self.registry.set_custom(*crds.key_of(crd), crds.types_for(crd))

    # ---- bootstrap -------------------------------------------------------------------------------

    def bootstrap(self) -> None:
        """A fresh cluster's namespaces, each with its default ServiceAccount and root CA ConfigMap."""
        rt = self.resource(("", "v1", "namespaces"))
        for name in SYSTEM_NAMESPACES:
            if self.store.get("", "namespaces", "", name) is None:
                self._create(
                    rt,
                    None,
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
                    Request(),
                    "kube-apiserver",
                    "Ignore",
                    False,
                )
            else:
                self._namespace_defaults(name)
        self._bootstrap_policy()
        if self.store.get("", "services", "default", "kubernetes") is None:
            self._create(
                self.resource(("", "v1", "services")),
                "default",
                clone(KUBERNETES_SERVICE),
                Request(),
                "kube-apiserver",
                "Ignore",
                False,
            )

    def _bootstrap_policy(self) -> None:
        """kube's bootstrap ClusterRoles and bindings (bootstrap_policy.py), those missing only; an
        aggregated role is created with the rules it aggregates, so it is whole from the start."""
        roles_rt = self.resource((RBAC, "v1", "clusterroles"))
        missing = [role for role in bootstrap_policy.cluster_roles()
                   if self.store.get(RBAC, "clusterroles", "", role["metadata"]["name"]) is None]
        if missing:
            rules = aggregation.aggregated_rules([*self.store.objects(RBAC, "clusterroles"), *missing])
            for role in missing:
                name = role["metadata"]["name"]
                if name in rules:
                    role["rules"] = rules[name]
                self._create(roles_rt, None, role, Request(), "kube-apiserver", "Ignore", False)
        bindings_rt = self.resource((RBAC, "v1", "clusterrolebindings"))
        for binding in bootstrap_policy.cluster_role_bindings():
            if self.store.get(RBAC, "clusterrolebindings", "", binding["metadata"]["name"]) is None:
                self._create(bindings_rt, None, binding, Request(), "kube-apiserver", "Ignore", False)

    # ---- service accounts and tokens -------------------------------------------------------------

    def token_for_service_account(self, namespace: str, name: str) -> str:
        """A bearer token that authenticates as system:serviceaccount:<namespace>:<name>."""
        subject = base64.urlsafe_b64encode(f"{namespace}:{name}".encode()).decode().rstrip("=")
        mac = hmac.new(self._token_secret, subject.encode(), hashlib.sha256).hexdigest()[:32]
        return f"sa.{subject}.{mac}"

    def user_for_token(self, token: str) -> str | None:
        """The service account user a token was issued for, or None when it is not one of ours."""
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != "sa":
            return None
        mac = hmac.new(self._token_secret, parts[1].encode(), hashlib.sha256).hexdigest()[:32]
        if not hmac.compare_digest(mac, parts[2]):
            return None
        try:
            subject = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        namespace, _, name = subject.partition(":")
        return f"system:serviceaccount:{namespace}:{name}"

    # ---- resolution ------------------------------------------------------------------------------

    def resource(self, res: Resource) -> ResourceType:
        if isinstance(res, ResourceType):
            return res
        rt = self.registry.get(*res)
        if rt is None:
            raise StatusError(404, "NotFound", "the server could not find the requested resource", {})
        return rt

    def _scope(self, rt: ResourceType, namespace: str | None) -> str:
        if rt.namespaced:
            if not namespace:
                raise bad_request("the server could not find the requested resource: namespace is required")
            return namespace
        return ""

    def _out(self, rt: ResourceType, obj: dict[str, Any], req: Request) -> dict[str, Any]:
        if obj.get("apiVersion") != rt.group_version:
            obj = {**obj, "apiVersion": rt.group_version}
        return obj if req.shared else clone(obj)

    # ---- reads -----------------------------------------------------------------------------------

    async def get(
        self,
        res: Resource,
        namespace: str | None,
        name: str,
        subresource: str | None = None,
        req: Request | None = None,
    ) -> dict[str, Any]:
        rt, req = self.resource(res), req or Request()
        obj = self.store.get(rt.group, rt.plural, self._scope(rt, namespace), name)
        if obj is None:
            raise not_found(rt.plural, rt.group, name)
        if subresource == "scale":
            return self._scale_of(rt, obj)
        if subresource not in (None, "status"):
            raise not_found(rt.plural, rt.group, name)
        return self._out(rt, obj, req)

    async def list(
        self,
        res: Resource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_: str | None = None,
        resource_version: str | None = None,
        resource_version_match: str | None = None,
        req: Request | None = None,
    ) -> dict[str, Any]:
        """A `<Kind>List`, sorted by namespace and name, paginated with kube's continue tokens."""
        rt, req = self.resource(res), req or Request()
        matcher = self._matcher(rt, label_selector, field_selector)
        rv = self.store.resource_version
        start = ""
        if continue_:
            start, rv = _decode_continue(continue_)
        name = parse_field_selector(field_selector).single_name() if field_selector else None
        scope = namespace if rt.namespaced else None
        if name is not None:
            one = (
                self.store.get(rt.group, rt.plural, scope or "", name) if scope or not rt.namespaced else None
            )
            candidates = (
                [one]
                if one is not None
                else (
                    [
                        o
                        for o in self.store.objects(rt.group, rt.plural, scope)
                        if o["metadata"]["name"] == name
                    ]
                    if one is None and scope is None
                    else []
                )
            )
        else:
            candidates = self.store.objects(rt.group, rt.plural, scope)
        items: list[dict[str, Any]] = []
        remaining = 0
        next_key = None
        for obj in candidates:
            meta = obj["metadata"]
            key = f"{meta.get('namespace', '')}/{meta['name']}"
            if start and key < start:
                continue
            if matcher is not None and not matcher(obj):
                continue
            if limit and len(items) >= limit:
                if next_key is None:
                    next_key = key
                remaining += 1
                continue
            items.append(self._out(rt, obj, req))
        meta_out: dict[str, Any] = {"resourceVersion": str(rv)}
        if next_key is not None:
            meta_out["continue"] = _encode_continue(next_key, rv)
            if matcher is None:
                meta_out["remainingItemCount"] = remaining
        return {"kind": rt.list_kind, "apiVersion": rt.group_version, "metadata": meta_out, "items": items}

    def _matcher(
        self, rt: ResourceType, label_selector: str | None, field_selector: str | None
    ) -> Callable[[dict[str, Any]], bool] | None:
        custom = frozenset(
            f["jsonPath"].lstrip(".") for f in (rt.crd_version or {}).get("selectableFields") or ()
        )
        return compile_filter(
            parse_label_selector(label_selector),
            parse_field_selector(field_selector, rt.group, rt.kind, custom),
        )

    async def watch(
        self,
        res: Resource,
        namespace: str | None = None,
        *,
        name: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resource_version: str | None = None,
        resource_version_match: str | None = None,
        allow_bookmarks: bool = False,
        send_initial_events: bool | None = None,
        timeout_seconds: float | None = None,
        copies: bool = True,
    ) -> WatchStream:
        """Start a watch. Registration and the initial snapshot happen with no await in between, so
        no event can fall between the snapshot (or the history replay) and the live stream."""
        rt = self.resource(res)
        matcher = self._matcher(rt, label_selector, field_selector)
        if field_selector and name is None:
            name = parse_field_selector(field_selector).single_name()
        scope = namespace if rt.namespaced and namespace else None
        watcher = Watcher(self.hub, rt.key, scope, name, matcher, rt.group_version, rt.kind, allow_bookmarks)
        initial: list[Item] = []
        rv_now = self.store.resource_version
        if send_initial_events and not allow_bookmarks:
            raise invalid(
                "ListOptions",
                "meta.k8s.io",
                "",
                [
                    cause(
                        "allowWatchBookmarks",
                        "sendInitialEvents requires setting allowWatchBookmarks=true",
                        "FieldValueRequired",
                    )
                ],
            )
        if send_initial_events or resource_version in (None, "", "0"):
            if send_initial_events is not False:
                for obj in self.store.objects(rt.group, rt.plural, scope):
                    if watcher._matches(obj):
                        initial.append(("ADDED", obj, None))
            if send_initial_events:
                initial.append(watcher.bookmark(rv_now, initial_events_end=True))
        else:
            try:
                since = int(resource_version)
            except ValueError:
                raise bad_request(f"invalid resource version: {resource_version}") from None
            for event in self.store.events_since(rt.group, rt.plural, since):
                watcher.offer(event)
        self.hub.add(watcher)
        timeout = timeout_seconds if timeout_seconds else 1800.0
        return WatchStream(watcher, initial, timeout, self.bookmark_interval, copies)

    # ---- create ----------------------------------------------------------------------------------

    async def create(
        self,
        res: Resource,
        namespace: str | None,
        body: dict[str, Any],
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        field_manager: str | None = None,
        field_validation: str | None = None,
        req: Request | None = None,
    ) -> dict[str, Any]:
        rt, req = self.resource(res), req or Request()
        if subresource is not None:
            return await self._create_subresource(rt, namespace, body, subresource, req)
        if "create" not in rt.verbs:
            raise method_not_allowed()
        obj = body if req.shared else clone(body)
        if reviews.is_review(rt):
            if not isinstance(obj, dict):
                raise bad_request("Object 'Kind' is missing in the request body")
            self._check_type(rt, obj)
            return reviews.answer(rt, namespace if rt.namespaced else None, obj, req.user_info(),
                                  self.authorizer)
        manager = field_manager or _manager_from_agent(req.user_agent)
        validation = field_validation or "Warn"
        if self._admission_applies(rt):
            options = _options("CreateOptions", dry_run, fieldManager=manager, fieldValidation=validation)
            built = await self._create_admitted(
                rt, namespace, obj, req, manager, validation, dry_run, options
            )
            return self._out(rt, built, req)
        return self._out(rt, self._create(rt, namespace, obj, req, manager, validation, dry_run), req)

    def _create(
        self,
        rt: ResourceType,
        namespace: str | None,
        obj: dict[str, Any],
        req: Request,
        manager: str | None,
        validation: str,
        dry_run: bool,
    ) -> dict[str, Any]:
        """`manager` None: managedFields were already computed (server-side apply)."""
        if not isinstance(obj, dict):
            raise bad_request("Object 'Kind' is missing in the request body")
        self._check_type(rt, obj)
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            meta = obj["metadata"] = {}
        ns = self._scope(rt, namespace or meta.get("namespace"))
        if rt.namespaced:
            if meta.get("namespace") and meta["namespace"] != ns:
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = ns
            self._check_namespace_open(rt, ns, meta.get("name") or "")
        else:
            meta.pop("namespace", None)
        self._decode(rt, obj, req, validation)
        for key in (
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
            "generation",
        ):
            meta.pop(key, None)
        if "status" in rt.subresources and not (rt.group == "" and rt.kind == "Namespace"):
            obj.pop("status", None)
        self._prepare_create(rt, obj)
        self._validate(rt, obj, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_iso()
        if rt.is_custom or (rt.group, rt.kind) in _GENERATION_KINDS:
            meta["generation"] = 1
        if not meta.get("name"):
            if not meta.get("generateName"):
                raise invalid(
                    rt.kind,
                    rt.group,
                    "",
                    [cause("metadata.name", "name or generateName is required", "FieldValueRequired")],
                )
            meta["name"] = self._generate_name(rt, ns, meta["generateName"])
        elif self.store.get(rt.group, rt.plural, ns, meta["name"]) is not None:
            raise already_exists(rt.plural, rt.group, meta["name"])
        if (rt.group, rt.kind) == ("batch", "Job"):
            generate_job_selector(obj)
        if manager is not None:
            self._track(rt, None, obj, manager, "Update", None)
        if rt.is_custom and obj.get("apiVersion") != self._storage_version(rt):
            obj["apiVersion"] = self._storage_version(rt)
        if dry_run:
            return obj
        return self._commit_create(rt, obj)

    def _commit_create(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        stored = self.store.create(rt.group, rt.plural, obj)
        self._after_write(rt, stored, None)
        return stored

    def _generate_name(self, rt: ResourceType, ns: str, prefix: str) -> str:
        for _ in range(8):
            name = prefix + "".join(random.choice(_GENERATE_ALPHABET) for _ in range(5))
            if self.store.get(rt.group, rt.plural, ns, name) is None:
                return name
        raise StatusError(
            409,
            "AlreadyExists",
            f'{rt.plural} "{prefix}" already exists, the server was not '
            "able to generate a unique name for the object",
            {"name": prefix, "group": rt.group, "kind": rt.plural},
        )

    def _check_type(self, rt: ResourceType, obj: dict[str, Any], required: bool = False) -> None:
        """A body may omit kind and apiVersion (the URL implies them), except an apply patch."""
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if not kind and required:
            raise bad_request("Object 'Kind' is missing in the request body")
        kind = kind or rt.kind
        api_version = api_version or rt.group_version
        obj["kind"] = kind
        if kind != rt.kind or api_version != rt.group_version:
            raise bad_request(
                f"the API version in the data ({api_version}) does not match the expected API "
                f"version ({rt.group_version})"
                if api_version != rt.group_version
                else f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})"
            )
        obj["apiVersion"] = rt.group_version

    def _check_namespace_open(self, rt: ResourceType, ns: str, name: str) -> None:
        nsobj = self.store.get("", "namespaces", "", ns)
        if nsobj is None:
            raise not_found("namespaces", "", ns)
        if (
            nsobj["metadata"].get("deletionTimestamp")
            or (nsobj.get("status") or {}).get("phase") == "Terminating"
        ):
            message = f"unable to create new content in namespace {ns} because it is being terminated"
            raise StatusError(
                403,
                "Forbidden",
                f"{rt.plural}{f' {chr(34)}{name}{chr(34)}' if name else ''} is forbidden: {message}",
                {
                    "name": name,
                    "group": rt.group,
                    "kind": rt.plural,
                    "causes": [
                        {"reason": "NamespaceTerminating", "message": message, "field": "metadata.namespace"}
                    ],
                },
            )

    def _decode(self, rt: ResourceType, obj: dict[str, Any], req: Request, validation: str) -> None:
        """Unknown fields (pruned for custom resources), then defaults: what decoding does in kube."""
        unknown: list[str] = []
        if rt.is_custom:
            structural = rt.schema
            if structural is not None:
                unknown = schema.prune(obj, structural)
                schema.apply_defaults(obj, structural)
        else:
            unknown = builtin_schema.unknown_fields(rt.group, rt.version, rt.kind, obj)
        if unknown:
            if validation == "Strict":
                raise bad_request(
                    f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
                    "strict decoding error: " + ", ".join(f'unknown field "{p}"' for p in unknown)
                )
            if validation == "Warn":
                req.warnings.extend(f'unknown field "{p}"' for p in unknown)
        if not rt.is_custom:
            builtin_schema.apply_builtin_defaults(rt, obj)

    def _validate(self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        causes: list[dict[str, str]] = []
        causes.extend(builtin_schema.validate_metadata(obj, rt.namespaced))
        if rt.is_custom:
            if rt.schema is not None:
                causes.extend(schema.validate(obj, rt.schema))
        else:
            causes.extend(builtin_schema.validate_builtin(rt, obj))
            if (rt.group, rt.kind) == admission_policies.KEY:
                causes.extend(admission_policies.validate_policy_expressions(obj))
        if rt.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
            causes.extend(crds.validate(obj, old))
        if old is not None and old["metadata"].get("deletionTimestamp"):
            added = set(obj["metadata"].get("finalizers") or ()) - set(
                old["metadata"].get("finalizers") or ()
            )
            if added:
                causes.append(
                    cause(
                        "metadata.finalizers",
                        "no new finalizers can be added if the object is "
                        "being deleted, found new finalizers " + json.dumps(sorted(added)),
                        "FieldValueForbidden",
                    )
                )
        if causes:
            raise invalid(rt.kind, rt.group, obj["metadata"].get("name") or "", causes)

    def _prepare_create(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        """Per-kind fields the apiserver's create strategies set."""
        kind = (rt.group, rt.kind)
        if kind == ("", "Namespace"):
            name = obj["metadata"].get("name") or ""
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
            obj.setdefault("spec", {})["finalizers"] = ["kubernetes"]
            obj["status"] = {"phase": "Active"}
        elif kind == ("", "Pod"):
            obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
        elif kind == ("", "Service"):
            spec = obj.setdefault("spec", {})
            if spec.get("type", "ClusterIP") != "ExternalName" and not spec.get("clusterIP"):
                self._service_ips += 1
                ip = f"10.96.{self._service_ips // 250}.{self._service_ips % 250 + 1}"
                spec["clusterIP"], spec["clusterIPs"] = ip, [ip]
            obj["status"] = {"loadBalancer": {}}
        elif kind == ("apiextensions.k8s.io", "CustomResourceDefinition"):
            crds.prepare(obj)
        elif kind in (
            ("apps", "Deployment"),
            ("apps", "ReplicaSet"),
            ("apps", "StatefulSet"),
            ("batch", "Job"),
            ("apps", "DaemonSet"),
        ):
            obj["status"] = {}

    def _storage_version(self, rt: ResourceType) -> str:
        st = self.registry.storage_type(rt.group, rt.plural)
        return st.group_version if st is not None else rt.group_version

    def _track(
        self,
        rt: ResourceType,
        old: dict[str, Any] | None,
        new: dict[str, Any],
        manager: str,
        operation: str,
        subresource: str | None,
    ) -> None:
        tracked = patching.track_update(old, new, manager, operation, subresource)
        if tracked is not new:
            new.clear()
            new.update(tracked)

    def _after_write(self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if rt.key == ("", "namespaces") and old is None:
            self._namespace_defaults(obj["metadata"]["name"])
        elif (
            rt.key == ("apiextensions.k8s.io", "customresourcedefinitions")
            and crds.is_established(obj)
            and not obj["metadata"].get("deletionTimestamp")
        ):
            self.registry.set_custom(*crds.key_of(obj), crds.types_for(obj))
        for hook in self.on_commit:
            hook()

    def _namespace_defaults(self, ns: str) -> None:
        """What kube's controllers add to every namespace: a default ServiceAccount, the root CA."""
        if self.store.get("", "serviceaccounts", ns, "default") is None:
            self._create(
                self.resource(("", "v1", "serviceaccounts")),
                ns,
                {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}},
                Request(),
                "kube-controller-manager",
                "Ignore",
                False,
            )
        if self.store.get("", "configmaps", ns, ROOT_CA_CONFIGMAP) is None:
            self._create(
                self.resource(("", "v1", "configmaps")),
                ns,
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {
                        "name": ROOT_CA_CONFIGMAP,
                        "annotations": {
                            "kubernetes.io/description": (
                                "Contains a CA bundle that can be used to verify the "
                                "kube-apiserver when using internal endpoints such as the "
                                "internal service IP or kubernetes.default.svc. No other usage "
                                "is guaranteed across distributions of Kubernetes clusters."
                            )
                        },
                    },
                    "data": {"ca.crt": self.ca_pem},
                },
                Request(),
                "kube-controller-manager",
                "Ignore",
                False,
            )

    async def _create_subresource(
        self, rt: ResourceType, namespace: str | None, body: dict[str, Any], subresource: str, req: Request
    ) -> dict[str, Any]:
        if rt.key == ("", "serviceaccounts") and subresource == "token":
            ns = self._scope(rt, namespace)
            name = (body.get("metadata") or {}).get("name") or ""
            sa = self.store.get("", "serviceaccounts", ns, name)
            if sa is None:
                raise not_found("serviceaccounts", "", name)
            expiry = dt.datetime.now(dt.UTC) + dt.timedelta(
                seconds=int((body.get("spec") or {}).get("expirationSeconds") or 3600)
            )
            return {
                "kind": "TokenRequest",
                "apiVersion": "authentication.k8s.io/v1",
                "metadata": {"name": name, "namespace": ns, "creationTimestamp": None},
                "spec": {**(body.get("spec") or {})},
                "status": {
                    "token": self.token_for_service_account(ns, name),
                    "expirationTimestamp": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
                },
            }
        raise method_not_allowed()

    # ---- update and patch ------------------------------------------------------------------------

    async def update(
        self,
        res: Resource,
        namespace: str | None,
        name: str,
        body: dict[str, Any],
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        field_manager: str | None = None,
        field_validation: str | None = None,
        req: Request | None = None,
    ) -> dict[str, Any]:
        rt, req = self.resource(res), req or Request()
        if "update" not in rt.verbs:
            raise method_not_allowed()
        admitted = self._admission_applies(rt)
        # Under admission a write may have to start over (see _update_admitted): keep `body` intact.
        new = body if req.shared and not admitted else clone(body)
        if not isinstance(new, dict):
            raise bad_request("Object 'Kind' is missing in the request body")
        ns = self._scope(rt, namespace)
        old = self.store.get(rt.group, rt.plural, ns, name)
        if old is None:
            raise not_found(rt.plural, rt.group, name)
        manager = field_manager or _manager_from_agent(req.user_agent)
        options = (
            _options("UpdateOptions", dry_run, fieldManager=manager, fieldValidation=field_validation)
            if admitted else None
        )
        mark, request = len(req.warnings), req

        async def start_over() -> dict[str, Any]:
            """The object changed while admission ran: redo the write, as kube's GuaranteedUpdate does."""
            del request.warnings[mark:]
            return await self.update(
                res, namespace, name, body, subresource=subresource, dry_run=dry_run,
                field_manager=field_manager, field_validation=field_validation, req=request,
            )

        if subresource == "scale":
            if not admitted:
                return self._write_scale(rt, old, new, req, manager, dry_run)
            scale = await self._scale_admitted(rt, old, new, req, manager, dry_run, options)
            return scale if scale is not None else await start_over()
        self._check_subresource(rt, subresource, name)
        meta = new.get("metadata") or {}
        if meta.get("name") and meta["name"] != name:
            raise bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
            )
        if rt.namespaced and meta.get("namespace") and meta["namespace"] != ns:
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        expected = meta.get("resourceVersion") or None
        if expected is None and rt.is_custom:
            raise invalid(
                rt.kind,
                rt.group,
                name,
                [cause("metadata.resourceVersion", "must be specified for an update", "FieldValueInvalid")],
            )
        self._check_type(rt, new)
        self._decode(rt, new, req, field_validation or "Warn")
        if not admitted:
            return self._out(
                rt, self._update(rt, old, new, subresource, manager, "Update", expected, dry_run), req
            )
        stored = await self._update_admitted(
            rt, old, new, subresource, manager, "Update", expected, dry_run, req, options
        )
        return self._out(rt, stored, req) if stored is not None else await start_over()

    def _check_subresource(self, rt: ResourceType, subresource: str | None, name: str) -> None:
        if subresource is not None and subresource not in rt.subresources:
            raise not_found(rt.plural, rt.group, name)

    def _update(
        self,
        rt: ResourceType,
        old: dict[str, Any],
        new: dict[str, Any],
        subresource: str | None,
        manager: str | None,
        operation: str,
        expected_rv: str | None,
        dry_run: bool,
    ) -> dict[str, Any]:
        """The one write path for PUT, PATCH, status writes and the server's own updates.

        `manager` None: managedFields were already computed (server-side apply)."""
        old_meta = old["metadata"]
        meta = new.get("metadata")
        if not isinstance(meta, dict):
            meta = new["metadata"] = {}
        if expected_rv is not None and expected_rv != old_meta["resourceVersion"]:
            raise conflict(rt.plural, rt.group, old_meta["name"])
        if subresource == "status":
            status = new.get("status")
            managed = meta.get("managedFields")
            new = clone(old)
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
            if managed is not None:
                new["metadata"]["managedFields"] = managed
            meta = new["metadata"]
        elif "status" in rt.subresources:
            if "status" in old:
                new["status"] = clone(old["status"])
            else:
                new.pop("status", None)
        if rt.key == ("apiextensions.k8s.io", "customresourcedefinitions") and subresource != "status":
            crds.set_status(new, old)
        for key in (
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ):
            if key in old_meta:
                meta[key] = old_meta[key]
            else:
                meta.pop(key, None)
        if rt.key == ("", "namespaces") and subresource != "status":
            new["spec"] = clone(old.get("spec") or {})  # namespace finalizers change through /finalize only
        new["apiVersion"] = old.get("apiVersion", rt.group_version)
        if "generation" in old_meta and self._spec_changed(rt, old, new):
            meta["generation"] = old_meta["generation"] + 1
        self._validate(rt, new, old)
        if self._ends_deletion(rt, old, new):
            if dry_run:
                return new
            return self._remove(rt, new, old)
        if _same(new, old):
            return old
        if manager is not None:
            self._track(rt, old, new, manager, operation, subresource)
        if dry_run:
            return new
        stored = self.store.update(rt.group, rt.plural, new, old_meta["resourceVersion"])
        self._after_write(rt, stored, old)
        return stored

    def _ends_deletion(self, rt: ResourceType, old: dict[str, Any], new: dict[str, Any]) -> bool:
        """An update of an object being deleted that drops its last finalizer removes it."""
        return bool(
            old["metadata"].get("deletionTimestamp")
            and not new["metadata"].get("finalizers")
            and not self._graceful_pending(rt, old)
        )

    def _graceful_pending(self, rt: ResourceType, obj: dict[str, Any]) -> bool:
        """A pod being deleted gracefully waits for its kubelet even once its finalizers are gone."""
        if rt.key == ("", "namespaces"):
            return bool((obj.get("spec") or {}).get("finalizers"))
        return rt.key == ("", "pods") and bool(obj["metadata"].get("deletionGracePeriodSeconds"))

    def _spec_changed(self, rt: ResourceType, old: dict[str, Any], new: dict[str, Any]) -> bool:
        if rt.is_custom:
            return _without(old, "metadata", "status", "apiVersion") != _without(
                new, "metadata", "status", "apiVersion"
            )
        return old.get("spec") != new.get("spec")

    async def patch(
        self,
        res: Resource,
        namespace: str | None,
        name: str,
        patch: Any,
        patch_type: str,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        field_manager: str | None = None,
        field_validation: str | None = None,
        force: bool = False,
        req: Request | None = None,
    ) -> dict[str, Any]:
        """`patch_type` is a PATCH content type or one of json/merge/strategic/apply."""
        rt, req = self.resource(res), req or Request()
        if "patch" not in rt.verbs:
            raise method_not_allowed()
        kind = PATCH_TYPES.get(patch_type, patch_type)
        if kind not in ("json", "merge", "strategic", "apply"):
            raise unsupported_media_type(patch_type)
        if kind == "strategic" and rt.is_custom:
            raise unsupported_media_type(patch_type)
        if kind == "apply" and not field_manager:
            raise bad_request(
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is '
                "required for apply patch"
            )
        manager = field_manager or _manager_from_agent(req.user_agent)
        validation = field_validation or "Warn"
        ns = self._scope(rt, namespace)
        self._check_subresource(rt, subresource, name)
        old = self.store.get(rt.group, rt.plural, ns, name)
        admitted = self._admission_applies(rt)
        options = (
            _options("PatchOptions", dry_run, fieldManager=field_manager, fieldValidation=field_validation,
                     force=force if kind == "apply" else None)
            if admitted else None
        )
        mark, request = len(req.warnings), req

        async def start_over() -> dict[str, Any]:
            """The object changed while admission ran: redo the patch, as kube's GuaranteedUpdate does."""
            del request.warnings[mark:]
            return await self.patch(
                res, namespace, name, patch, patch_type, subresource=subresource, dry_run=dry_run,
                field_manager=field_manager, field_validation=field_validation, force=force, req=request,
            )

        if old is None:
            if kind != "apply" or subresource is not None:
                raise not_found(rt.plural, rt.group, name)
            applied = clone(patch)
            if isinstance(applied, dict):
                applied.setdefault("metadata", {}).setdefault("name", name)
            self._check_type(rt, applied, required=True)
            obj = patching.server_side_apply(None, applied, manager, force, rt.group, rt.kind, None)
            obj["metadata"].pop("resourceVersion", None)
            if admitted:
                obj = await self._create_admitted(rt, ns, obj, req, None, validation, dry_run, options)
            else:
                obj = self._create_applied(rt, ns, obj, req, validation, dry_run)
            return self._out(rt, obj, req)
        base: dict[str, Any] = self._scale_of(rt, old) if subresource == "scale" else old
        patched = self._apply_patch(rt, base, patch, kind, manager, force, subresource)
        if not isinstance(patched, dict):
            raise bad_request("patched object is not a JSON object")
        if subresource == "scale":
            if not admitted:
                return self._write_scale(rt, old, patched, req, manager, dry_run)
            scale = await self._scale_admitted(rt, old, patched, req, manager, dry_run, options)
            return scale if scale is not None else await start_over()
        if kind == "apply":
            self._check_type(rt, patched)
        expected = (patched.get("metadata") or {}).get("resourceVersion") or None
        if isinstance(patch, dict) and not (patch.get("metadata") or {}).get("resourceVersion"):
            expected = None
        self._decode(rt, patched, req, validation)
        operation = "Apply" if kind == "apply" else "Update"
        if admitted:
            # Apply: server_side_apply already recorded ownership (manager None keeps it).
            stored = await self._update_admitted(
                rt, old, patched, subresource, None if kind == "apply" else manager, operation, expected,
                dry_run, req, options,
            )
            return self._out(rt, stored, req) if stored is not None else await start_over()
        if kind == "apply":
            # server_side_apply already recorded ownership; keep it rather than re-tracking as Update.
            return self._out(rt, self._update_applied(rt, old, patched, subresource, expected, dry_run), req)
        return self._out(
            rt, self._update(rt, old, patched, subresource, manager, operation, expected, dry_run), req
        )

    def _apply_patch(
        self,
        rt: ResourceType,
        base: dict[str, Any],
        patch: Any,
        kind: str,
        manager: str,
        force: bool,
        subresource: str | None,
    ) -> Any:
        if kind == "merge":
            return patching.merge_patch(base, patch)
        if kind == "json":
            if not isinstance(patch, list):
                raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
            return patching.json_patch(base, patch)
        if kind == "strategic":
            if not isinstance(patch, dict):
                raise bad_request("unable to unmarshal strategic merge patch: not an object")
            return patching.strategic_merge_patch(base, patch, rt.group, rt.kind)
        if not isinstance(patch, dict):
            raise bad_request("error decoding YAML: apply patch is not an object")
        applied = clone(patch)
        self._check_type(rt, applied, required=True)
        return patching.server_side_apply(base, applied, manager, force, rt.group, rt.kind, subresource)

    def _create_applied(
        self, rt: ResourceType, ns: str, obj: dict[str, Any], req: Request, validation: str, dry_run: bool
    ) -> dict[str, Any]:
        return self._create(rt, ns, obj, req, None, validation, dry_run)

    def _update_applied(
        self,
        rt: ResourceType,
        old: dict[str, Any],
        new: dict[str, Any],
        subresource: str | None,
        expected: str | None,
        dry_run: bool,
    ) -> dict[str, Any]:
        return self._update(rt, old, new, subresource, None, "Apply", expected, dry_run)

    # ---- admission -------------------------------------------------------------------------------
    # A write under admission is built whole without being stored (the dry-run path: defaults,
    # patches, managedFields, a generated name), judged by admission.chain, then stored exactly as
    # built. Nothing is awaited between building and storing when only policies judge it; a webhook
    # call may let another write in, so an update re-checks that the object is still the one it was
    # built from, and starts over when it is not (a 409 Conflict if the client gave a
    # resourceVersion), as kube-apiserver's GuaranteedUpdate does.

    def _admission_applies(self, rt: ResourceType) -> bool:
        """Asked on every write, so O(1): no configuration stored means no admission work at all."""
        return admission.configured(self.store) and not admission.exempt(rt)

    async def _admit(
        self,
        rt: ResourceType,
        operation: Operation,
        subresource: str | None,
        obj: dict[str, Any] | None,
        old: dict[str, Any] | None,
        req: Request,
        dry_run: bool,
        options: dict[str, Any] | None,
        *,
        name: str | None = None,
        kind: tuple[str, str, str] | None = None,
    ) -> None:
        """Runs the admission chain; its warnings join the response's (the error's too: a refusal
        raises StatusError after they are added). `kind`: (group, version, kind) of an object that
        is not the resource's own, such as a Scale."""
        meta = (obj if obj is not None else old or {}).get("metadata") or {}
        if rt.namespaced:
            namespace = meta.get("namespace") or ""
        elif rt.key == ("", "namespaces"):
            namespace = meta.get("name") or ""  # kube gives a Namespace its own name as request namespace
        else:
            namespace = ""
        attrs = AdmissionAttributes(
            operation=operation,
            group=rt.group,
            version=rt.version,
            resource=rt.plural,
            subresource=subresource or "",
            kind=kind[2] if kind else rt.kind,
            kind_group=kind[0] if kind else None,
            kind_version=kind[1] if kind else None,
            namespace=namespace,
            name=(meta.get("name") or "") if name is None else name,
            object=obj,
            old_object=old,
            user=req.user_info(),
            dry_run=dry_run,
            options=options,
            uid=str(uuid.uuid4()),
        )
        found: list[str] = []
        try:
            await admission.admit(self, attrs, found)
        finally:
            # A write that starts over is judged again: its warnings are sent once, as kube dedupes.
            req.warnings.extend(w for w in dict.fromkeys(found) if w not in req.warnings)

    async def _create_admitted(
        self,
        rt: ResourceType,
        namespace: str | None,
        obj: dict[str, Any],
        req: Request,
        manager: str | None,
        validation: str,
        dry_run: bool,
        options: dict[str, Any] | None,
    ) -> dict[str, Any]:
        # kube names the request after the body's name: empty for a generateName create.
        requested = ((obj.get("metadata") if isinstance(obj, dict) else None) or {}).get("name") or ""
        built = self._create(rt, namespace, obj, req, manager, validation, True)
        await self._admit(rt, "CREATE", None, built, None, req, dry_run, options, name=str(requested))
        if dry_run:
            return built
        meta = built["metadata"]
        if rt.namespaced:
            self._check_namespace_open(rt, meta["namespace"], meta["name"])
        return self._commit_create(rt, built)

    async def _update_admitted(
        self,
        rt: ResourceType,
        old: dict[str, Any],
        new: dict[str, Any],
        subresource: str | None,
        manager: str | None,
        operation: str,
        expected: str | None,
        dry_run: bool,
        req: Request,
        options: dict[str, Any] | None,
    ) -> dict[str, Any] | None:
        """The stored (or, dry run, would-be) object; None when the caller must start over."""
        built = self._update(rt, old, new, subresource, manager, operation, expected, True)
        await self._admit(rt, "UPDATE", subresource, built, old, req, dry_run, options)
        if dry_run:
            return built
        if not self._unchanged(rt, old, expected):
            return None
        if built is old:  # a no-op write: nothing to store
            return old
        if self._ends_deletion(rt, old, built):
            return self._remove(rt, built, old)
        stored = self.store.update(rt.group, rt.plural, built, old["metadata"]["resourceVersion"])
        self._after_write(rt, stored, old)
        return stored

    async def _scale_admitted(
        self,
        rt: ResourceType,
        old: dict[str, Any],
        scale: dict[str, Any],
        req: Request,
        manager: str,
        dry_run: bool,
        options: dict[str, Any] | None,
    ) -> dict[str, Any] | None:
        """A scale write is judged on Scale objects (autoscaling/v1), as kube shows it to admission."""
        would = self._write_scale(rt, old, scale, req, manager, True)
        await self._admit(rt, "UPDATE", "scale", would, self._scale_of(rt, old), req, dry_run, options,
                          kind=("autoscaling", "v1", "Scale"))
        if dry_run:
            return would
        expected = (scale.get("metadata") or {}).get("resourceVersion") or None
        if not self._unchanged(rt, old, expected):
            return None
        return self._write_scale(rt, old, scale, req, manager, False)

    def _unchanged(self, rt: ResourceType, old: dict[str, Any], expected: str | None) -> bool:
        """Whether `old` is still what is stored; a 409 when not and the client named a version."""
        meta = old["metadata"]
        if self.store.get(rt.group, rt.plural, meta.get("namespace") or "", meta["name"]) is old:
            return True
        if expected is not None:
            raise conflict(rt.plural, rt.group, meta["name"])
        return False

    # ---- scale -----------------------------------------------------------------------------------

    def _scale_paths(self, rt: ResourceType) -> tuple[str, str, str | None]:
        if rt.is_custom:
            scale = ((rt.crd_version or {}).get("subresources") or {}).get("scale") or {}
            return (
                scale.get("specReplicasPath", ".spec.replicas"),
                scale.get("statusReplicasPath", ".status.replicas"),
                scale.get("labelSelectorPath"),
            )
        return (".spec.replicas", ".status.replicas", ".spec.selector")

    def _scale_of(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        if "scale" not in rt.subresources:
            raise not_found(rt.plural, rt.group, obj["metadata"]["name"])
        spec_path, status_path, selector_path = self._scale_paths(rt)
        meta = obj["metadata"]
        status: dict[str, Any] = {"replicas": _get_path(obj, status_path) or 0}
        selector = _get_path(obj, selector_path) if selector_path else None
        if isinstance(selector, dict):
            selector = selector_to_string(selector)
        if selector:
            status["selector"] = selector
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                k: meta[k]
                for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                if k in meta
            },
            "spec": {"replicas": _get_path(obj, spec_path) or 0},
            "status": status,
        }

    def _write_scale(
        self,
        rt: ResourceType,
        old: dict[str, Any],
        scale: dict[str, Any],
        req: Request,
        manager: str,
        dry_run: bool,
    ) -> dict[str, Any]:
        if "scale" not in rt.subresources:
            raise not_found(rt.plural, rt.group, old["metadata"]["name"])
        replicas = (scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise invalid(
                "Scale",
                "autoscaling",
                old["metadata"]["name"],
                [cause("spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0")],
            )
        expected = (scale.get("metadata") or {}).get("resourceVersion") or None
        new = clone(old)
        _set_path(new, self._scale_paths(rt)[0], replicas)
        stored = self._update(rt, old, new, None, manager, "Update", expected, dry_run)
        return self._scale_of(rt, stored)

    # ---- delete ----------------------------------------------------------------------------------

    async def delete(
        self,
        res: Resource,
        namespace: str | None,
        name: str,
        *,
        propagation_policy: str | None = None,
        grace_period_seconds: int | None = None,
        preconditions: dict[str, Any] | None = None,
        dry_run: bool = False,
        req: Request | None = None,
    ) -> dict[str, Any]:
        """Returns the object when it lingers (finalizers, graceful pods), for custom resources and
        for the kinds whose kube-apiserver storage returns the deleted object (pods, services),
        otherwise a Status Success, as kube-apiserver answers."""
        rt, req = self.resource(res), req or Request()
        if "delete" not in rt.verbs:
            raise method_not_allowed()
        ns = self._scope(rt, namespace)
        obj = self.store.get(rt.group, rt.plural, ns, name)
        if obj is None:
            raise not_found(rt.plural, rt.group, name)
        if self._admission_applies(rt):
            options = _options("DeleteOptions", dry_run, propagationPolicy=propagation_policy,
                               gracePeriodSeconds=grace_period_seconds, preconditions=preconditions)
            await self._admit(rt, "DELETE", None, None, obj, req, dry_run, options)
            if self.store.get(rt.group, rt.plural, ns, name) is not obj:  # changed meanwhile: judge it again
                return await self.delete(
                    rt, namespace, name, propagation_policy=propagation_policy,
                    grace_period_seconds=grace_period_seconds, preconditions=preconditions,
                    dry_run=dry_run, req=req,
                )
        return self._delete(rt, obj, propagation_policy, grace_period_seconds, preconditions, dry_run, req)

    def _delete(
        self,
        rt: ResourceType,
        obj: dict[str, Any],
        policy: str | None,
        grace: int | None,
        preconditions: dict[str, Any] | None,
        dry_run: bool,
        req: Request,
    ) -> dict[str, Any]:
        meta = obj["metadata"]
        name = meta["name"]
        if preconditions:
            if preconditions.get("uid") and preconditions["uid"] != meta.get("uid"):
                raise conflict(
                    rt.plural,
                    rt.group,
                    name,
                    f"Precondition failed: UID in precondition: "
                    f"{preconditions['uid']}, UID in object meta: {meta.get('uid')}",
                )
            if (
                preconditions.get("resourceVersion")
                and preconditions["resourceVersion"] != meta["resourceVersion"]
            ):
                raise conflict(
                    rt.plural,
                    rt.group,
                    name,
                    f"Precondition failed: ResourceVersion in "
                    f"precondition: {preconditions['resourceVersion']}, ResourceVersion in object "
                    f"meta: {meta['resourceVersion']}",
                )
        if policy not in (None, "Background", "Foreground", "Orphan"):
            raise invalid(
                "DeleteOptions",
                "meta.k8s.io",
                "",
                [
                    cause(
                        "propagationPolicy",
                        f'Unsupported value: "{policy}": supported values: "Foreground", '
                        '"Background", "Orphan", "nil"',
                        "FieldValueNotSupported",
                    )
                ],
            )
        if policy is None and rt.key == ("batch", "jobs"):
            policy = "Orphan"  # batch/v1 Jobs default to orphaning their pods, as kube keeps them
        finalizers = list(meta.get("finalizers") or ())
        if policy == "Foreground" and "foregroundDeletion" not in finalizers:
            finalizers.append("foregroundDeletion")
            finalizers = [f for f in finalizers if f != "orphan"]
        elif policy == "Orphan" and "orphan" not in finalizers:
            finalizers.append("orphan")
            finalizers = [f for f in finalizers if f != "foregroundDeletion"]
        elif policy == "Background":
            finalizers = [f for f in finalizers if f not in ("orphan", "foregroundDeletion")]
        graceful = self._grace_for(rt, obj, grace)
        lingering = (
            bool(finalizers)
            or graceful > 0
            or (rt.key == ("", "namespaces") and bool((obj.get("spec") or {}).get("finalizers")))
        )
        if not lingering:
            final = obj if dry_run else self._remove(rt, obj, obj)
            if rt.is_custom or rt.key in RETURNS_DELETED_OBJECT:
                return self._out(rt, final, req)
            return {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": {"name": name, "group": rt.group, "kind": rt.plural, "uid": meta.get("uid")},
            }
        if (
            meta.get("deletionTimestamp")
            and finalizers == list(meta.get("finalizers") or ())
            and graceful >= (meta.get("deletionGracePeriodSeconds") or 0)
        ):
            return self._out(rt, obj, req)
        new = clone(obj)
        nmeta = new["metadata"]
        if not nmeta.get("deletionTimestamp") or graceful < (nmeta.get("deletionGracePeriodSeconds") or 0):
            when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=graceful)
            nmeta["deletionTimestamp"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
            nmeta["deletionGracePeriodSeconds"] = graceful
        if finalizers:
            nmeta["finalizers"] = finalizers
        else:
            nmeta.pop("finalizers", None)
        if rt.key == ("", "namespaces"):
            new.setdefault("status", {})["phase"] = "Terminating"
        if "generation" in nmeta:  # kube bumps generation when graceful deletion starts
            nmeta["generation"] = nmeta.get("generation", 0) + 1
        if dry_run:
            return self._out(rt, new, req)
        self._track(rt, obj, new, _manager_from_agent(req.user_agent), "Update", None)
        stored = self.store.update(rt.group, rt.plural, new, meta["resourceVersion"])
        self._after_write(rt, stored, obj)
        return self._out(rt, stored, req)

    def _grace_for(self, rt: ResourceType, obj: dict[str, Any], grace: int | None) -> int:
        """Only scheduled, unfinished pods are deleted gracefully; everything else goes at once."""
        if rt.key != ("", "pods"):
            return 0
        if not (obj.get("spec") or {}).get("nodeName"):
            return 0
        if (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return 0
        if grace is None:
            grace = (obj.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
        return max(int(grace or 0), 0)

    def _remove(self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
        meta = old["metadata"]
        final = self.store.delete(rt.group, rt.plural, meta.get("namespace") or "", meta["name"])
        if rt.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
            self.registry.remove_custom(*crds.key_of(old))
        for hook in self.on_commit:
            hook()
        return final

    async def deletecollection(
        self,
        res: Resource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        propagation_policy: str | None = None,
        grace_period_seconds: int | None = None,
        dry_run: bool = False,
        req: Request | None = None,
    ) -> dict[str, Any]:
        rt, req = self.resource(res), req or Request()
        if "deletecollection" not in rt.verbs:
            raise method_not_allowed()
        listed = await self.list(
            rt,
            namespace,
            label_selector=label_selector,
            field_selector=field_selector,
            req=Request(shared=True),
        )
        items = []
        admitted = self._admission_applies(rt)
        options = _options("DeleteOptions", dry_run, propagationPolicy=propagation_policy,
                           gracePeriodSeconds=grace_period_seconds)
        for obj in listed["items"]:
            meta = obj["metadata"]
            current = self.store.get(rt.group, rt.plural, meta.get("namespace") or "", meta["name"])
            if current is not None and admitted:  # each item is judged as its own DELETE, as in kube
                await self._admit(rt, "DELETE", None, None, current, req, dry_run, options)
                current = self.store.get(rt.group, rt.plural, meta.get("namespace") or "", meta["name"])
            if current is None:
                continue
            result = self._delete(
                rt, current, propagation_policy, grace_period_seconds, None, dry_run, Request(shared=True)
            )
            items.append(result if result.get("kind") != "Status" else current)
        return {
            "kind": rt.list_kind,
            "apiVersion": rt.group_version,
            "metadata": {"resourceVersion": str(self.store.resource_version)},
            "items": [self._out(rt, o, req) for o in items],
        }

    # ---- helpers for in-process controllers ------------------------------------------------------

    async def finalize_namespace(self, name: str) -> dict[str, Any]:
        """What PUT namespaces/{name}/finalize does: clear spec.finalizers (and delete if done)."""
        rt = self.resource(("", "v1", "namespaces"))
        old = self.store.get("", "namespaces", "", name)
        if old is None:
            raise not_found("namespaces", "", name)
        new = clone(old)
        new.setdefault("spec", {})["finalizers"] = []
        if old["metadata"].get("deletionTimestamp") and not old["metadata"].get("finalizers"):
            return self._remove(rt, new, old)
        stored = self.store.update("", "namespaces", new, old["metadata"]["resourceVersion"])
        return clone(stored)


def _options(kind: str, dry_run: bool, **fields: Any) -> dict[str, Any]:
    """The meta/v1 *Options object of a write, as admission's `request.options` shows it."""
    options: dict[str, Any] = {"kind": kind, "apiVersion": "meta.k8s.io/v1"}
    if dry_run:
        options["dryRun"] = ["All"]
    options.update({k: v for k, v in fields.items() if v is not None})
    return options


def _manager_from_agent(agent: str) -> str:
    """kube's default field manager: the user agent up to the first '/' (e.g. `kubectl-client-side-apply`)."""
    return (agent.split("/", 1)[0] if agent else "") or "unknown"


def _get_path(obj: dict[str, Any], path: str | None) -> Any:
    cur: Any = obj
    for part in (path or "").lstrip(".").split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def _set_path(obj: dict[str, Any], path: str, value: Any) -> None:
    parts = path.lstrip(".").split(".")
    cur = obj
    for part in parts[:-1]:
        cur = cur.setdefault(part, {})
    cur[parts[-1]] = value


def _encode_continue(key: str, rv: int) -> str:
    token = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": key}, separators=(",", ":"))
    return base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[str, int]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return str(data["start"]), int(data["rv"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"
        ) from None
