"""Patching for the sim: JSON merge, JSON patch, strategic merge patch, server-side apply, field ownership.

Pure functions over plain dicts: the server core calls them and stores what they return; they raise
`conveyor.sim.errors.StatusError` for what kube-apiserver rejects.
"""

from conveyor.sim.patching.apply import server_side_apply, track_update
from conveyor.sim.patching.json_patch import json_patch
from conveyor.sim.patching.merge import merge_patch
from conveyor.sim.patching.strategic import strategic_merge_patch

__all__ = ["json_patch", "merge_patch", "server_side_apply", "strategic_merge_patch", "track_update"]
