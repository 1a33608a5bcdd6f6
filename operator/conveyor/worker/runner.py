"""One claimed execution, from its claim to its final status.

The workflow runs in a thread of its own (workflow code may block; the asyncio loop, which watches,
renews leases and writes status for every execution of the worker, must not), so forced executions
run side by side. What must hold:
- exactly one final status per attempt (S3), written after the Events and progress of the run, as a
  CAS; a status the operator already made final (kill, worker lost) is left as it is;
- a mapping that does not resolve, a module that fails to import, a missing Deployment or source
  end the execution `failed` with a message naming what is at fault;
- on a force cancel, a workflow thread that has not returned within the grace period (plus a
  margin for the framework's own abandoning of task threads) is abandoned: it is a daemon, the
  execution ends `cancelled`, and the worker goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from conveyor.api.models import FINAL_PHASES, ExecutionPhase, ExecutionSpec
from conveyor.api.names import EXECUTION
from conveyor.kube.api import KubeApi
from conveyor.kube.events import WORKER_COMPONENT, build_event
from conveyor.kube.times import parse_time
from conveyor.locks.api import ApiError, Conflict, NotFound
from conveyor.locks.leases import LeaseLocks
from conveyor.worker import events
from conveyor.worker.heartbeat import keep_renewed, lease_of
from conveyor.worker.logs import PrefixedLog
from conveyor.worker.plan import ExecutionPlan, PlanError, plan_execution
from conveyor.worker.report import ExecutionReporter
from conveyor.worker.settings import WorkerSettings
from conveyor.worker.source import SourceError, SourceFolder, load_source
from conveyor.worker.status import final_patch
from conveyor.workflows import CancelMode, CancelToken, WorkflowContext, WorkflowOutcome, run_workflow
from conveyor.workflows.decorator import WorkflowMappingError, workflow_spec

FINAL_WRITE_ATTEMPTS = 5
ABANDON_MARGIN_SECONDS = 2.0
"""After the grace period the framework abandons task threads and the workflow returns; this is how
much longer the worker waits for that before it abandons the workflow thread itself."""


@dataclass
class RunningExecution:
    """What the worker's loop knows of an execution it runs: enough to cancel it."""

    name: str
    token: CancelToken = field(default_factory=CancelToken)


def _failed(error: str) -> WorkflowOutcome:
    return WorkflowOutcome("failed", error=error)


