#!/usr/bin/env python3
"""Generate the protobuf schema of the Kubernetes API types from the kubectl binary itself.

client-go sends request bodies of built-in kinds as protobuf, so `conveyor.sim` must know, for each
API struct, which proto field number is which JSON field and of which Go type. Those facts live in
the struct tags of the Go types (`json:"replicas,omitempty" protobuf:"varint,1,opt,name=replicas"`),
and a Go binary keeps its types' runtime descriptors (abi.Type) for reflection even when its symbol
table is stripped. This script walks those descriptors in the real kubectl (ELF, amd64, Go 1.25) and
writes `operator/conveyor/sim/protobuf/k8s_1_35.json`; nothing is typed in by hand, so regenerating
from a newer kubectl is the whole upgrade path.

How the walk starts: the runtime's `firstmoduledata` holds the `typelinks` slice (offsets of the
unnamed composite types, e.g. `*v1.Pod`) and the `types` base every name/type offset is relative to;
it is found as the only place in .noptrdata that points at the .typelink section with its length.
From there the walk follows pointer, slice, array, map and struct-field element types.

Layouts relied on (Go 1.21+ abi; swiss maps, the default from Go 1.24): abi.Type is 48 bytes
(size, ptrdata, hash, tflag, align, fieldAlign, kind, equal, gcdata, str NameOff, ptrToThis);
StructType adds pkgPath and a []StructField of {name, typ, offset}; the UncommonType (pkgPath NameOff)
follows the kind-specific part when tflag has the Uncommon bit. A name is a flags byte (1 exported,
2 has tag, 4 has pkgPath, 8 embedded), a varint length and the bytes, then the tag the same way.

Output (sorted, deterministic):
  "types": {"k8s.io/api/core/v1.ConfigMap": [[number, json name, json options, shape(, proto name)], ...]}
     where shape is a Go-like type expression over scalars (string, bool, int32, int64, uint32,
     uint64, float32, float64, bytes) and struct names: "*T", "[]T", "map[K]V", and "@[]T" for a
     named slice type, which protobuf wraps in a message of its own (items = field 1). Named
     scalar types (Protocol, UID ...) appear as their kind. Embedded structs that encoding/json
     flattens carry the option "inline".
  "kinds": {"apps/v1": {"Deployment": "k8s.io/api/apps/v1.Deployment"}} keyed by package path below
     k8s.io/api (core/v1 for the legacy group), for types that embed metav1.TypeMeta; "meta/v1" holds
     apimachinery's own kinds (DeleteOptions, Status ...), which every group version accepts.
  "special": struct names whose JSON form is not their fields (Time, Quantity, IntOrString ...); their
     rows are kept where the binary has tags for them, for the decoder to find the field numbers.
  The proto name is a fifth column only where it differs from the JSON name.

Usage: scripts/gen_k8s_protobuf_schema.py [KUBECTL] [OUT]   (defaults: .tools/bin/kubectl, the data file)
"""

from __future__ import annotations

import json
import re
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BINARY = ROOT / ".tools" / "bin" / "kubectl"
DEFAULT_OUT = ROOT / "operator" / "conveyor" / "sim" / "protobuf" / "k8s_1_35.json"

WANTED_PREFIXES = (
    "k8s.io/api/",
    "k8s.io/apiextensions-apiserver/pkg/apis/",
)
WANTED_PACKAGES = (
    "k8s.io/apimachinery/pkg/apis/meta/v1",
    "k8s.io/apimachinery/pkg/api/resource",
    "k8s.io/apimachinery/pkg/util/intstr",
    "k8s.io/apimachinery/pkg/runtime",
)
META = "k8s.io/apimachinery/pkg/apis/meta/v1"
# Types with hand-written protobuf/JSON codecs in apimachinery: their Go fields say nothing about the
# wire (Time embeds time.Time; Quantity hides its value), so the decoder treats them by name.
SPECIAL = {
    f"{META}.Time": "time",
    f"{META}.MicroTime": "microtime",
    f"{META}.Duration": "duration",
    f"{META}.FieldsV1": "rawjson",
    "k8s.io/apimachinery/pkg/runtime.RawExtension": "rawjson",
    "k8s.io/apimachinery/pkg/api/resource.Quantity": "quantity",
    "k8s.io/apimachinery/pkg/util/intstr.IntOrString": "intorstring",
    "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1.JSON": "rawjson",
}

