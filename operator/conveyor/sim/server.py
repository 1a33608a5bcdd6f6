"""The HTTP face of the sim: kube-apiserver's URL layout, content negotiation and error rendering.

Handlers are thin: they parse the path and query into a call on `ApiService` (the same calls the
in-process controllers make) and render the result. Every failure leaves as a `Status` object.
Every request is authenticated, then impersonation and authorization (authorization.py) apply,
before routing: a forbidden request learns nothing about what exists.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import yaml
from aiohttp import web

from conveyor.sim import discovery, openapi, protobuf, tables
from conveyor.sim.api import PATCH_TYPES, ApiService, Request
from conveyor.sim.authorization import DEFAULT_MODE, RequestAuthorizer
from conveyor.sim.errors import (
    StatusError,
    bad_request,
    method_not_allowed,
    unauthorized,
    unsupported_media_type,
)
from conveyor.sim.faults import FaultInjector
from conveyor.sim.identity import ADMIN_USER, ANONYMOUS_USER, UserInfo, user_info
from conveyor.sim.request_info import request_attributes
from conveyor.sim.resources import ResourceType

log = logging.getLogger(__name__)

GIT_VERSION = "v1.35.0"
VERSION_INFO = {
    "major": "1",
    "minor": "35",
    "emulationMajor": "1",
    "emulationMinor": "35",
    "minCompatibilityMajor": "1",
    "minCompatibilityMinor": "34",
    "gitVersion": GIT_VERSION,
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-12-17T00:00:00Z",
    "goVersion": "go1.25.5",
    "compiler": "gc",
    "platform": "linux/amd64",
}
USER = web.RequestKey("user", UserInfo)
# The API call a resource request became: its warnings go with the response, or with the error.
CALL = web.RequestKey("call", Request)
PUBLIC_PATHS = frozenset({"/version", "/healthz", "/readyz", "/livez", "/version/"})

LogHandler = Callable[[web.Request, ApiService, str, str, str], Awaitable[web.StreamResponse]]


@dataclass
class Target:
    """What a resource URL names."""

    rt: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None
    watch_prefix: bool = False


def _warning_header(text: str) -> str:
    return '299 - "' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _status_response(err: StatusError, warnings: list[str] | None = None) -> web.Response:
    resp = web.json_response(err.to_status(), status=err.code)
    for key, value in err.headers.items():
        resp.headers[key] = value
    for text in warnings or ():
        resp.headers.add("Warning", _warning_header(text))
    return resp


def _json(
    data: Any, status: int = 200, warnings: list[str] | None = None, content_type: str = "application/json"
) -> web.Response:
    resp = web.Response(
        body=json.dumps(data, separators=(",", ":")).encode(),
        status=status,
        content_type=content_type.split(";")[0],
    )
    if ";" in content_type:
        resp.headers["Content-Type"] = content_type
    for text in warnings or ():
        resp.headers.add("Warning", _warning_header(text))
    return resp


class SimApp:
    """Builds the aiohttp application around one ApiService."""

    def __init__(self, api: ApiService, admin_token: str, faults: FaultInjector | None = None,
                 authorization_mode: str = DEFAULT_MODE) -> None:
        self.api = api
        self.admin_token = admin_token
        self.authorization = RequestAuthorizer(api.authorizer, authorization_mode)
        self.faults = faults or FaultInjector()
        self.log_handler: LogHandler | None = None
        # pods/{name}/exec|attach|portforward: handler(request, api, namespace, name, subresource).
        self.stream_handler: LogHandler | None = None
        self.server_address = ""
        self._streams: set[web.StreamResponse] = set()

    def register_log_handler(self, handler: LogHandler) -> None:
        """The kubelet serves pods/{name}/log: handler(request, api, namespace, name, container_hint)."""
        self.log_handler = handler

    def build(self) -> web.Application:
        app = web.Application(middlewares=[self._errors, self._authenticate], client_max_size=64 << 20)
        app.router.add_get("/version", self._version)
        app.router.add_get("/version/", self._version)
        for path in ("/healthz", "/readyz", "/livez"):
            app.router.add_get(path, self._health)
            app.router.add_get(path + "/{check:.*}", self._health)
        app.router.add_get("/api", self._core_versions)
        app.router.add_get("/api/", self._core_versions)
        app.router.add_get("/apis", self._groups)
        app.router.add_get("/apis/", self._groups)
        app.router.add_get("/openapi/v2", self._openapi_v2)
        app.router.add_get("/openapi/v3", self._openapi_v3)
        app.router.add_get("/openapi/v3/{path:.*}", self._openapi_v3_doc)
        app.router.add_route("*", "/api/v1", self._core_resources)
        app.router.add_route("*", "/api/v1/", self._core_resources)
        app.router.add_route("*", "/api/v1/{rest:.+}", self._core)
        app.router.add_route("*", "/apis/{group}", self._group)
        app.router.add_route("*", "/apis/{group}/", self._group)
        app.router.add_route("*", "/apis/{group}/{version}", self._group_resources)
        app.router.add_route("*", "/apis/{group}/{version}/", self._group_resources)
        app.router.add_route("*", "/apis/{group}/{version}/{rest:.+}", self._named)
        return app

    # ---- middlewares -----------------------------------------------------------------------------

    @web.middleware
    async def _errors(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            return await handler(request)
        except StatusError as err:
            # Warnings gathered before the refusal (admission's, decoding's) go with the error, as
            # kube sends them.
            call = request.get(CALL)
            return _status_response(err, call.warnings if call is not None else None)
        except web.HTTPNotFound:
            return _status_response(
                StatusError(404, "NotFound", "the server could not find the requested resource", {})
            )
        except web.HTTPException:
            raise
        except ConnectionResetError:
            raise  # the client went away mid-request: nothing to answer, nothing went wrong here
        except Exception as exc:  # render, never leak a traceback page to a client
            log.exception("internal error serving %s %s", request.method, request.path)
            return _status_response(StatusError(500, "InternalError", f"Internal error occurred: {exc}"))

    @web.middleware
    async def _authenticate(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Authentication, impersonation and authorization, in kube's order, before any routing."""
        if request.path in PUBLIC_PATHS or request.path.startswith(("/healthz/", "/readyz/", "/livez/")):
            request[USER] = user_info(ANONYMOUS_USER)
            return await handler(request)
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        username = ADMIN_USER if token and token == self.admin_token else (
            self.api.user_for_token(token) if token else None)
        if username is None:
            raise unauthorized()
        user = self.authorization.acting_as(user_info(username), request.headers)
        if self.authorization.enforcing:
            self.authorization.check(user, request_attributes(request.method, request.path, request.query))
        request[USER] = user
        await self.faults.before(request, user.username)
        return await handler(request)

    # ---- fixed endpoints -------------------------------------------------------------------------

    async def _version(self, request: web.Request) -> web.Response:
        return _json(VERSION_INFO)

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(text="ok", content_type="text/plain")

    def _discovery(self, request: web.Request, core: bool, legacy: Callable[[], Any]) -> web.Response:
        version = discovery.negotiate_discovery(request.headers.get("Accept"))
        if version is not None:
            return _json(
                discovery.aggregated_discovery(self.api.registry, core, version),
                content_type=discovery.discovery_content_type(version),
            )
        return _json(legacy())

    async def _core_versions(self, request: web.Request) -> web.Response:
        return self._discovery(
            request, True, lambda: discovery.core_api_versions(self.server_address)
        )

    async def _groups(self, request: web.Request) -> web.Response:
        return self._discovery(request, False, lambda: discovery.api_group_list(self.api.registry))

    async def _group(self, request: web.Request) -> web.Response:
        if request.method != "GET":
            raise method_not_allowed()
        doc = discovery.api_group(self.api.registry, request.match_info["group"])
        if doc is None:
            raise web.HTTPNotFound()
        return _json(doc)

    async def _core_resources(self, request: web.Request) -> web.Response:
        return _json(discovery.api_resource_list(self.api.registry, "", "v1"))

    async def _group_resources(self, request: web.Request) -> web.Response:
        doc = discovery.api_resource_list(
            self.api.registry, request.match_info["group"], request.match_info["version"]
        )
        if doc is None:
            raise web.HTTPNotFound()
        return _json(doc)

    async def _openapi_v2(self, request: web.Request) -> web.Response:
        """kubectl and client-go read v2 only as protobuf; other clients get JSON. The whole
        document is built off the loop: it covers every built-in kind and takes a while."""
        registry = self.api.registry
        if openapi.wants_protobuf_v2(request.headers.get("Accept")):
            body = await asyncio.to_thread(openapi.openapi_v2_protobuf, registry)
            return web.Response(body=body, headers={"Content-Type": openapi.OPENAPI_V2_PROTOBUF})
        return _json(await asyncio.to_thread(openapi.openapi_v2, registry))

    async def _openapi_v3(self, request: web.Request) -> web.Response:
        return _json(openapi.openapi_v3_paths(self.api.registry))

    async def _openapi_v3_doc(self, request: web.Request) -> web.Response:
        path = request.match_info["path"].strip("/")
        if path == "api/v1":
            group, version = "", "v1"
        elif path.startswith("apis/") and path.count("/") == 2:
            _, group, version = path.split("/")
        else:
            raise web.HTTPNotFound()
        doc = await asyncio.to_thread(openapi.openapi_v3_document, self.api.registry, group, version)
        if doc is None:
            raise web.HTTPNotFound()
        resp = _json(doc)
        resp.headers["Cache-Control"] = "public, immutable"
        return resp

    # ---- resources -------------------------------------------------------------------------------

    async def _core(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, "", "v1", request.match_info["rest"])

    async def _named(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(
            request, request.match_info["group"], request.match_info["version"], request.match_info["rest"]
        )

    def _resolve(self, group: str, version: str, rest: str) -> Target:
        parts = [p for p in rest.split("/") if p]
        watch_prefix = False
        if parts and parts[0] == "watch":
            watch_prefix, parts = True, parts[1:]
        namespace: str | None = None
        if (
            len(parts) >= 3
            and parts[0] == "namespaces"
            and not (group == "" and len(parts) == 3 and parts[2] in ("status", "finalize"))
        ):
            namespace, parts = parts[1], parts[2:]
        if not parts or len(parts) > 3:
            raise web.HTTPNotFound()
        rt = self.api.registry.get(group, version, parts[0])
        if rt is None or (namespace is not None and not rt.namespaced):
            raise web.HTTPNotFound()
        name = parts[1] if len(parts) > 1 else None
        sub = parts[2] if len(parts) > 2 else None
        if not rt.namespaced and namespace is None and rt.key == ("", "namespaces") and sub == "finalize":
            pass
        elif sub is not None and sub not in rt.subresources:
            raise web.HTTPNotFound()
        if rt.namespaced and name is not None and namespace is None:
            raise web.HTTPNotFound()
        return Target(rt, namespace, name, sub, watch_prefix)

    async def _serve(self, request: web.Request, group: str, version: str, rest: str) -> web.StreamResponse:
        target = self._resolve(group, version, rest)
        q = request.query
        user = request[USER]
        req = Request(
            user=user.username, user_agent=request.headers.get("User-Agent", ""), shared=True,
            groups=user.groups,
        )
        request[CALL] = req
        method = request.method
        rt = target.rt
        dry_run = q.get("dryRun") == "All"
        manager = q.get("fieldManager") or None
        validation = q.get("fieldValidation") or None
        if validation not in (None, "Strict", "Warn", "Ignore"):
            raise bad_request(f"fieldValidation must be one of Ignore, Warn, Strict, got {validation}")
        if target.subresource in ("exec", "attach", "portforward"):
            if self.stream_handler is None or target.name is None:
                raise web.HTTPNotFound()
            return await self.stream_handler(request, self.api, target.namespace or "", target.name,
                                             target.subresource)
        if target.subresource == "log":
            if self.log_handler is None or method != "GET" or target.name is None:
                raise web.HTTPNotFound()
            return await self.log_handler(
                request, self.api, target.namespace or "", target.name, q.get("container", "")
            )
        if target.name is None:
            if method == "GET":
                if target.watch_prefix or q.get("watch") in ("true", "1"):
                    return await self._watch(request, rt, target.namespace, None)
                result = await self.api.list(
                    rt,
                    target.namespace,
                    label_selector=q.get("labelSelector"),
                    field_selector=q.get("fieldSelector"),
                    limit=int(q["limit"]) if q.get("limit") else None,
                    continue_=q.get("continue"),
                    resource_version=q.get("resourceVersion"),
                    resource_version_match=q.get("resourceVersionMatch"),
                    req=req,
                )
                return self._render_list(request, rt, result)
            if method == "POST":
                body = await self._body(request)
                if rt.namespaced and target.namespace is None:
                    raise method_not_allowed()
                obj = await self.api.create(
                    rt,
                    target.namespace,
                    body,
                    dry_run=dry_run,
                    field_manager=manager,
                    field_validation=validation,
                    req=req,
                )
                return self._render(request, rt, obj, 201, req.warnings)
            if method == "DELETE":
                opts = await self._delete_options(request)
                dry_run = dry_run or "All" in (opts.get("dryRun") or ())
                result = await self.api.deletecollection(
                    rt,
                    target.namespace,
                    label_selector=q.get("labelSelector"),
                    field_selector=q.get("fieldSelector"),
                    propagation_policy=opts.get("propagationPolicy"),
                    grace_period_seconds=opts.get("gracePeriodSeconds"),
                    dry_run=dry_run,
                    req=req,
                )
                return _json(result, 200, req.warnings)
            raise method_not_allowed()
        name = target.name
        sub = target.subresource
        if method == "GET":
            if target.watch_prefix:
                return await self._watch(request, rt, target.namespace, name)
            obj = await self.api.get(rt, target.namespace, name, sub, req=req)
            return self._render(request, rt, obj, 200, [])
        if method == "PUT":
            body = await self._body(request)
            if sub == "finalize":
                obj = await self.api.finalize_namespace(name)
                return _json(obj)
            obj = await self.api.update(
                rt,
                target.namespace,
                name,
                body,
                subresource=sub,
                dry_run=dry_run,
                field_manager=manager,
                field_validation=validation,
                req=req,
            )
            return self._render(request, rt, obj, 200, req.warnings)
        if method == "PATCH":
            content_type = request.headers.get("Content-Type", "").split(";")[0].strip()
            if content_type not in PATCH_TYPES:
                raise unsupported_media_type(content_type)
            raw = await request.read()
            patch = _parse(raw, "yaml" if content_type == "application/apply-patch+yaml" else "json")
            obj = await self.api.patch(
                rt,
                target.namespace,
                name,
                patch,
                content_type,
                subresource=sub,
                dry_run=dry_run,
                field_manager=manager,
                field_validation=validation,
                force=q.get("force") == "true",
                req=req,
            )
            return self._render(request, rt, obj, 200, req.warnings)
        if method == "DELETE":
            opts = await self._delete_options(request)
            dry_run = dry_run or "All" in (opts.get("dryRun") or ())
            result = await self.api.delete(
                rt,
                target.namespace,
                name,
                propagation_policy=opts.get("propagationPolicy"),
                grace_period_seconds=opts.get("gracePeriodSeconds"),
                preconditions=opts.get("preconditions"),
                dry_run=dry_run,
                req=req,
            )
            code = (
                202
                if opts.get("propagationPolicy") == "Foreground" and result.get("kind") != "Status"
                else 200
            )
            return _json(result, code, req.warnings)
        if method == "POST":
            body = await self._body(request)
            obj = await self.api.create(
                rt,
                target.namespace,
                {**body, "metadata": {**(body.get("metadata") or {}), "name": name}},
                subresource=sub,
                req=req,
            )
            return _json(obj, 201, req.warnings)
        raise method_not_allowed()

    async def _body(self, request: web.Request) -> Any:
        raw = await request.read()
        content_type = request.headers.get("Content-Type", "application/json").split(";")[0].strip()
        if content_type in ("application/yaml", "application/x-yaml", "text/yaml"):
            return _parse(raw, "yaml")
        if protobuf.is_protobuf(content_type):
            return protobuf.decode(raw)
        if content_type not in ("application/json", "", "*/*"):
            raise unsupported_media_type(content_type)
        return _parse(raw, "json")

    async def _delete_options(self, request: web.Request) -> dict[str, Any]:
        opts: dict[str, Any] = {}
        raw = await request.read()
        if raw and protobuf.is_protobuf(request.headers.get("Content-Type", "")):
            # The envelope's apiVersion/kind (meta.k8s.io/v1 DeleteOptions) are not options.
            decoded = protobuf.decode(raw)
            opts.update({k: v for k, v in decoded.items() if k not in ("apiVersion", "kind")})
        elif raw.strip():
            body = _parse(raw, "json")
            if isinstance(body, dict):
                opts.update(body)
        q = request.query
        if "propagationPolicy" in q:
            opts["propagationPolicy"] = q["propagationPolicy"]
        if "gracePeriodSeconds" in q:
            opts["gracePeriodSeconds"] = int(q["gracePeriodSeconds"])
        if q.get("orphanDependents") == "true" or opts.get("orphanDependents") is True:
            opts.setdefault("propagationPolicy", "Orphan")
        if "preconditions" not in opts and ("preconditions.uid" in q or "preconditions.resourceVersion" in q):
            opts["preconditions"] = {
                "uid": q.get("preconditions.uid"),
                "resourceVersion": q.get("preconditions.resourceVersion"),
            }
        return opts

    # ---- rendering -------------------------------------------------------------------------------

    @staticmethod
    def _wants_table(request: web.Request) -> bool:
        accept = request.headers.get("Accept", "")
        return "as=Table" in accept

    def _render(
        self, request: web.Request, rt: ResourceType, obj: dict[str, Any], status: int, warnings: list[str]
    ) -> web.Response:
        if self._wants_table(request) and obj.get("kind") == rt.kind:
            table = tables.to_table(rt, [obj], request.query.get("includeObject", "Metadata"))
            return _json(table, status, warnings)
        if "application/yaml" in request.headers.get("Accept", "") and "json" not in request.headers.get(
            "Accept", ""
        ):
            resp = web.Response(text=yaml.safe_dump(obj), status=status, content_type="application/yaml")
            return resp
        return _json(obj, status, warnings)

    def _render_list(self, request: web.Request, rt: ResourceType, result: dict[str, Any]) -> web.Response:
        if self._wants_table(request):
            table = tables.to_table(
                rt, result["items"], request.query.get("includeObject", "Metadata"), result["metadata"]
            )
            return _json(table)
        return _json(result)

    async def _watch(
        self, request: web.Request, rt: ResourceType, namespace: str | None, name: str | None
    ) -> web.StreamResponse:
        q = request.query
        stream = await self.api.watch(
            rt,
            namespace,
            name=name,
            label_selector=q.get("labelSelector"),
            field_selector=q.get("fieldSelector"),
            resource_version=q.get("resourceVersion"),
            resource_version_match=q.get("resourceVersionMatch"),
            allow_bookmarks=q.get("allowWatchBookmarks") in ("true", "1"),
            send_initial_events=(q["sendInitialEvents"] == "true") if "sendInitialEvents" in q else None,
            timeout_seconds=float(q["timeoutSeconds"]) if q.get("timeoutSeconds") else None,
            copies=False,
        )
        table = self._wants_table(request)
        include = q.get("includeObject", "Metadata")
        resp = web.StreamResponse(
            status=200, headers={"Content-Type": "application/json", "Cache-Control": "no-cache, private"}
        )
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        self._streams.add(resp)
        watcher = stream.watcher
        cut_after = self.faults.watch_deadline(request)
        try:
            async with asyncio.timeout(cut_after):
                await self._stream_watch(resp, stream, watcher, rt, table, include)
        except TimeoutError:
            self.faults.count_watch_cut()  # an injected fault: end the stream as a request timeout does
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            stream.close()
            self._streams.discard(resp)
        try:
            await resp.write_eof()
        except (ConnectionResetError, RuntimeError):
            pass
        return resp

    async def _stream_watch(
        self, resp: web.StreamResponse, stream: Any, watcher: Any, rt: ResourceType, table: bool, include: str
    ) -> None:
        async for batch in stream:
            if table:
                chunks = []
                for kind, obj, _ in batch:
                    converted = watcher.convert(obj)
                    payload = (
                        converted
                        if kind == "BOOKMARK"
                        else tables.to_table(rt, [converted], include)
                    )
                    chunks.append(
                        json.dumps({"type": kind, "object": payload}, separators=(",", ":")).encode()
                        + b"\n"
                    )
                data = b"".join(chunks)
            else:
                data = b"".join(watcher.encode(item) for item in batch)
            await resp.write(data)


_INT64 = range(-(1 << 63), 1 << 63)


def _json_number(text: str) -> int | float:
    """kube-apiserver decodes an integer that does not fit int64 as a float64 (then schema
    validation words the problem, 422); Python would keep it exact and let it reach CEL."""
    value = int(text)
    return value if value in _INT64 else float(value)


def _parse(raw: bytes, fmt: str) -> Any:
    if not raw.strip():
        raise bad_request("the request body is empty")
    try:
        if fmt == "yaml":
            return yaml.safe_load(raw)
        return json.loads(raw, parse_int=_json_number)
    except (ValueError, yaml.YAMLError) as exc:
        raise bad_request(f"error decoding {'YAML' if fmt == 'yaml' else 'JSON'}: {exc}") from None
