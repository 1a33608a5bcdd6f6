"""`kubectl get` output: a meta.k8s.io Table with the columns kube-apiserver's printers produce.

kubectl renders whatever columns and cells the server sends, so the server must compute them as
kube does: built-in kinds get kube's printer columns (cells rendered server-side, ages included,
wide columns at priority 1), custom resources get their CRD's `additionalPrinterColumns`
evaluated with the JSONPath subset below, and everything else NAME and AGE.
The server always renders every column (kube generates tables "wide"); kubectl hides priority > 0.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from conveyor.sim.resources import ResourceType
from conveyor.sim.selectors import selector_to_string

# ---------------------------------------------------------------------------------------------
# JSONPath: the subset CRD printer columns use (k8s.io/client-go/util/jsonpath semantics): field
# steps, array indexes and slices, `[*]`, and filters such as `[?(@.type=="Ready")]`. A missing
# field selects nothing (an empty cell); a malformed expression raises JSONPathError.
# ---------------------------------------------------------------------------------------------

_NAME = re.compile(r"[A-Za-z0-9_\-$*]+")
_FILTER = re.compile(r"@((?:\.[A-Za-z0-9_\-$]+|\[['\"][^'\"]*['\"]\])*)\s*(?:(==|!=|<=|>=|<|>)\s*(.+))?")


class JSONPathError(ValueError):
    """The expression is outside the supported subset or malformed."""


def _closing_bracket(expr: str, start: int) -> int:
    """Index of the `]` that closes the `[` at `start`, skipping quoted text and parentheses."""
    depth, quote = 0, ""
    for i in range(start + 1, len(expr)):
        ch = expr[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "]" and depth == 0:
            return i
    raise JSONPathError(f"unclosed [ in {expr!r}")


def _steps(expr: str) -> list[tuple[str, str]]:
    """Split a path into ("field", name), ("index", text) and ("filter", text) steps."""
    text = expr.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if text.startswith("$"):
        text = text[1:]
    steps: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == ".":
            m = _NAME.match(text, i + 1)
            if not m:
                if text.startswith("..", i):
                    raise JSONPathError(f"recursive descent is not supported: {expr!r}")
                i += 1  # a trailing or leading lone dot selects the current node
                continue
            steps.append(("field", m.group()))
            i = m.end()
        elif ch == "[":
            end = _closing_bracket(text, i)
            inner = text[i + 1:end].strip()
            if inner.startswith("?"):
                _parse_filter(inner[1:])  # reject a malformed filter even where nothing reaches it
                steps.append(("filter", inner[1:].strip()))
            elif inner[:1] in "'\"" and inner[-1:] == inner[:1]:
                steps.append(("field", inner[1:-1]))
            else:
                steps.append(("index", inner))
            i = end + 1
        else:
            m = _NAME.match(text, i)
            if not m:
                raise JSONPathError(f"unexpected {ch!r} in {expr!r}")
            steps.append(("field", m.group()))
            i = m.end()
    return steps


def _literal(text: str) -> Any:
    text = text.strip()
    if text[:1] in "'\"" and text[-1:] == text[:1] and len(text) >= 2:
        return text[1:-1]
    try:
        return json.loads(text)
    except ValueError as exc:
        raise JSONPathError(f"cannot parse literal {text!r}") from exc


def _compare(left: Any, op: str, right: Any) -> bool:
    if op == "==":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    try:
        return bool({"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[op])
    except TypeError:
        return False


def _parse_filter(condition: str) -> tuple[str, str | None, str | None]:
    """`(@.path OP literal)` or `(@.path)` as (path, op, literal text)."""
    cond = condition.strip()
    if cond.startswith("(") and cond.endswith(")"):
        cond = cond[1:-1].strip()
    m = _FILTER.fullmatch(cond)
    if not m:
        raise JSONPathError(f"unsupported filter {condition!r}")
    return m.group(1), m.group(2), m.group(3)


def _filter(items: list[Any], condition: str) -> list[Any]:
    path, op, raw = _parse_filter(condition)
    out = []
    for item in items:
        found = jsonpath(item, path) if path else [item]
        if op is None:
            if found:
                out.append(item)
        elif found and raw is not None and _compare(found[0], op, _literal(raw)):
            out.append(item)
    return out


def _index(node: Any, spec: str) -> list[Any]:
    if not isinstance(node, list):
        return []
    if spec == "*":
        return list(node)
    if ":" in spec:
        parts = [int(p) if p.strip() else None for p in spec.split(":")[:2]]
        return node[parts[0]:parts[1]]
    try:
        i = int(spec)
    except ValueError as exc:
        raise JSONPathError(f"unsupported index [{spec}]") from exc
    if -len(node) <= i < len(node):
        return [node[i]]
    return []


def jsonpath(obj: Any, expr: str) -> list[Any]:
    """Every value `expr` selects in `obj`, in document order; [] when nothing matches.

    A missing field is not an error (kube prints an empty cell), a malformed expression is.
    """
    nodes: list[Any] = [obj]
    for kind, arg in _steps(expr):
        nxt: list[Any] = []
        for node in nodes:
            if kind == "field":
                if arg == "*":
                    if isinstance(node, dict):
                        nxt.extend(node.values())
                    elif isinstance(node, list):
                        nxt.extend(node)
                elif isinstance(node, dict) and arg in node:
                    nxt.append(node[arg])
            elif kind == "index":
                nxt.extend(_index(node, arg))
            else:
                nxt.extend(_filter(node if isinstance(node, list) else [node], arg))
        nodes = nxt
    return nodes


def format_value(value: Any) -> str:
    """How kube's JSONPath printer renders one value: strings raw, scalars in Go's notation,
    objects and arrays as compact JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


