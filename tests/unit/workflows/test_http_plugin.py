"""`http.request` against a local http.server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from conveyor.plugins import http
from conveyor.workflows import (
    MemoryReporter,
    NonRecoverableError,
    OperationContext,
    RecoverableError,
    Task,
    TaskState,
    WorkflowContext,
    register_plugin,
    unregister_plugin,
)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/ok":
            self._reply(200, b"healthy")
        elif self.path == "/created":
            self._reply(201, b"")
        elif self.path == "/busy":
            self._reply(503, b"try later", {"Retry-After": "7"})
        else:
            self._reply(404, b"no such page")

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        payload = {"received": json.loads(self.rfile.read(length)), "type": self.headers["Content-Type"]}
        self._reply(200, json.dumps(payload).encode())


def serve(server: ThreadingHTTPServer) -> Iterator[str]:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def base_url() -> Iterator[str]:
    yield from serve(ThreadingHTTPServer(("127.0.0.1", 0), Handler))


@pytest.fixture
def op_ctx(ctx: WorkflowContext) -> OperationContext:
    return ctx.operation_context(Task("get", "get", "http.request", None, {}, 0, 0.0), attempt=1)


def test_expected_status_returns_the_response(op_ctx: OperationContext, base_url: str) -> None:
    response = http.request(op_ctx, f"{base_url}/ok")
    assert (response["status"], response["body"]) == (200, "healthy")


def test_expected_status_may_be_a_list(op_ctx: OperationContext, base_url: str) -> None:
    assert http.request(op_ctx, f"{base_url}/created", expected_status=[200, 201])["status"] == 201


def test_an_unexpected_status_is_non_recoverable(op_ctx: OperationContext, base_url: str) -> None:
    with pytest.raises(NonRecoverableError, match="returned 404, expected 200: no such page"):
        http.request(op_ctx, f"{base_url}/missing")


def test_service_unavailable_is_recoverable_after_retry_after(
    op_ctx: OperationContext, base_url: str
) -> None:
    with pytest.raises(RecoverableError) as failure:
        http.request(op_ctx, f"{base_url}/busy")
    assert failure.value.retry_after == 7.0


def test_json_body_is_sent_with_a_json_content_type(op_ctx: OperationContext, base_url: str) -> None:
    response = http.request(op_ctx, f"{base_url}/echo", method="POST", json={"replicas": 3})
    assert json.loads(response["body"]) == {"received": {"replicas": 3}, "type": "application/json"}


def test_connection_refused_is_recoverable(op_ctx: OperationContext) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        port = closed.getsockname()[1]
        with pytest.raises(RecoverableError, match="cannot connect"):
            http.request(op_ctx, f"http://127.0.0.1:{port}/ok", timeout=5)


def test_only_http_urls_are_accepted(op_ctx: OperationContext) -> None:
    with pytest.raises(NonRecoverableError, match="http:// or https://"):
        http.request(op_ctx, "file:///etc/passwd")


def test_a_refused_connection_is_retried_until_the_server_listens(
    ctx: WorkflowContext, reporter: MemoryReporter
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
    server.server_bind()  # the port is ours but refuses connections until server_activate()
    port = server.server_address[1]
    original = reporter.task_retrying

    def start_listening(task: Any, error: str, retry_in: float) -> None:
        original(task, error, retry_in)
        server.server_activate()

    reporter.task_retrying = start_listening  # type: ignore[method-assign]
    register_plugin("http", http)
    serving = serve(server)
    try:
        graph = ctx.graph()
        task = graph.add_task("http.request", {"url": f"http://127.0.0.1:{port}/ok"}, name="probe", retries=1)
        next(serving)
        graph.execute()
        assert task.state is TaskState.SUCCEEDED and task.attempts == 2
    finally:
        unregister_plugin("http")
        next(serving, None)
