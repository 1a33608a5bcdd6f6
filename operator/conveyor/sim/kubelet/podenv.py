"""A container's environment and argv, resolved from the Pod spec as the kubelet resolves them.

Order and precedence follow the kubelet: `envFrom` sources in order (later ones win, keys get the
source's prefix), then `env` in order, where `$(VAR)` refers to variables defined earlier (`$$` escapes
it); command and args are expanded against the final environment. A reference to a ConfigMap, Secret
or key that does not exist (and is not `optional`) is a `ContainerConfigError`: the container cannot
be created and the Pod waits with reason CreateContainerConfigError and the kubelet's message, until
the object appears.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

# (kind "configmaps" | "secrets" | "serviceaccounts", namespace, name) -> the object, or None if absent
Lookup = Callable[[str, str, str], Awaitable[dict[str, Any] | None]]

_REF = re.compile(r"\$\$|\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)")
_ANNOTATED = re.compile(r"metadata\.(labels|annotations)\['([^']*)'\]")


class ContainerConfigError(Exception):
    """The container cannot be created yet: kube's CreateContainerConfigError."""

    reason = "CreateContainerConfigError"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes `$(VAR)` expansion: unknown references stay as written, `$$` is a literal `$`."""

    def repl(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        return env.get(name, m.group(0))

    return _REF.sub(repl, text)


def field_ref(pod: dict[str, Any], path: str) -> str:
    """The value a downward-API fieldRef gives (the paths kube supports for env)."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.podIP": status.get("podIP"),
        "status.hostIP": status.get("hostIP"),
        "status.podIPs": ",".join(ip.get("ip", "") for ip in status.get("podIPs") or ()),
        "status.hostIPs": ",".join(ip.get("ip", "") for ip in status.get("hostIPs") or ()),
    }
    if path in simple:
        return str(simple[path] or "")
    m = _ANNOTATED.fullmatch(path)
    if m:
        return str((meta.get(m.group(1)) or {}).get(m.group(2), ""))
    raise ContainerConfigError(f'unsupported fieldRef path "{path}"')


def resource_ref(container: dict[str, Any], resource: str) -> str:
    """resourceFieldRef: the container's limit, else its request, else "0" (the sim has no node size)."""
    _kind, _, name = resource.partition(".")
    resources = container.get("resources") or {}
    value = (resources.get("limits") or {}).get(name) or (resources.get("requests") or {}).get(name)
    return str(value or "0")


def _data(obj: dict[str, Any], kind: str) -> dict[str, str]:
    """String values of a ConfigMap (data and binaryData) or Secret (base64 data, stringData)."""
    if kind == "secrets":
        out = {k: base64.b64decode(v).decode("utf-8", "replace") for k, v in (obj.get("data") or {}).items()}
        out.update(obj.get("stringData") or {})
        return out
    out = {
        k: base64.b64decode(v).decode("utf-8", "replace") for k, v in (obj.get("binaryData") or {}).items()
    }
    out.update(obj.get("data") or {})
    return out


_KIND_WORD = {"configmaps": ("configmap", "ConfigMap"), "secrets": ("secret", "Secret")}


async def _source(
    lookup: Lookup, kind: str, namespace: str, name: str, optional: bool
) -> dict[str, str] | None:
    obj = await lookup(kind, namespace, name)
    if obj is None:
        if optional:
            return None
        raise ContainerConfigError(f'{_KIND_WORD[kind][0]} "{name}" not found')
    return _data(obj, kind)


async def _key_ref(lookup: Lookup, kind: str, namespace: str, ref: dict[str, Any]) -> str | None:
    optional = bool(ref.get("optional"))
    data = await _source(lookup, kind, namespace, ref.get("name") or "", optional)
    if data is None:
        return None
    key = ref.get("key") or ""
    if key not in data:
        if optional:
            return None
        raise ContainerConfigError(
            f"couldn't find key {key} in {_KIND_WORD[kind][1]} {namespace}/{ref.get('name')}"
        )
    return data[key]


async def resolve_env(pod: dict[str, Any], container: dict[str, Any], lookup: Lookup) -> dict[str, str]:
    """The variables the Pod spec gives one container (without the sim's own, such as PATH)."""
    namespace = pod["metadata"]["namespace"]
    env: dict[str, str] = {}
    for source in container.get("envFrom") or ():
        prefix = source.get("prefix") or ""
        for field, kind in (("configMapRef", "configmaps"), ("secretRef", "secrets")):
            ref = source.get(field)
            if ref is None:
                continue
            data = await _source(lookup, kind, namespace, ref.get("name") or "", bool(ref.get("optional")))
            for key, text in (data or {}).items():
                env[prefix + key] = text
    for var in container.get("env") or ():
        name = var["name"]
        if "value" in var or "valueFrom" not in var:
            env[name] = expand(str(var.get("value") or ""), env)
            continue
        value_from = var["valueFrom"]
        value: str | None
        if "fieldRef" in value_from:
            value = field_ref(pod, value_from["fieldRef"].get("fieldPath", ""))
        elif "resourceFieldRef" in value_from:
            value = resource_ref(container, value_from["resourceFieldRef"].get("resource", ""))
        elif "configMapKeyRef" in value_from:
            value = await _key_ref(lookup, "configmaps", namespace, value_from["configMapKeyRef"])
        elif "secretKeyRef" in value_from:
            value = await _key_ref(lookup, "secrets", namespace, value_from["secretKeyRef"])
        else:
            value = ""
        if value is not None:
            env[name] = value
    return env


def image_repository(image: str) -> str:
    """`ghcr.io/acme/conveyor:1.2@sha256:...` → `ghcr.io/acme/conveyor` (no tag, no digest)."""
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


# Official base images that declare no ENTRYPOINT (only a CMD): there `args` alone are the command,
# as in `kubectl run x --image=busybox -- sleep 60`.
NO_ENTRYPOINT = frozenset(
    prefix + name
    for name in ("busybox", "alpine", "ubuntu", "debian", "python")
    for prefix in ("", "library/", "docker.io/library/", "index.docker.io/library/")
)


def container_argv(
    container: dict[str, Any], env: dict[str, str], entrypoints: Mapping[str, Sequence[str]] | None = None
) -> tuple[str, ...]:
    """command + args with `$(VAR)` expanded. Without `command`, the image's entrypoint is needed:
    the sim knows only those it is told (`entrypoints`, by image repository) and the base images
    without one (NO_ENTRYPOINT); else the result is empty and the container fails to start."""
    command = list(container.get("command") or ())
    if not command:
        repository = image_repository(str(container.get("image") or ""))
        command = list((entrypoints or {}).get(repository, ()))
        if not command and repository not in NO_ENTRYPOINT:
            return ()
    return tuple(expand(str(part), env) for part in [*command, *(container.get("args") or ())])


async def check_service_account(pod: dict[str, Any], lookup: Lookup) -> None:
    """A Pod runs as its ServiceAccount; one that does not exist keeps the Pod from starting."""
    namespace = pod["metadata"]["namespace"]
    name = (pod.get("spec") or {}).get("serviceAccountName") or "default"
    if await lookup("serviceaccounts", namespace, name) is None:
        raise ContainerConfigError(
            f'error looking up service account {namespace}/{name}: serviceaccount "{name}" not found'
        )
