"""Kubernetes protobuf request bodies → the dict their JSON encoding would have given.

client-go's typed clients (kubectl create ..., helm's release Secrets) send built-in kinds as
`application/vnd.kubernetes.protobuf`: the magic `k8s\\x00`, then a runtime.Unknown message whose
typeMeta names the kind and whose raw is the object's own message. The rest of the sim speaks JSON,
so the invariant here is: decode_body(proto bytes of X) == json.loads(Go's json.Marshal(X)) — the same
fields omitted (omitempty, omitzero, nil pointers/slices/maps), null where Go writes null, []byte as
base64, Time as RFC 3339, Quantity and IntOrString in their string/int forms, RawExtension as JSON.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from conveyor.sim.errors import StatusError, bad_request
from conveyor.sim.protobuf import special
from conveyor.sim.protobuf.schema import FieldSpec, Schema, Shape, load
from conveyor.sim.protobuf.wire import (
    FIXED32,
    FIXED64,
    LENGTH_DELIMITED,
    VARINT,
    Field,
    WireError,
    double,
    iter_fields,
    iter_packed_varints,
    signed,
    single,
)

CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"
UNKNOWN = "k8s.io/apimachinery/pkg/runtime.Unknown"
TYPE_META = "k8s.io/apimachinery/pkg/runtime.TypeMeta"
TIMESTAMP = "k8s.io/apimachinery/pkg/apis/meta/v1.Timestamp"
ZERO: dict[str, Any] = {"string": "", "bool": False, "float32": 0, "float64": 0}


@dataclass
class Value:
    """A decoded Go value in JSON form, with what encoding/json's omit rules need to know of it."""

    json: Any
    zero: bool  # reflect.Value.IsZero (or the type's IsZero method): what omitzero omits
    empty: bool  # what omitempty omits: false, 0, "", nil pointer, len-0 slice/map/string


