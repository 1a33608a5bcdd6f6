"""RFC 6902 JSON patch (application/json-patch+json), failing as kube-apiserver does.

kube-apiserver (handlers/patch.go) answers a body that is not a list of operations with 400 BadRequest,
and an operation that cannot be applied (a failed `test`, a missing path, an unknown op) with
422 Invalid, message "the server rejected our request due to an error in our request", and one cause of
type UnexpectedServerResponse carrying the json-patch library's error text. Clients (kubectl, kopf) read
the code and reason; the texts below follow evanphx/json-patch's wording closely enough for a human.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import jsonpointer

from conveyor.sim.errors import StatusError, bad_request

_REJECTED = "the server rejected our request due to an error in our request"
_OPS = {"add", "remove", "replace", "move", "copy", "test"}


def _unprocessable(message: str) -> StatusError:
    """422 Invalid without an object name, as `NewGenericServerResponse(422, ...)` renders it."""
    return StatusError(422, "Invalid", _REJECTED,
                       {"causes": [{"reason": "UnexpectedServerResponse", "message": message}]})


def json_patch(obj: dict[str, Any], ops: list[Any]) -> dict[str, Any]:
    """A new object with every operation applied in order, or a StatusError and no change at all."""
    if not isinstance(ops, list):
        raise bad_request(f"json: cannot unmarshal {_json_type(ops)} into Go value of type jsonpatch.Patch")
    for op in ops:
        if not isinstance(op, dict):
            raise bad_request(f"json: cannot unmarshal {_json_type(op)} into Go value of type "
                              "jsonpatch.Operation")
        _check_op(op)
    doc = copy.deepcopy(obj)
    for op in ops:
        try:
            doc = jsonpatch.JsonPatch([op]).apply(doc, in_place=True)
        except jsonpatch.JsonPatchTestFailed as e:
            raise _unprocessable(f"testing value {op['path']} failed: test failed") from e
        except (jsonpatch.JsonPatchConflict, jsonpointer.JsonPointerException, jsonpatch.JsonPatchException,
                KeyError, IndexError, TypeError) as e:
            raise _unprocessable(_missing(op)) from e
    if not isinstance(doc, dict):
        raise _unprocessable("the patched document is not an object")
    return doc


def _check_op(op: dict[str, Any]) -> None:
    kind = op.get("op")
    if kind not in _OPS:
        raise _unprocessable(f"Unexpected kind: {kind}")
    if not isinstance(op.get("path"), str):
        raise _unprocessable(f"{kind} operation missing path")
    if kind in ("move", "copy") and not isinstance(op.get("from"), str):
        raise _unprocessable(f"{kind} operation missing from")
    if kind in ("add", "replace", "test") and "value" not in op:
        raise _unprocessable(f"{kind} operation missing value")


def _missing(op: dict[str, Any]) -> str:
    kind = op["op"]
    if kind in ("move", "copy"):
        return f"{kind} operation does not apply: doc is missing from path: {op['from']}: missing value"
    what = "key" if kind == "replace" else "path"
    return f"{kind} operation does not apply: doc is missing {what}: {op['path']}: missing value"


def _json_type(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "array" if isinstance(value, list) else "null"