# ---------------------------------------------------------------------------------------------
# Time as kubectl users read it.
# ---------------------------------------------------------------------------------------------

def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp (`2024-01-02T03:04:05Z`, micro-time too) as an aware datetime."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def human_duration(seconds: float) -> str:
    """kube's HumanDuration: coarser the older it gets (`45s`, `3m2s`, `4h`, `2d3h`, `3y`)."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y{days}d" if days else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def age(timestamp: Any, now: datetime) -> str:
    """Time since `timestamp`, or `<unknown>` when it is missing, as kube's printers show it."""
    ts = parse_time(timestamp)
    if ts is None:
        return "<unknown>"
    return human_duration((now - ts).total_seconds())


def _rfc3339(timestamp: Any) -> str:
    ts = parse_time(timestamp)
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if ts else "<unknown>"


# ---------------------------------------------------------------------------------------------
# Columns and built-in printers (k8s.io/kubernetes/pkg/printers/internalversion).
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    name: str
    type: str = "string"
    description: str = ""
    priority: int = 0
    format: str = ""

    def definition(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "format": self.format,
                "description": self.description, "priority": self.priority}


Cells = Callable[[dict[str, Any], datetime], list[Any]]

NAME = Column("Name", format="name", description="Name must be unique within a namespace.")
AGE = Column("Age", description="CreationTimestamp is a timestamp representing the server time when "
             "this object was created.")
CREATED_AT = Column("Created At", type="date", description="CreationTimestamp is a timestamp "
                    "representing the server time when this object was created.")
_WIDE_WORKLOAD = (Column("Containers", description="Names of each container in the template.", priority=1),
                  Column("Images", description="Images referenced by each container in the template.",
                         priority=1),
                  Column("Selector", description="Label selector for pods.", priority=1))


def _d(obj: dict[str, Any], *path: str) -> Any:
    """obj[path...] or None: printers read optional fields everywhere."""
    node: Any = obj
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _name(obj: dict[str, Any]) -> str:
    return str(_d(obj, "metadata", "name") or "")


def _created(obj: dict[str, Any], now: datetime) -> str:
    return age(_d(obj, "metadata", "creationTimestamp"), now)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def format_label_selector(selector: dict[str, Any] | None) -> str:
    """metav1.FormatLabelSelector: the selector's string form, `<none>` for an empty selector."""
    return selector_to_string(selector) or "<none>"


def _format_labels(labels: dict[str, Any] | None) -> str:
    if not labels:
        return "<none>"
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _template_columns(obj: dict[str, Any], selector: bool = True) -> list[Any]:
    containers = _d(obj, "spec", "template", "spec", "containers") or []
    cells: list[Any] = [",".join(c.get("name", "") for c in containers),
                        ",".join(c.get("image", "") for c in containers)]
    if selector:
        cells.append(format_label_selector(_d(obj, "spec", "selector")))
    return cells


