"""From what the watch shows of a running execution to the cancel request its workflow sees.

The worker reads `spec.cancel` itself (its own watch, noticed within a second) rather than waiting
for the operator to move the phase to `cancelling`; it also honours those phases, in case the
request was made some other way. Requests only escalate (CancelToken ignores weaker ones).

- graceful → graceful: no new tasks, running ones finish;
- force → force: running tasks are cancelled too (abandoned after the grace period);
- kill, deletion → force here as well: the operator deletes the pod and ends the execution, but a
  pod shared with other running executions is not deleted, so this one's threads must stop anyway.
  The worker then finds the status final and writes nothing over it.
"""

from __future__ import annotations

from typing import Any

from conveyor.api.models import FINAL_PHASES, ExecutionPhase
from conveyor.workflows import CancelMode

_BY_SPEC = {"graceful": CancelMode.GRACEFUL, "force": CancelMode.FORCE, "kill": CancelMode.FORCE}
_BY_PHASE = {
    ExecutionPhase.CANCELLING.value: CancelMode.GRACEFUL,
    ExecutionPhase.FORCE_CANCELLING.value: CancelMode.FORCE,
    ExecutionPhase.KILL_CANCELLING.value: CancelMode.FORCE,
}
_FINAL = frozenset(phase.value for phase in FINAL_PHASES)


def requested_cancel(execution: dict[str, Any] | None) -> CancelMode | None:
    """The strongest cancel the object asks for; None (deleted) or final means stop everything."""
    if execution is None:
        return CancelMode.FORCE
    if (execution.get("metadata") or {}).get("deletionTimestamp"):
        return CancelMode.FORCE
    phase = (execution.get("status") or {}).get("phase")
    if phase in _FINAL:  # ended by the operator (kill, worker lost): nothing left to do here
        return CancelMode.FORCE
    wanted = [mode for mode in (_BY_SPEC.get((execution.get("spec") or {}).get("cancel") or ""),
                                _BY_PHASE.get(phase or "")) if mode is not None]
    if CancelMode.FORCE in wanted:
        return CancelMode.FORCE
    return wanted[0] if wanted else None
