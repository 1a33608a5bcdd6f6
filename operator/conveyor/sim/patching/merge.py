"""RFC 7386 JSON merge patch (application/merge-patch+json)."""

from __future__ import annotations

import copy
from typing import Any


def merge_patch(obj: dict[str, Any], patch: Any) -> dict[str, Any]:
    """A new object (nothing shared with `obj` or `patch`): `null` deletes a key, a map merges key by
    key, anything else replaces.

    A patch that is not a map replaces the whole document; the server then rejects the result as an
    invalid object, as kube-apiserver does, so this function never raises.
    """
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(obj)
    _merge_into(result, patch)
    return result


def _merge_into(target: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict):
            current = target.get(key)
            if not isinstance(current, dict):
                current = target[key] = {}
            _merge_into(current, value)
        else:
            target[key] = copy.deepcopy(value)