def _has_condition(obj: dict[str, Any], ctype: str) -> bool:
    return any(c.get("type") == ctype and c.get("status") == "True"
               for c in _d(obj, "status", "conditions") or [])


def _pod_cells(pod: dict[str, Any], now: datetime) -> list[Any]:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    init_specs = spec.get("initContainers") or []
    sidecars = {c.get("name") for c in init_specs if c.get("restartPolicy") == "Always"}
    total = len(spec.get("containers") or []) + len(sidecars)
    ready = restarts = sidecar_restarts = 0
    last_restart: datetime | None = None
    sidecar_last_restart: datetime | None = None

    def later(current: datetime | None, state: dict[str, Any]) -> datetime | None:
        finished = parse_time(_d(state, "lastState", "terminated", "finishedAt"))
        return finished if finished and (current is None or finished > current) else current

    initializing = False
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        restarts += _int(cs.get("restartCount"))
        last_restart = later(last_restart, cs)
        is_sidecar = cs.get("name") in sidecars
        if is_sidecar:
            sidecar_restarts += _int(cs.get("restartCount"))
            sidecar_last_restart = later(sidecar_last_restart, cs)
        terminated, waiting = _d(cs, "state", "terminated"), _d(cs, "state", "waiting")
        if terminated is not None and _int(terminated.get("exitCode")) == 0:
            continue
        if is_sidecar and cs.get("started"):
            ready += 1 if cs.get("ready") else 0
            continue
        if terminated is not None:
            if terminated.get("reason"):
                reason = "Init:" + terminated["reason"]
            elif _int(terminated.get("signal")):
                reason = f"Init:Signal:{terminated['signal']}"
            else:
                reason = f"Init:ExitCode:{_int(terminated.get('exitCode'))}"
        elif waiting is not None and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break

    if not initializing or _has_condition(pod, "Initialized"):
        restarts, last_restart = sidecar_restarts, sidecar_last_restart
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += _int(cs.get("restartCount"))
            last_restart = later(last_restart, cs)
            terminated, waiting = _d(cs, "state", "terminated"), _d(cs, "state", "waiting")
            if waiting is not None and waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated is not None and terminated.get("reason"):
                reason = terminated["reason"]
            elif terminated is not None:
                signal = _int(terminated.get("signal"))
                reason = f"Signal:{signal}" if signal else f"ExitCode:{_int(terminated.get('exitCode'))}"
            elif cs.get("ready") and _d(cs, "state", "running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _has_condition(pod, "Ready") else "NotReady"

    deleting = _d(pod, "metadata", "deletionTimestamp") is not None
    if deleting and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif deleting and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"

    restarts_text = str(restarts)
    if restarts and last_restart is not None:
        restarts_text = f"{restarts} ({human_duration((now - last_restart).total_seconds())} ago)"
    pod_ips = status.get("podIPs") or []
    ip = (pod_ips[0].get("ip") if pod_ips else status.get("podIP")) or "<none>"
    gates = spec.get("readinessGates") or []
    gates_text = "<none>"
    if gates:
        conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        true = sum(1 for g in gates if conditions.get(g.get("conditionType")) == "True")
        gates_text = f"{true}/{len(gates)}"
    return [_name(pod), f"{ready}/{total}", reason, restarts_text, _created(pod, now), ip,
            spec.get("nodeName") or "<none>", status.get("nominatedNodeName") or "<none>", gates_text]


def _job_cells(job: dict[str, Any], now: datetime) -> list[Any]:
    spec, status = job.get("spec") or {}, job.get("status") or {}
    if _has_condition(job, "Complete"):
        state = "Complete"
    elif _has_condition(job, "Failed"):
        state = "Failed"
    elif _d(job, "metadata", "deletionTimestamp") is not None:
        state = "Terminating"
    elif _has_condition(job, "Suspended"):
        state = "Suspended"
    elif _has_condition(job, "FailureTarget"):
        state = "FailureTarget"
    elif _has_condition(job, "SuccessCriteriaMet"):
        state = "SuccessCriteriaMet"
    else:
        state = "Running"
    succeeded = _int(status.get("succeeded"))
    parallelism = spec.get("parallelism")
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{spec['completions']}"
    elif isinstance(parallelism, int) and parallelism > 1:
        completions = f"{succeeded}/1 of {parallelism}"
    else:
        completions = f"{succeeded}/1"
    start, end = parse_time(status.get("startTime")), parse_time(status.get("completionTime"))
    duration = ""
    if start is not None:
        duration = human_duration(((end or now) - start).total_seconds())
    return [_name(job), state, completions, duration, _created(job, now), *_template_columns(job)]


def _deployment_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    status = obj.get("status") or {}
    desired = _d(obj, "spec", "replicas")
    desired = 1 if desired is None else _int(desired)
    return [_name(obj), f"{_int(status.get('readyReplicas'))}/{desired}", _int(status.get("updatedReplicas")),
            _int(status.get("availableReplicas")), _created(obj, now), *_template_columns(obj)]


def _replicaset_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    status = obj.get("status") or {}
    desired = _d(obj, "spec", "replicas")
    return [_name(obj), 1 if desired is None else _int(desired), _int(status.get("replicas")),
            _int(status.get("readyReplicas")), _created(obj, now), *_template_columns(obj)]


def _statefulset_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    desired = _d(obj, "spec", "replicas")
    ready = _int(_d(obj, "status", "readyReplicas"))
    return [_name(obj), f"{ready}/{1 if desired is None else _int(desired)}", _created(obj, now),
            *_template_columns(obj, selector=False)]


def _service_external_ip(svc: dict[str, Any]) -> str:
    spec = svc.get("spec") or {}
    external = list(spec.get("externalIPs") or [])
    kind = spec.get("type") or "ClusterIP"
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else "<none>"
    if kind == "LoadBalancer":
        ingress = _d(svc, "status", "loadBalancer", "ingress") or []
        lb = [i.get("ip") or i.get("hostname") for i in ingress if i.get("ip") or i.get("hostname")]
        if lb or external:
            return ",".join([*lb, *external])
        return "<pending>"
    if kind == "ExternalName":
        return str(spec.get("externalName") or "")
    return "<unknown>"


def _service_cells(svc: dict[str, Any], now: datetime) -> list[Any]:
    spec = svc.get("spec") or {}
    cluster_ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    ports = []
    for p in spec.get("ports") or []:
        protocol = p.get("protocol") or "TCP"
        if p.get("nodePort"):
            ports.append(f"{p.get('port')}:{p['nodePort']}/{protocol}")
        else:
            ports.append(f"{p.get('port')}/{protocol}")
    return [_name(svc), spec.get("type") or "ClusterIP", cluster_ips[0] if cluster_ips else "<none>",
            _service_external_ip(svc), ",".join(ports) or "<none>", _created(svc, now),
            _format_labels(spec.get("selector"))]


def _event_cells(ev: dict[str, Any], now: datetime) -> list[Any]:
    """Core v1 and events.k8s.io/v1 Events print alike: kube converts both to one internal type."""
    new_api = "regarding" in ev or "note" in ev or "deprecatedFirstTimestamp" in ev
    regarding = (ev.get("regarding") if new_api else ev.get("involvedObject")) or {}
    first_ts = ev.get("deprecatedFirstTimestamp" if new_api else "firstTimestamp")
    last_ts = ev.get("deprecatedLastTimestamp" if new_api else "lastTimestamp")
    first = age(first_ts, now) if parse_time(first_ts) else age(ev.get("eventTime"), now)
    last = age(last_ts, now) if parse_time(last_ts) else first
    count = _int(ev.get("deprecatedCount" if new_api else "count"))
    series = ev.get("series")
    if isinstance(series, dict):
        last = age(series.get("lastObservedTime"), now)
        count = _int(series.get("count"))
    elif count == 0:
        count = 1
    kind = str(regarding.get("kind") or "").lower()
    target = f"{kind}/{regarding['name']}" if regarding.get("name") else kind
    source = ev.get("deprecatedSource" if new_api else "source") or {}
    component = source.get("component") or ev.get("reportingController") or ""
    instance = source.get("host") or ev.get("reportingInstance") or ""
    message = str(ev.get("note" if new_api else "message") or "").strip()
    return [last, ev.get("type") or "", ev.get("reason") or "", target, regarding.get("fieldPath") or "",
            f"{component}, {instance}" if instance else component, message, first, count, _name(ev)]


def _role_binding_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    ref = obj.get("roleRef") or {}
    subjects = obj.get("subjects") or []

    def names(kind: str) -> str:
        if kind == "ServiceAccount":
            return ", ".join(f"{s.get('namespace', '')}/{s.get('name', '')}" for s in subjects
                             if s.get("kind") == kind)
        return ", ".join(s.get("name", "") for s in subjects if s.get("kind") == kind)

    return [_name(obj), f"{ref.get('kind', '')}/{ref.get('name', '')}", _created(obj, now),
            names("User"), names("Group"), names("ServiceAccount")]


def _created_at_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    """kube's default table (and the RBAC role printers) show the creation time, not an age."""
    return [_name(obj), _rfc3339(_d(obj, "metadata", "creationTimestamp"))]


def _c(name: str, type_: str = "string", priority: int = 0, description: str = "") -> Column:
    return Column(name, type_, description, priority)


_ROLE_BINDING = (NAME, _c("Role"), AGE, _c("Users", priority=1), _c("Groups", priority=1),
                 _c("ServiceAccounts", priority=1))
_PRINTERS: dict[tuple[str, str], tuple[tuple[Column, ...], Cells]] = {
    ("", "Pod"): ((NAME, _c("Ready", description="The aggregate readiness state of this pod."),
                   _c("Status", description="The aggregate status of the containers in this pod."),
                   _c("Restarts", description="The number of times the containers in this pod have been "
                      "restarted and when the last container in this pod has restarted."), AGE,
                   _c("IP", priority=1), _c("Node", priority=1), _c("Nominated Node", priority=1),
                   _c("Readiness Gates", priority=1)), _pod_cells),
    ("batch", "Job"): ((NAME, _c("Status"), _c("Completions"), _c("Duration"), AGE, *_WIDE_WORKLOAD),
                       _job_cells),
    ("apps", "Deployment"): ((NAME, _c("Ready"), _c("Up-to-date", "integer"), _c("Available", "integer"),
                              AGE, *_WIDE_WORKLOAD), _deployment_cells),
    ("apps", "ReplicaSet"): ((NAME, _c("Desired", "integer"), _c("Current", "integer"),
                              _c("Ready", "integer"), AGE, *_WIDE_WORKLOAD), _replicaset_cells),
    ("apps", "StatefulSet"): ((NAME, _c("Ready"), AGE, *_WIDE_WORKLOAD[:2]), _statefulset_cells),
    ("", "Namespace"): ((NAME, _c("Status"), AGE),
                        lambda o, now: [_name(o), _d(o, "status", "phase") or "", _created(o, now)]),
    ("", "ConfigMap"): ((NAME, _c("Data", "integer"), AGE),
                        lambda o, now: [_name(o), len(o.get("data") or {}) + len(o.get("binaryData") or {}),
                                        _created(o, now)]),
    ("", "Secret"): ((NAME, _c("Type"), _c("Data", "integer"), AGE),
                     lambda o, now: [_name(o), o.get("type") or "", len(o.get("data") or {}),
                                     _created(o, now)]),
    ("", "ServiceAccount"): ((NAME, _c("Secrets", "integer"), AGE),
                             lambda o, now: [_name(o), len(o.get("secrets") or []), _created(o, now)]),
    ("", "Service"): ((NAME, _c("Type"), _c("Cluster-IP"), _c("External-IP"), _c("Port(s)"), AGE,
                       _c("Selector", priority=1)), _service_cells),
    ("coordination.k8s.io", "Lease"): ((NAME, _c("Holder"), AGE),
                                       lambda o, now: [_name(o), _d(o, "spec", "holderIdentity") or "",
                                                       _created(o, now)]),
    ("apiextensions.k8s.io", "CustomResourceDefinition"): ((NAME, CREATED_AT), _created_at_cells),
    ("rbac.authorization.k8s.io", "Role"): ((NAME, _c("Created At")), _created_at_cells),
    ("rbac.authorization.k8s.io", "ClusterRole"): ((NAME, _c("Created At")), _created_at_cells),
    ("rbac.authorization.k8s.io", "RoleBinding"): (_ROLE_BINDING, _role_binding_cells),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): (_ROLE_BINDING, _role_binding_cells),
}
_EVENT_COLUMNS = (_c("Last Seen"), _c("Type"), _c("Reason"), _c("Object"), _c("Subobject", priority=1),
                  _c("Source", priority=1), _c("Message"), _c("First Seen", priority=1),
                  _c("Count", "integer", priority=1), _c("Name", priority=1))
