"""The run-failure alert: a real failed Dagster run, sent to a local webhook and a local SMTP
server (threads on 127.0.0.1), and nothing sent while no channel is configured."""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import dagster as dg
import pytest

from pipelines.definitions import defs
from pipelines.defs.alerts.sensors import AlertError, run_failure_alert


@dg.op
def load_orders() -> None:
    raise dg.Failure("shopify/orders.csv: missing required column(s) 'Total'")


@dg.job
def broken_job() -> None:
    load_orders()


def failure_context() -> dg.RunFailureSensorContext:
    instance = dg.DagsterInstance.ephemeral()
    result = broken_job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    return dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert",
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(),
    ).for_run_failure()


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict]]]:
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook", received
    finally:
        server.shutdown()
        server.server_close()


class SmtpSink(socketserver.StreamRequestHandler):
    """Just enough SMTP to accept one message (RFC 5321 happy path)."""

    messages: list[str]

    def reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self) -> None:
        self.reply("220 sink")
        while line := self.rfile.readline().decode():
            verb = line[:4].upper()
            if verb == "DATA":
                self.reply("354 go on")
                data = []
                while (chunk := self.rfile.readline().decode()) not in (".\r\n", ""):
                    data.append(chunk)
                self.server.messages.append("".join(data))  # type: ignore[attr-defined]
                self.reply("250 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 ok")


@pytest.fixture
def smtp_sink() -> Iterator[tuple[int, list[str]]]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), SmtpSink)
    server.messages = []  # type: ignore[attr-defined]
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], server.messages  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def no_alert_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WEBHOOK_URL", "SMTP_HOST", "SMTP_PORT", "EMAIL_TO", "UI_URL", "SMTP_USER"):
        monkeypatch.delenv(f"SEGMENTS_ALERT_{name}", raising=False)


def test_the_sensor_is_part_of_the_code_location_and_on_by_default() -> None:
    sensor = defs.resolve_sensor_def("run_failure_alert")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_nothing_is_sent_until_a_channel_is_configured(webhook) -> None:
    _, received = webhook
    outcome = run_failure_alert(failure_context())
    assert isinstance(outcome, dg.SkipReason)
    assert "SEGMENTS_ALERT_" in (outcome.skip_message or "")
    assert received == []


def test_a_failed_run_is_posted_to_the_webhook(webhook, monkeypatch) -> None:
    url, received = webhook
    monkeypatch.setenv("SEGMENTS_ALERT_WEBHOOK_URL", url)
    monkeypatch.setenv("SEGMENTS_ALERT_UI_URL", "http://127.0.0.1:3000/")
    context = failure_context()
    run_failure_alert(context)
    assert len(received) == 1
    body = received[0]
    assert body["run_id"] == context.dagster_run.run_id and body["job"] == "broken_job"
    assert body["failures"] == [
        "step load_orders: shopify/orders.csv: missing required column(s) 'Total'"
    ]
    assert f"http://127.0.0.1:3000/runs/{context.dagster_run.run_id}" in body["text"]


def test_a_failed_run_is_e_mailed(smtp_sink, monkeypatch) -> None:
    port, messages = smtp_sink
    monkeypatch.setenv("SEGMENTS_ALERT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SEGMENTS_ALERT_SMTP_PORT", str(port))
    monkeypatch.setenv("SEGMENTS_ALERT_EMAIL_TO", "data-team@example.com, oncall@example.com")
    context = failure_context()
    run_failure_alert(context)
    assert len(messages) == 1
    mail = messages[0]
    assert f"Subject: [segments] run {context.dagster_run.run_id[:8]} of broken_job FAILED" in mail
    assert "To: data-team@example.com, oncall@example.com" in mail
    assert "missing required column(s) 'Total'" in mail


def test_an_unreachable_webhook_fails_the_tick_naming_the_setting(monkeypatch) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("SEGMENTS_ALERT_WEBHOOK_URL", f"http://127.0.0.1:{port}/hook")
    with pytest.raises(AlertError, match="SEGMENTS_ALERT_WEBHOOK_URL: POST failed"):
        run_failure_alert(failure_context())