# abi.Kind values (the low 5 bits of the kind byte).
BOOL, INT, INT8, INT16, INT32, INT64 = 1, 2, 3, 4, 5, 6
UINT, UINT8, UINT16, UINT32, UINT64, UINTPTR = 7, 8, 9, 10, 11, 12
FLOAT32, FLOAT64 = 13, 14
ARRAY, CHAN, FUNC, INTERFACE, MAP, POINTER, SLICE, STRING, STRUCT = 17, 18, 19, 20, 21, 22, 23, 24, 25
SCALARS = {BOOL: "bool", INT: "int64", INT8: "int32", INT16: "int32", INT32: "int32", INT64: "int64",
           UINT: "uint64", UINT8: "uint32", UINT16: "uint32", UINT32: "uint32", UINT64: "uint64",
           UINTPTR: "uint64", FLOAT32: "float32", FLOAT64: "float64", STRING: "string"}
TFLAG_UNCOMMON, TFLAG_EXTRA_STAR = 1, 2
TYPE_HEADER = 48
# Size of the kind-specific part after the header: where the UncommonType starts.
EXTRA_SIZE = {POINTER: 8, SLICE: 8, ARRAY: 24, CHAN: 16, FUNC: 8, INTERFACE: 32, STRUCT: 32, MAP: 64}


class FormatError(Exception):
    """The binary is not laid out as this script expects (another Go version or architecture)."""


class Image:
    """The loadable sections of an ELF file, addressed by virtual address."""

    def __init__(self, data: bytes) -> None:
        if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
            raise FormatError("not a 64-bit little-endian ELF file")
        self.data = data
        shoff, = struct.unpack_from("<Q", data, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
        raw = [struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize) for i in range(shnum)]
        strtab_off = raw[shstrndx][4]
        self.sections: dict[str, tuple[int, int, int]] = {}
        for name_off, typ, _flags, addr, off, size in raw:
            name = data[strtab_off + name_off:data.index(b"\0", strtab_off + name_off)].decode()
            if addr and typ != 8:  # SHT_NOBITS has no bytes in the file
                self.sections[name] = (addr, off, size)

    def offset(self, addr: int) -> int:
        for start, off, size in self.sections.values():
            if start <= addr < start + size:
                return off + addr - start
        raise FormatError(f"address {addr:#x} is in no section")

    def u8(self, addr: int) -> int:
        return self.data[self.offset(addr)]

    def i32(self, addr: int) -> int:
        return int(struct.unpack_from("<i", self.data, self.offset(addr))[0])

    def u64(self, addr: int) -> int:
        return int(struct.unpack_from("<Q", self.data, self.offset(addr))[0])


@dataclass
class GoField:
    name: str
    tag: str
    embedded: bool
    type: int  # address of the field's abi.Type


@dataclass
class GoType:
    addr: int
    kind: int
    name: str  # "pkg/path.Name" for named types, "" otherwise
    elem: int = 0
    key: int = 0
    fields: list[GoField] = field(default_factory=list)


