"""Resume decisions and patches (conveyor.controller.resume)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from conveyor.controller.resume import RefuseResume, Resume, decide_resume, refusal_patch, resume_patch

NOW = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


def _execution(token: str | None, **status: Any) -> dict[str, Any]:
    annotations = {"conveyor.dev/resume": token} if token is not None else {}
    return {
        "metadata": {"name": "x", "namespace": "shop", "resourceVersion": "7", "annotations": annotations},
        "spec": {"deployment": "web", "workflow": "install"},
        "status": status,
    }


def test_a_failed_resumable_execution_resumes_as_the_next_attempt() -> None:
    decision = decide_resume(_execution("t", phase="failed", resumable=True, attempt=2))
    assert decision == Resume("t", 3)


def test_a_cancelled_resumable_execution_resumes() -> None:
    assert decide_resume(_execution("t", phase="cancelled", resumable=True)) == Resume("t", 2)


def test_a_token_already_acted_on_does_nothing() -> None:
    assert decide_resume(_execution("t", phase="failed", resumable=True, resumeToken="t")) is None


def test_no_annotation_does_nothing() -> None:
    assert decide_resume(_execution(None, phase="failed", resumable=True)) is None


def test_a_workflow_that_is_not_resumable_is_refused_in_the_error() -> None:
    decision = decide_resume(_execution("t", phase="failed", resumable=False))
    assert isinstance(decision, RefuseResume) and decision.set_error
    assert "not resumable" in decision.message and "@workflow(resumable=True)" in decision.message


def test_a_terminated_execution_is_refused_without_touching_its_error() -> None:
    decision = decide_resume(_execution("t", phase="terminated", resumable=True))
    assert isinstance(decision, RefuseResume) and not decision.set_error


def test_a_resume_clears_the_phase_and_keeps_the_succeeded_tasks() -> None:
    obj = _execution("t", phase="failed", resumable=True, succeededTasks=["first"], error="boom")
    patch = resume_patch(obj, Resume("t", 2), NOW)
    assert patch["metadata"] == {"resourceVersion": "7"}
    status = patch["status"]
    assert status["phase"] is None and status["error"] is None and status["attempt"] == 2
    assert status["resumeToken"] == "t" and "succeededTasks" not in status
    assert status["createdAt"] == "2026-01-02T03:04:05.678000Z"


def test_a_refusal_records_the_token_and_keeps_the_earlier_error() -> None:
    obj = _execution("t", phase="failed", resumable=False, error="boom")
    decision = decide_resume(obj)
    assert isinstance(decision, RefuseResume)
    status = refusal_patch(obj, decision)["status"]
    assert status["resumeToken"] == "t" and "boom" in status["error"] and "not resumable" in status["error"]
