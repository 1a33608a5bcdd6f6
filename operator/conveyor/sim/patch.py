"""The patch formats the server accepts; the implementations live in `conveyor.sim.patching`."""

from conveyor.sim.patching import (
    json_patch,
    merge_patch,
    server_side_apply,
    strategic_merge_patch,
    track_update,
)

__all__ = ["json_patch", "merge_patch", "server_side_apply", "strategic_merge_patch", "track_update"]