class ExecutionRun:
    """Runs one claimed execution; `await run()` returns when its final status is written."""

    def __init__(
        self,
        api: KubeApi,
        locks: LeaseLocks,
        settings: WorkerSettings,
        log: PrefixedLog,
        claimed: dict[str, Any],
        running: RunningExecution,
    ) -> None:
        self._api = api
        self._locks = locks
        self._settings = settings
        self._claimed = claimed
        self._running = running
        self._loop = asyncio.get_running_loop()
        self.resumable: bool | None = None
        """Known once the workflow resolved; reported in the final status (a resume needs it)."""
        self.reporter = ExecutionReporter(
            api, claimed, self._loop, log, instance=settings.pod_name,
            progress_interval=settings.progress_interval,
        )

    @property
    def token(self) -> CancelToken:
        return self._running.token

    async def run(self) -> None:
        self.reporter.start()
        self.reporter.started(self._settings.pod_name)
        metadata = self._claimed["metadata"]
        self.reporter.line(
            f"started by worker {self._settings.pod_name}: workflow {self.reporter.workflow!r}"
        )
        heartbeat = asyncio.create_task(self._heartbeat())
        source: SourceFolder | None = None
        abandoned = False
        try:
            try:
                plan = await plan_execution(self._api, self._claimed, self._settings.operator_namespace)
                source = await load_source(
                    self._api, plan.source_namespace, plan.source_config_map, metadata["name"]
                )
            except (PlanError, SourceError) as error:
                outcome = self._never_started(str(error))
            except ApiError as error:
                outcome = self._never_started(f"reading the execution's deployment or source failed: {error}")
            else:
                self.reporter.mask(plan.secrets)
                if self._settings.force_grace_period is not None:
                    defaults = replace(plan.defaults, force_grace_period=self._settings.force_grace_period)
                    plan = replace(plan, defaults=defaults)
                outcome, abandoned = await self._run_thread(plan, source)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        if outcome.traceback:
            self.reporter.line(outcome.traceback)
        total, finished, succeeded = await self.reporter.close()
        await self._write_final(outcome, total, finished, succeeded)
        if source is not None and not abandoned:
            source.remove()

    def _never_started(self, error: str) -> WorkflowOutcome:
        """A failure before the workflow function was called: the Event run_workflow would have posted."""
        self.reporter.event(f"Workflow {self.reporter.workflow} failed: {error}", "error", {})
        return _failed(error)

    # ----- the workflow thread ------------------------------------------------------------------

    def _body(self, plan: ExecutionPlan, source: SourceFolder) -> WorkflowOutcome:
        """In the execution's thread: import the workflow (user code may block there too) and run it."""
        try:
            function = source.resolve(plan.mapping)
        except WorkflowMappingError as error:
            return self._never_started(str(error))
        spec = workflow_spec(function)
        self.resumable = bool(spec and spec.resumable)
        ctx = WorkflowContext(
            execution_name=self._running.name,
            workflow_name=plan.workflow,
            namespace=self._settings.namespace,
            deployment=plan.deployment,
            parameters=plan.parameters,
            reporter=self.reporter,
            dry_run=plan.dry_run,
            cancel_token=self.token,
            defaults=plan.defaults,
        )
        return run_workflow(function, ctx, plan.parameters)

    async def _run_thread(self, plan: ExecutionPlan, source: SourceFolder) -> tuple[WorkflowOutcome, bool]:
        """The outcome, and whether the thread was abandoned after a force cancel."""
        finished: asyncio.Future[WorkflowOutcome] = self._loop.create_future()
        forced = asyncio.Event()

        def deliver(outcome: WorkflowOutcome) -> None:
            if not finished.done():
                finished.set_result(outcome)

        def target() -> None:
            try:
                outcome = self._body(plan, source)
            except BaseException as error:  # run_workflow never raises; this is the last resort
                outcome = _failed(f"worker error: {type(error).__name__}: {error}")
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(deliver, outcome)

        def on_cancel(mode: CancelMode) -> None:
            if mode is CancelMode.FORCE:
                with contextlib.suppress(RuntimeError):
                    self._loop.call_soon_threadsafe(forced.set)

        remove = self.token.add_listener(on_cancel)
        thread = threading.Thread(target=target, name=f"execution:{self._running.name}", daemon=True)
        thread.start()
        try:
            waiter = asyncio.create_task(forced.wait())
            either: set[asyncio.Future[Any]] = {finished, waiter}
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if finished.done():
                return finished.result(), False
            grace = plan.defaults.force_grace_period + ABANDON_MARGIN_SECONDS
            try:
                return await asyncio.wait_for(asyncio.shield(finished), grace), False
            except TimeoutError:
                message = f"cancelled (force); the workflow did not stop within {grace:g}s and was abandoned"
                self.reporter.line(message)
                return WorkflowOutcome("cancelled", error=message), True
        finally:
            remove()

    # ----- lease and final status ---------------------------------------------------------------

    async def _heartbeat(self) -> None:
        spec = ExecutionSpec.model_validate(self._claimed.get("spec") or {})
        ref = lease_of(spec, self._claimed["metadata"]["namespace"], self._settings.operator_namespace)

        def lost() -> None:
            self.reporter.line(f"no longer holds lease {ref.namespace}/{ref.name}: stopping the workflow")
            self.token.request(CancelMode.FORCE)

        admitted = parse_time((self._claimed.get("status") or {}).get("admittedAt"))
        await keep_renewed(
            self._locks, ref, self._running.name, lost, self._settings.renew_interval, renewed_at=admitted
        )

    async def _write_final(
        self, outcome: WorkflowOutcome, total: int, finished: int, succeeded: list[str] | None
    ) -> None:
        """A CAS on the execution as this worker last wrote it (no read first: when nobody else
        wrote since, the checks below hold by construction), then on fresh reads; retried on
        conflicts, and a few times on API errors (after that the lease runs out and the operator
        ends it: `worker lost` is still one final status)."""
        metadata = self._claimed["metadata"]
        namespace, name = metadata["namespace"], metadata["name"]
        errors = 0
        known: dict[str, Any] | None = self.reporter.latest
        while True:
            try:
                if await self._try_final(namespace, name, outcome, total, finished, succeeded, known):
                    return
            except Conflict:
                known = None
                continue
            except (ApiError, OSError, TimeoutError) as error:
                known = None  # the write may have landed: look before writing again
                errors += 1
                if errors >= FINAL_WRITE_ATTEMPTS:
                    self.reporter.line(f"could not write the final status {outcome.status}: {error}")
                    return
                await asyncio.sleep(errors)  # back off: the API server is struggling

    async def _try_final(
        self, namespace: str, name: str, outcome: WorkflowOutcome, total: int, finished: int,
        succeeded: list[str] | None, known: dict[str, Any] | None = None,
    ) -> bool:
        current = known if known is not None else await self._api.get_execution(namespace, name)
        if current is None:
            self.reporter.line(f"{outcome.status}, but the Execution is gone: nothing to write")
            return True
        status = current.get("status") or {}
        phase = status.get("phase")
        if phase in {p.value for p in FINAL_PHASES}:
            self.reporter.line(f"{outcome.status}, but the operator already ended it {phase}")
            return True
        if status.get("worker") != self._settings.pod_name or phase == ExecutionPhase.PENDING.value:
            self.reporter.line(f"{outcome.status}, but the execution is no longer this worker's")
            return True
        patch = final_patch(
            current, outcome.status, datetime.now(UTC),
            error=self.reporter.masked(outcome.error) if outcome.error else outcome.error,
            traceback=self.reporter.masked(outcome.traceback) if outcome.traceback else outcome.traceback,
            total=total, finished=finished, succeeded_tasks=succeeded,
            resumable=self.resumable,
        )
        try:
            written = await self._api.patch_custom(
                EXECUTION.plural, namespace, name, patch, status=True, count_as="final"
            )
        except NotFound:
            return True
        self.reporter.line(f"ended {outcome.status}")
        await self._announce_end(written, outcome)
        return True

    async def _announce_end(self, written: dict[str, Any], outcome: WorkflowOutcome) -> None:
        """The final transition's Event: this worker wrote it, so it alone posts it (kube.events)."""
        message = self.reporter.masked(outcome.error or f"Workflow {self.reporter.workflow} {outcome.status}")
        event = build_event(
            written, events.end_reason(outcome.status), message, datetime.now(UTC),
            component=WORKER_COMPONENT, instance=self._settings.pod_name, warning=outcome.status == "failed",
        )
        try:
            await self._api.create_event(written["metadata"]["namespace"], event)
        except (ApiError, OSError, TimeoutError) as error:  # a report; the status is what counts
            self.reporter.line(f"the {event['reason']} Event was not posted: {error}")