class TypeReader:
    """Decodes abi.Type descriptors; every offset (names, types) is relative to `types`."""

    def __init__(self, image: Image) -> None:
        self.image = image
        self.types_base, self.typelinks = self._find_module_data()
        self._cache: dict[int, GoType] = {}

    def _find_module_data(self) -> tuple[int, list[int]]:
        tl_addr, _tl_off, tl_size = self.image.sections[".typelink"]
        count = tl_size // 4
        needle = struct.pack("<QQQ", tl_addr, count, count)
        addr, off, size = self.image.sections[".noptrdata"]
        at = self.image.data.find(needle, off, off + size)
        if at < 0 or self.image.data.find(needle, at + 1, off + size) >= 0:
            raise FormatError("cannot find the one moduledata.typelinks slice in .noptrdata")
        slice_addr = addr + at - off
        # moduledata: ... types, etypes, rodata, gofunc uintptr; textsectmap []textsect; typelinks []int32
        types_base = self.image.u64(slice_addr - 7 * 8)
        etypes = self.image.u64(slice_addr - 6 * 8)
        links = [types_base + self.image.i32(tl_addr + 4 * i) for i in range(count)]
        if not all(types_base <= t < etypes for t in links):
            raise FormatError("typelinks fall outside [types, etypes): moduledata layout differs")
        return types_base, links

    def name_at(self, addr: int) -> tuple[int, str, str]:
        """(flags, name, tag) of an abi.Name."""
        flags = self.image.u8(addr)
        pos = addr + 1
        length, pos = self._varint(pos)
        name = self._bytes(pos, length).decode()
        pos += length
        tag = ""
        if flags & 2:
            tlen, pos = self._varint(pos)
            tag = self._bytes(pos, tlen).decode()
        return flags, name, tag

    def _bytes(self, addr: int, n: int) -> bytes:
        off = self.image.offset(addr)
        return self.image.data[off:off + n]

    def _varint(self, addr: int) -> tuple[int, int]:
        value = shift = 0
        while True:
            b = self.image.u8(addr)
            addr += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return value, addr

    def read(self, addr: int) -> GoType:
        if addr in self._cache:
            return self._cache[addr]
        img = self.image
        tflag, kind = img.u8(addr + 20), img.u8(addr + 23) & 0x1F
        t = GoType(addr, kind, "")
        self._cache[addr] = t
        if tflag & TFLAG_UNCOMMON:
            _f, short, _t = self.name_at(self.types_base + img.i32(addr + 40))
            if tflag & TFLAG_EXTRA_STAR:
                short = short[1:]
            pkg_off = img.i32(addr + TYPE_HEADER + EXTRA_SIZE.get(kind, 0))
            pkg = self.name_at(self.types_base + pkg_off)[1] if pkg_off else ""
            # Named types print as "v1.Pod"; unnamed ones with methods (rare) have no dot prefix.
            if "." in short and pkg and not short.startswith(("*", "[", "map[", "struct", "func")):
                t.name = f"{pkg}.{short.split('.', 1)[1]}"
        if kind in (POINTER, SLICE, ARRAY, CHAN):
            t.elem = img.u64(addr + TYPE_HEADER)
        elif kind == MAP:
            t.key, t.elem = img.u64(addr + TYPE_HEADER), img.u64(addr + TYPE_HEADER + 8)
        elif kind == STRUCT:
            fields_ptr, nfields = img.u64(addr + TYPE_HEADER + 8), img.u64(addr + TYPE_HEADER + 16)
            for i in range(nfields):
                f_addr = fields_ptr + 24 * i
                flags, fname, tag = self.name_at(img.u64(f_addr))
                t.fields.append(GoField(fname, tag, bool(flags & 8), img.u64(f_addr + 8)))
        return t

    def all_types(self) -> dict[int, GoType]:
        """Every type reachable from the typelinks and itablinks through element and field types."""
        todo = list(self.typelinks)
        il_addr, _off, il_size = self.image.sections[".itablink"]
        todo += [self.image.u64(self.image.u64(il_addr + 8 * i) + 8) for i in range(il_size // 8)]
        seen: dict[int, GoType] = {}
        while todo:
            addr = todo.pop()
            if addr in seen or not addr:
                continue
            t = seen[addr] = self.read(addr)
            todo += [a for a in (t.elem, t.key) if a]
            todo += [f.type for f in t.fields]
            ptr_to_this = self.image.i32(addr + 44)
            if ptr_to_this:
                todo.append(self.types_base + ptr_to_this)
        return seen


def parse_tag(tag: str) -> dict[str, str]:
    """Go's reflect.StructTag convention: key:"value" pairs separated by spaces."""
    out: dict[str, str] = {}
    i = 0
    while i < len(tag):
        while i < len(tag) and tag[i] == " ":
            i += 1
        colon = tag.find(':"', i)
        if colon < 0:
            break
        end = colon + 2
        while end < len(tag) and tag[end] != '"':
            end += 2 if tag[end] == "\\" else 1
        out[tag[i:colon]] = tag[colon + 2:end]
        i = end + 1
    return out


def wanted(name: str) -> bool:
    pkg = name.rsplit(".", 1)[0]
    return pkg in WANTED_PACKAGES or pkg.startswith(WANTED_PREFIXES)


class SchemaBuilder:
    def __init__(self, types: dict[int, GoType]) -> None:
        self.types = types
        self.structs: dict[str, GoType] = {}
        for t in types.values():
            if t.kind == STRUCT and t.name and wanted(t.name):
                self.structs[t.name] = t

    def shape(self, addr: int) -> str:
        """The Go-like type expression the decoder needs; named scalars collapse to their kind."""
        t = self.types[addr]
        if t.kind == STRUCT:
            if not t.name:
                raise FormatError("anonymous struct in an API type")
            return t.name
        if t.kind == POINTER:
            return "*" + self.shape(t.elem)
        if t.kind == SLICE:
            if self.types[t.elem].kind == UINT8:
                return "bytes"
            # A named slice type (metav1.Verbs, authentication's ExtraValue) is its own proto message
            # whose field 1 holds the items; an unnamed one is a plain repeated field.
            return ("@[]" if t.name else "[]") + self.shape(t.elem)
        if t.kind == MAP:
            return f"map[{self.shape(t.key)}]{self.shape(t.elem)}"
        if t.kind in SCALARS:
            return SCALARS[t.kind]
        if t.kind == INTERFACE:
            return "interface"
        raise FormatError(f"unsupported kind {t.kind} ({t.name})")

    def struct_fields(self, t: GoType) -> list[list[object]]:
        rows: list[list[object]] = []
        for f in t.fields:
            tags = parse_tag(f.tag)
            pb = tags.get("protobuf", "")
            if not pb or pb == "-":
                continue
            number = int(pb.split(",")[1])
            json_parts = tags.get("json", "").split(",")
            json_name = json_parts[0]
            json_opts = ",".join(sorted(json_parts[1:]))
            if json_name == "" and f.embedded and "inline" not in json_opts:
                json_name = f.name  # Go's encoding/json names an untagged embedded struct's fields inline
                json_opts = ",".join(filter(None, [json_opts, "inline"]))
            elif json_name == "":
                json_name = f.name
            row: list[object] = [number, json_name, json_opts, self.shape(f.type)]
            proto_name = next((p[5:] for p in pb.split(",") if p.startswith("name=")), json_name)
            if proto_name != json_name:
                row.append(proto_name)  # the codecs of special types (RawExtension.raw) go by this name
            rows.append(row)
        rows.sort(key=lambda r: int(str(r[0])))
        return rows

    def embeds_type_meta(self, t: GoType) -> bool:
        return any(f.embedded and self.types[f.type].name == f"{META}.TypeMeta" for f in t.fields)

    def build(self) -> dict[str, object]:
        roots = {name for name, t in self.structs.items()
                 if self.embeds_type_meta(t) and name.startswith((*WANTED_PREFIXES, META + "."))}
        roots |= {f"{META}.Status", f"{META}.Timestamp", "k8s.io/apimachinery/pkg/runtime.Unknown",
                  *SPECIAL} & set(self.structs)
        schema: dict[str, list[list[object]]] = {}
        todo = sorted(roots)
        while todo:
            name = todo.pop()
            if name in schema:
                continue
            rows = self.struct_fields(self.structs[name])
            schema[name] = rows
            for row in rows:
                shape = str(row[3])
                for token in re.split(r"[\[\]*@ ]+|map\[", shape):
                    if token in self.structs and token not in schema:
                        todo.append(token)
        kinds: dict[str, dict[str, str]] = {}
        for name in sorted(roots):
            if not self.embeds_type_meta(self.structs[name]):
                continue
            pkg, kind = name.rsplit(".", 1)
            if pkg == META:
                gv = "meta/v1"  # DeleteOptions, Status ...: registered in every group version
            elif pkg.startswith("k8s.io/apiextensions-apiserver/pkg/apis/"):
                gv = "apiextensions/" + pkg.rsplit("/", 1)[1]
            else:
                gv = pkg[len("k8s.io/api/"):]
            kinds.setdefault(gv, {})[kind] = name
        special = {name: how for name, how in SPECIAL.items() if name in self.structs}
        return {"generator": "scripts/gen_k8s_protobuf_schema.py", "kinds": kinds, "special": special,
                "types": dict(sorted(schema.items()))}


def render(schema: dict[str, object]) -> str:
    """One type per line: small, stable diffs when kubectl is upgraded."""
    lines = ["{"]
    for i, (key, value) in enumerate(schema.items()):
        comma = "," if i < len(schema) - 1 else ""
        if key == "types":
            assert isinstance(value, dict)
            lines.append('"types": {')
            items = list(value.items())
            for j, (name, rows) in enumerate(items):
                sep = "," if j < len(items) - 1 else ""
                lines.append(f"{json.dumps(name)}: {json.dumps(rows, separators=(',', ':'))}{sep}")
            lines.append("}" + comma)
        else:
            text = json.dumps(value, sort_keys=True, separators=(",", ":"))
            lines.append(f"{json.dumps(key)}: {text}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def generate(binary: Path) -> str:
    reader = TypeReader(Image(binary.read_bytes()))
    return render(SchemaBuilder(reader.all_types()).build())


def main(argv: list[str]) -> int:
    binary = Path(argv[1]) if len(argv) > 1 else DEFAULT_BINARY
    out = Path(argv[2]) if len(argv) > 2 else DEFAULT_OUT
    text = generate(binary)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"wrote {out} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
