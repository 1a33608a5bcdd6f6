"""Where a field sits decides how it merges: a trie over the built-in tag table, per (group, kind).

A `Node` answers, for one field path of one kind, the strategic-merge-patch strategy and merge key and
the server-side-apply shape. Kinds and paths without metadata get `UNTAGGED`, whose lists are atomic and
whose maps merge key by key, which is what kube-apiserver does without patch metadata (custom resources
in this simplification, and unknown fields).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from conveyor.sim.patching.builtin_tags import FRAGMENTS, KINDS, Tag


@dataclass
class Node:
    strategy: str = ""        # "merge", "retainKeys", "merge,retainKeys", "replace" or ""
    merge_key: str = ""       # patchMergeKey of a list of objects merged by strategic merge patch
    structure: str = ""       # SSA: "map" (associative list), "set", "atomic" (atomic map) or ""
    map_keys: tuple[str, ...] = ()
    children: dict[str, Node] = field(default_factory=dict)

    def child(self, name: str) -> Node:
        return self.children.get(name) or self.children.get("*") or UNTAGGED

    @property
    def map_key_defaults(self) -> dict[str, str]:
        """Defaults of this associative list's key fields (see LIST_MAP_KEY_DEFAULTS)."""
        return {k: LIST_MAP_KEY_DEFAULTS[k] for k in self.map_keys if k in LIST_MAP_KEY_DEFAULTS}

    @property
    def merges_list(self) -> bool:
        return "merge" in self.strategy.split(",")


UNTAGGED = Node()

# Keys of associative lists that kube's OpenAPI gives a default (ContainerPort.protocol and
# ServicePort.protocol, both "TCP"). An element whose key field is left out is the element with the
# default there: the stored object always has it (defaulted at create), so an apply that omits it
# must still name the same element rather than add a second one.
LIST_MAP_KEY_DEFAULTS: dict[str, str] = {"protocol": "TCP"}


def _insert(root: Node, path: str, value: Tag | str) -> None:
    *parents, last = path.split(".")
    node = root
    for name in parents:
        node = node.children.setdefault(name, Node())
    if isinstance(value, str):
        node.children[last] = _fragment(value)
        return
    target = node.children.setdefault(last, Node())
    strategy, merge_key, structure, keys = value
    target.strategy, target.merge_key, target.structure = strategy, merge_key, structure
    target.map_keys = tuple(k for k in keys.split(",") if k)


@cache
def _fragment(name: str) -> Node:
    root = Node()
    for path, value in FRAGMENTS[name].items():
        _insert(root, path, value)
    return root


@cache
def kind_schema(group: str, kind: str) -> Node:
    """The root node of a kind; `UNTAGGED` for kinds not in the table (custom resources)."""
    table = KINDS.get((group, kind))
    if table is None:
        return UNTAGGED
    root = Node()
    for path, value in table.items():
        _insert(root, path, value)
    return root