_PRINTERS[("", "Event")] = (_EVENT_COLUMNS, _event_cells)
_PRINTERS[("events.k8s.io", "Event")] = (_EVENT_COLUMNS, _event_cells)
_DEFAULT: tuple[tuple[Column, ...], Cells] = ((NAME, AGE), lambda o, now: [_name(o), _created(o, now)])


# ---------------------------------------------------------------------------------------------
# Custom resources: additionalPrinterColumns.
# ---------------------------------------------------------------------------------------------

def _custom_cell(column_type: str, values: list[Any], now: datetime) -> Any:
    """One cell as apiextensions' table convertor types it; None (kubectl: `<none>`) when absent
    or of the wrong type."""
    if not values or values[0] is None:
        return None
    value = values[0]
    if column_type == "string":
        return format_value(value)
    if column_type == "integer":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return int(value)
    if column_type == "number":
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if column_type == "boolean":
        return value if isinstance(value, bool) else None
    if column_type == "date":
        if not isinstance(value, str):
            return None
        return age(value, now) if parse_time(value) else "<invalid>"
    return None


def _custom_printer(rt: ResourceType) -> tuple[tuple[Column, ...], Cells]:
    declared = list((rt.crd_version or {}).get("additionalPrinterColumns") or [])
    if not declared:  # kube serves an Age column when a CRD version declares none
        declared = [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp",
                     "description": CREATED_AT.description}]
    columns = (NAME, *(Column(c["name"], c.get("type", "string"), c.get("description", ""),
                              int(c.get("priority", 0)), c.get("format", "")) for c in declared))
    paths = [str(c.get("jsonPath", "")) for c in declared]

    def cells(obj: dict[str, Any], now: datetime) -> list[Any]:
        row: list[Any] = [_name(obj)]
        for column, path in zip(columns[1:], paths, strict=True):
            try:
                values = jsonpath(obj, path)
            except JSONPathError:
                values = []
            row.append(_custom_cell(column.type, values, now))
        return row

    return columns, cells