def is_protobuf(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() == CONTENT_TYPE


def decode_body(data: bytes, schema: Schema | None = None) -> dict[str, Any]:
    """The JSON-equivalent dict of a protobuf-encoded object; StatusError 400/415 when it cannot be read."""
    schema = schema or load()
    if not data.startswith(MAGIC):
        raise bad_request("the object provided is unrecognized: provided data does not appear to be a "
                          f"protobuf message, expected prefix {list(MAGIC)}")
    try:
        envelope = _Unknown.read(schema, data[len(MAGIC):])
    except WireError as exc:
        raise bad_request(f"the object provided is unrecognized: {exc}") from None
    if envelope.content_encoding:
        raise StatusError(415, "UnsupportedMediaType",
                          f'unsupported content encoding "{envelope.content_encoding}" in a protobuf body')
    if envelope.content_type not in ("", CONTENT_TYPE):
        raise StatusError(415, "UnsupportedMediaType",
                          f'unsupported content type "{envelope.content_type}" inside a protobuf body')
    if not envelope.kind or not envelope.api_version:
        raise bad_request("Object 'Kind' is missing in the protobuf body")
    go_type = schema.go_type_of(envelope.api_version, envelope.kind)
    if go_type is None:
        raise StatusError(415, "UnsupportedMediaType",
                          f'the body of the request was in an unknown format - {CONTENT_TYPE} is accepted '
                          f'only for built-in kinds, not for kind "{envelope.kind}" in version '
                          f'"{envelope.api_version}"')
    try:
        obj = _Decoder(schema).message(go_type, envelope.raw).json
    except (WireError, ValueError) as exc:
        raise bad_request(f"error decoding {envelope.kind} from protobuf: {exc}") from None
    except RecursionError:
        raise bad_request(f"error decoding {envelope.kind} from protobuf: nested too deeply") from None
    return {"apiVersion": envelope.api_version, "kind": envelope.kind, **obj}


@dataclass
class _Unknown:
    api_version: str
    kind: str
    raw: bytes
    content_encoding: str
    content_type: str

    @classmethod
    def read(cls, schema: Schema, data: bytes) -> _Unknown:
        """runtime.Unknown, read by its proto field names: its raw has no JSON form to go through."""
        fields = list(iter_fields(data))

        def payload(go_type: str, name: str, within: list[Field]) -> bytes:
            number = schema.number_of(go_type, name)
            return _payload([f for f in within if f.number == number])

        type_meta = list(iter_fields(payload(UNKNOWN, "typeMeta", fields)))
        return cls(payload(TYPE_META, "apiVersion", type_meta).decode("utf-8", errors="replace"),
                   payload(TYPE_META, "kind", type_meta).decode("utf-8", errors="replace"),
                   payload(UNKNOWN, "raw", fields),
                   payload(UNKNOWN, "contentEncoding", fields).decode("utf-8", errors="replace"),
                   payload(UNKNOWN, "contentType", fields).decode("utf-8", errors="replace"))


class _Decoder:
    def __init__(self, schema: Schema) -> None:
        self.schema = schema

    def message(self, go_type: str, data: bytes) -> Value:
        how = self.schema.special.get(go_type)
        if how is not None:
            return self._special(how, go_type, data)
        if not self.schema.has_type(go_type):
            raise ValueError(f"no protobuf schema for {go_type}")
        specs = self.schema.fields(go_type)
        seen: dict[int, list[Field]] = {}
        for f in iter_fields(data):
            if f.number in specs:  # unknown fields are skipped, as proto decoders do
                seen.setdefault(f.number, []).append(f)
        out: dict[str, Any] = {}
        promoted: list[dict[str, Any]] = []
        all_zero = True
        for number, spec in sorted(specs.items()):
            value = self._field(spec, seen.get(number, []))
            all_zero = all_zero and value.zero
            if spec.inline:
                if isinstance(value.json, dict):
                    promoted.append(value.json)
                continue
            if (spec.omitempty and value.empty) or (spec.omitzero and value.zero):
                continue
            out[spec.json_name] = value.json
        for fields in promoted:  # encoding/json: a field of the outer struct wins over a promoted one
            for name, item in fields.items():
                out.setdefault(name, item)
        return Value(out, all_zero, False)

    def _field(self, spec: FieldSpec, occurrences: list[Field]) -> Value:
        try:
            return self._value(spec.shape, occurrences)
        except (WireError, ValueError) as exc:
            raise ValueError(f"field {spec.json_name} ({spec.number}): {exc}") from None

    def _value(self, shape: Shape, occurrences: list[Field]) -> Value:
        kind = shape.kind
        if kind == "scalar":
            if not occurrences:
                json_zero = ZERO.get(shape.name, 0)
                return Value(json_zero, True, True)
            item = _scalar(shape.name, occurrences[-1])
            return Value(item, not item, not item)
        if kind == "bytes":
            if not occurrences:
                return Value(None, True, True)
            raw = _payload(occurrences[-1:])
            return Value(base64.b64encode(raw).decode("ascii"), False, not raw)
        if kind == "message":
            return self.message(shape.name, _payload(occurrences))
        if kind == "pointer":
            if not occurrences:
                return Value(None, True, True)
            inner = self._value(shape.inner, occurrences)
            return Value(inner.json, False, False)
        if kind == "list":
            if not occurrences:
                return Value(None, True, True)
            items = self._elements(shape.inner, occurrences)
            return Value(items, False, not items)
        if kind == "wrapped":
            if not occurrences:
                return Value(None, True, True)
            inner_fields = [f for f in iter_fields(_payload(occurrences)) if f.number == 1]
            items = self._elements(shape.inner, inner_fields)
            return Value(items, False, not items)
        if kind == "map":
            if not occurrences:
                return Value(None, True, True)
            entries = {}
            for entry in occurrences:
                parts = list(iter_fields(_payload([entry])))
                key = self._value(_key(shape), [f for f in parts if f.number == 1]).json
                item = self._value(shape.inner, [f for f in parts if f.number == 2]).json
                entries[key if isinstance(key, str) else json.dumps(key)] = item
            return Value(entries, False, not entries)
        raise ValueError(f"unsupported shape {kind}")

    def _elements(self, elem: Shape, occurrences: list[Field]) -> list[Any]:
        if elem.kind == "scalar" and elem.name not in ("string",):
            flat: list[Field] = []
            for f in occurrences:
                if f.wire_type == LENGTH_DELIMITED:  # packed repeated scalars
                    flat += [Field(f.number, VARINT, v) for v in iter_packed_varints(_payload([f]))]
                else:
                    flat.append(f)
            occurrences = flat
        return [self._value(elem, [f]).json for f in occurrences]

    def _special(self, how: str, go_type: str, data: bytes) -> Value:
        fields = list(iter_fields(data))

        def last(name: str, go_owner: str = go_type) -> Field | None:
            number = self.schema.number_of(go_owner, name)
            found = [f for f in fields if f.number == number]
            return found[-1] if found else None

        if how in ("time", "microtime"):
            if not data:  # a zero time is marshalled as an empty message; JSON writes null, and
                return Value(None, True, False)  # omitempty keeps it (a struct is never "empty")
            seconds, nanos = last("seconds", TIMESTAMP), last("nanos", TIMESTAMP)
            secs = signed(_int(seconds), 64) if seconds else 0
            ns = signed(_int(nanos), 32) if nanos else 0
            text = special.format_time(secs) if how == "time" else special.format_micro_time(secs, ns)
            return Value(text, False, False)
        if how == "duration":
            value = last("duration")
            ns = signed(_int(value), 64) if value else 0
            return Value(special.format_duration(ns), ns == 0, False)
        if how == "quantity":
            # resource.Quantity's message is hand-written: one string field, number 1.
            strings = [f for f in fields if f.number == 1]
            text = _text(strings[-1]) if strings else ""
            return Value(text or "0", text in ("", "0"), False)
        if how == "intorstring":
            kind, int_val, str_val = last("type"), last("intVal"), last("strVal")
            is_string = bool(kind and _int(kind))
            number = signed(_int(int_val), 32) if int_val else 0
            text = _text(str_val) if str_val else ""
            zero = not is_string and not number and not text
            return Value(text if is_string else number, zero, False)
        if how == "rawjson":
            number = next(iter(self.schema.fields(go_type)))
            raws = [f for f in fields if f.number == number]
            if not raws:
                return Value(None, True, False)
            raw = _payload(raws[-1:])
            try:
                return Value(json.loads(raw) if raw.strip() else None, False, False)
            except (ValueError, UnicodeDecodeError):
                raise ValueError(f"{go_type.rsplit('.', 1)[1]} does not hold JSON") from None
        raise ValueError(f"no codec for {go_type}")


def _key(shape: Shape) -> Shape:
    assert shape.key is not None
    return shape.key


def _payload(occurrences: list[Field]) -> bytes:
    """Protobuf merges repeated occurrences of a message field; concatenating the payloads does that."""
    parts = []
    for f in occurrences:
        if not isinstance(f.value, bytes):
            raise WireError(f"field {f.number}: expected a length-delimited value, "
                            f"got wire type {f.wire_type}")
        parts.append(f.value)
    return b"".join(parts)


def _int(f: Field) -> int:
    if not isinstance(f.value, int) or f.wire_type not in (VARINT, FIXED64, FIXED32):
        raise WireError(f"field {f.number}: expected a number, got wire type {f.wire_type}")
    return f.value


def _text(f: Field) -> str:
    # Go's encoding/json replaces invalid UTF-8 with U+FFFD; so does this.
    return _payload([f]).decode("utf-8", errors="replace")


def _scalar(go_kind: str, f: Field) -> Any:
    if go_kind == "string":
        return _text(f)
    if go_kind == "float64":
        if f.wire_type != FIXED64:
            raise WireError(f"field {f.number}: expected fixed64, got wire type {f.wire_type}")
        return _json_number(double(_int(f)))
    if go_kind == "float32":
        if f.wire_type != FIXED32:
            raise WireError(f"field {f.number}: expected fixed32, got wire type {f.wire_type}")
        return _json_number(single(_int(f)))
    if f.wire_type != VARINT:
        raise WireError(f"field {f.number}: expected a varint, got wire type {f.wire_type}")
    raw = _int(f)
    if go_kind == "bool":
        return raw != 0
    if go_kind == "int32":
        return signed(raw, 32)
    if go_kind == "int64":
        return signed(raw, 64)
    if go_kind == "uint32":
        return raw & 0xFFFFFFFF
    return raw & 0xFFFFFFFFFFFFFFFF


def _json_number(value: float) -> float | int:
    """Go writes a whole float64 without a fraction (1, not 1.0), which json.loads reads as an int."""
    if value.is_integer() and abs(value) < 1e21:
        return int(value)
    return value


__all__ = ["CONTENT_TYPE", "decode_body", "is_protobuf"]