def printer_for(rt: ResourceType) -> tuple[tuple[Column, ...], Cells]:
    """The columns and cell function for one resource type."""
    if rt.is_custom:
        return _custom_printer(rt)
    # Imported here: cluster_printers builds on this module's columns and helpers.
    from conveyor.sim.cluster_printers import PRINTERS

    return _PRINTERS.get((rt.group, rt.kind)) or PRINTERS.get((rt.group, rt.kind), _DEFAULT)


_TERMINAL_POD_ROW = {
    "Succeeded": {"type": "Completed", "status": "True", "reason": "Succeeded",
                  "message": "The pod has completed successfully."},
    "Failed": {"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."},
}


def to_table(rt: ResourceType, objects: list[dict[str, Any]], include_object: str = "Metadata",
             list_metadata: dict[str, Any] | None = None, *, now: datetime | None = None,
             version: str = "v1") -> dict[str, Any]:
    """A meta.k8s.io Table of `objects` (one object for a GET, the items of a list).

    include_object follows the `includeObject` query parameter: "Metadata" (kubectl's default)
    attaches a PartialObjectMetadata to each row, "Object" the whole object, "None" nothing.
    list_metadata carries the list's resourceVersion and continue token into the Table.
    version is the Table version the client negotiated ("v1", or "v1beta1" for old clients).
    """
    now = now or datetime.now(UTC)
    columns, cells = printer_for(rt)
    group_version = f"meta.k8s.io/{version}"
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": cells(obj, now)}
        if rt.group == "" and rt.kind == "Pod":
            condition = _TERMINAL_POD_ROW.get(str(_d(obj, "status", "phase") or ""))
            if condition:
                row["conditions"] = [condition]
        if include_object == "Metadata":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": group_version,
                             "metadata": obj.get("metadata") or {}}
        elif include_object == "Object":
            row["object"] = obj
        rows.append(row)
    metadata = {k: v for k, v in (list_metadata or {}).items() if k in ("resourceVersion", "continue")
                and v not in (None, "")}
    return {"kind": "Table", "apiVersion": group_version, "metadata": metadata,
            "columnDefinitions": [c.definition() for c in columns], "rows": rows}
